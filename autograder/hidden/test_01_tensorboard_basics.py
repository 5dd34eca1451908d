"""Hidden checks for lesson 01: the same contract as the public tests, on inputs the learner never
saw, so that code fitted to the public numbers (a hard-coded 5 batches per epoch, 4 epochs) fails."""
from watchtrain.artifacts.tensorboard import read_scalars, read_scalars_tree
from watchtrain.grading import exercise, expect_close, expect_equal, expect_writers_closed, fail, read_run

# 2 epochs of 7 batches, then 1 epoch of 1 batch: the step formula must use len(epoch_losses[0]).
SHAPES = ((2, 7), (1, 1))
HISTORY = [{"train_loss": 2.0 - 0.25 * e, "test_loss": 2.1 - 0.2 * e,
            "train_accuracy": 0.3 + 0.1 * e, "test_accuracy": 0.28 + 0.09 * e} for e in range(6)]


def _losses(epochs: int, batches: int) -> list[list[float]]:
    return [[round(1.5 - 0.01 * (epoch * batches + batch) + 0.001 * batch, 5) for batch in range(batches)]
            for epoch in range(epochs)]


@exercise("log_batch_losses")
def test_hidden_log_batch_losses_other_epoch_shapes(lesson, tmp_path):
    for epochs, batches in SHAPES:
        log_dir = tmp_path / f"logs_{epochs}x{batches}"
        losses = _losses(epochs, batches)
        lesson.log_batch_losses(str(log_dir), [list(row) for row in losses])
        scalars = read_run(read_scalars, log_dir,
                           what=f"Reading the scalars written for {epochs} epochs of {batches} batches.")
        if "Loss/train" not in scalars:
            fail(f"No 'Loss/train' scalars for {epochs} epochs of {batches} batches.", expected="Loss/train",
                 found=sorted(scalars) or "no scalar tags at all")
        points = scalars["Loss/train"]
        expect_equal([step for step, _ in points], list(range(epochs * batches)),
                     f"The steps for {epochs} epochs of {batches} batches",
                     advice="Compute batches_per_epoch from the data (len(epoch_losses[0])), never as a fixed number.")
        expect_close([value for _, value in points], [v for row in losses for v in row],
                     f"The values for {epochs} epochs of {batches} batches", tol=1e-6)
        expect_writers_closed(log_dir)


@exercise("log_train_and_test")
def test_hidden_log_train_and_test_six_epochs(lesson, tmp_path):
    log_dir = tmp_path / "logs"
    lesson.log_train_and_test(str(log_dir), [dict(metrics) for metrics in HISTORY])
    runs = read_run(read_scalars_tree, log_dir, what="Reading the runs written for six epochs of metrics.")
    curves = [("Loss_train", "Loss", "train_loss"), ("Loss_test", "Loss", "test_loss"),
              (".", "Accuracy/train", "train_accuracy"), (".", "Accuracy/test", "test_accuracy")]
    for run, tag, key in curves:
        points = runs.get(run, {}).get(tag)
        if points is None:
            fail(f"No {tag!r} curve in the run {run!r} for six epochs of metrics.",
                 expected=f"{run}: {tag}", found={name: sorted(tags) for name, tags in runs.items()})
        expect_equal([step for step, _ in points], list(range(len(HISTORY))), f"The steps of {tag!r} in {run!r}")
        expect_close([value for _, value in points], [metrics[key] for metrics in HISTORY],
                     f"The {tag!r} values in {run!r} for six epochs", tol=1e-6)
    expect_writers_closed(log_dir)
