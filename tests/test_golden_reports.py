"""Golden reports, as Exercism's test runner keeps `test/example-*/expected_results.json`: for a few
submissions, what the learner is told by each check (status, points, feedback) is compared with the
file committed in tests/golden/. A change to any of it shows up here as a diff to review; when the
change is meant, write the files again with `python tests/test_golden_reports.py` and commit them.
"""
import json
import re
import sys
from pathlib import Path

import pytest

from mutant_specs import find_mutants

COURSE = Path(__file__).resolve().parents[1]
GOLDEN = COURSE / "tests" / "golden"
MUTANTS = {mutant.id: mutant for mutant in find_mutants(COURSE / "tests" / "mutants")}
# name -> (lesson, what is submitted: the reference, the untouched stub, or a mutant's id)
EXAMPLES = {
    "01-reference": ("01_tensorboard_basics", "reference"),
    "01-stub": ("01_tensorboard_basics", "stub"),
    "01-steps_restart_each_epoch": ("01_tensorboard_basics", "01_tensorboard_basics/steps_restart_each_epoch"),
    "01-forgets_close": ("01_tensorboard_basics", "01_tensorboard_basics/forgets_close"),
    "05-logits_not_probabilities": ("05_pr_curves", "05_pr_curves/logits_not_probabilities"),
    "05-labels_stacked_not_concatenated": ("05_pr_curves", "05_pr_curves/labels_stacked_not_concatenated"),
}
# Examples whose `found:` line counts a trained network's outputs (how many logits fall in [0, 1]):
# a CPU with other vector instructions counts one more or one fewer, so their whole numbers are masked too.
COUNTS_OF_TRAINED_OUTPUTS = {"05-logits_not_probabilities"}


def submission(example: str, folder: Path) -> Path:
    lesson, what = EXAMPLES[example]
    source = {"reference": COURSE / "solutions", "stub": COURSE / "lessons"}.get(what)
    (folder / lesson).mkdir(parents=True)
    text = (source / lesson / "exercise.py").read_text(encoding="utf-8") if source else \
        MUTANTS[what].source(COURSE / "solutions")
    (folder / lesson / "exercise.py").write_text(text, encoding="utf-8")
    return folder


def learner_results(report: dict, folder: Path, example: str) -> list[dict]:
    """Each check's name, status, points and feedback, without what differs from run to run (paths,
    event files' names) or from machine to machine: the GPU twins, which run where there is one, and
    the numbers a trained network produced (decimals; whole numbers too in COUNTS_OF_TRAINED_OUTPUTS),
    which a CPU with other vector instructions computes a little differently (a `found:` line's
    logits, or how many of them fall in [0, 1])."""
    def steady(text: str) -> str:
        text = text.replace(str(folder), "<submission>")
        text = re.sub(r"events\.out\.tfevents\.[\w.-]+", "events.out.tfevents.<time>.<host>.<pid>", text)
        text = re.sub(r"/tmp/[^\s'\",)]+", "<tmp>", text)
        number, mask = (r"-?\d+(\.\d+)?", "<number>") if example in COUNTS_OF_TRAINED_OUTPUTS \
            else (r"-?\d+\.\d+", "<decimal>")
        return re.sub(r"(?m)^\s*found:.*$", lambda line: re.sub(number, mask, line[0]), text)

    return [{"name": test["name"], "status": test["status"], "points": test["points"],
             "max_points": test["max_points"], "feedback": steady(test["feedback"])}
            for lesson in report["lessons"] for test in lesson["tests"] if not test["name"].endswith("[cuda]")]


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_learner_is_told_what_the_golden_report_says(example, autograde, tmp_path):
    folder = submission(example, tmp_path / "submission")
    run = autograde(COURSE, submission=folder, lessons=[EXAMPLES[example][0]])
    golden = json.loads((GOLDEN / f"{example}.json").read_text(encoding="utf-8"))
    assert learner_results(run.report, folder, example) == golden, \
        f"the feedback of {example} changed; if that is meant, run `python tests/test_golden_reports.py` and commit"


if __name__ == "__main__":  # write the golden files again: python tests/test_golden_reports.py
    import tempfile

    from watchtrain.grading.runner import run_autograder

    for name, (lesson, _) in EXAMPLES.items():
        with tempfile.TemporaryDirectory(prefix="watchtrain-golden-") as scratch:
            folder = submission(name, Path(scratch) / "submission")
            report = run_autograder(COURSE, submission=folder, lessons=[lesson]).report
            (GOLDEN / f"{name}.json").write_text(json.dumps(learner_results(report, folder, name), indent=2,
                                                            ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote tests/golden/{name}.json", file=sys.stderr)
