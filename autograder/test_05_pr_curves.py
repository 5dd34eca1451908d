"""Lesson 05 autograder: precision-recall curves, recomputed from the same probabilities and labels.

Every curve's six rows (TP, FP, TN, FN, precision, recall at each threshold) are recomputed here
from the definition and compared with the event file. A wrong curve is matched against the
usual mistakes (predicted labels as the truth, logits as the scores) so the message says which.
"""
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard.summary import compute_curve

from watchtrain.artifacts.tensorboard import read_pr_curves
from watchtrain.data import CLASS_NAMES, first_images
from watchtrain.grading import (WatchedNet, call_explaining, call_once, exercise, expect, expect_close, expect_equal,
                                expect_tuple, expect_writers_closed, fail, read_run, run_once, type_name)
from watchtrain.models import Net

TEST_IMAGES, BATCH_SIZE = 200, 50
NUM_THRESHOLDS = 51  # not torch's default of 127, so a forgotten argument shows
ROWS = ("TP", "FP", "TN", "FN", "precision", "recall")
MIN_COUNT = 1e-7  # TensorBoard divides by max(this, count), so an empty class has precision 0, not NaN
PROBABILITY_TOLERANCE = 1e-5

CRASH_ADVICE = {  # a crash whose message holds a key fails with its advice (the lesson fixture)
    "name 'test_preds' is not defined": (
        "The classic tutorial's helper uses test_preds, which it never defines. The truth of class k's curve "
        "is whether each image IS of class k: labels == k (and the predictions are probs[:, k])."),
}

_SHAPES_DIFFER = ("add_pr_curve got a truth and predictions of different shapes: both hold one value per test image, "
                  "the truth labels == k and the predictions probs[:, k], column k.")


def _shape_crash_advice(lesson, device):
    """For call_explaining: add_pr_curve (or the indexing before it) refused what log_pr_curves gave
    it. What the learner's own class_probabilities returns says whether that is the cause."""
    def explain(message: str) -> str | None:
        indexed_a_list = "list indices must be integers or slices, not tuple" in message
        if not indexed_a_list and "weights should have the same shape as a" not in message:
            return None
        probs, labels = _learners_pair(lesson, device)
        if indexed_a_list:
            return ("Your class_probabilities returns the probabilities as a list, and probs[:, k] indexes a tensor. "
                    "Once it returns one tensor (its own checks say how), this curve follows."
                    if isinstance(probs, list) else None)
        if labels is not None and not isinstance(labels, torch.Tensor):
            kind = type_name(labels)
            return (f"{_SHAPES_DIFFER} Your class_probabilities returns the labels as a {kind}, so labels == k "
                    f"compares the whole {kind} with k and gives a single False, not one truth per image. Once it "
                    f"returns them as one tensor (its own checks say how), this curve follows.")
        if isinstance(labels, torch.Tensor) and labels.ndim == 2:
            return (f"{_SHAPES_DIFFER} Your class_probabilities returns labels stacked instead of concatenated, "
                    f"shape {tuple(labels.shape)} (batches, batch size), and labels == k keeps that shape. Once it "
                    f"returns one label per image (its own checks say how), this curve follows.")
        if isinstance(labels, torch.Tensor) and labels.shape == (TEST_IMAGES,):
            return (f"{_SHAPES_DIFFER} Your class_probabilities returns one label per image, so look at the "
                    f"predictions: probs[k] would be row k (the ten probabilities of one image).")
        return (f"{_SHAPES_DIFFER} Print the shape of each: probs[k] would be row k (the ten probabilities of one "
                f"image), and labels stacked instead of concatenated would be (batches, batch size).")
    return explain


def _learners_pair(lesson, device) -> tuple:
    """What the learner's class_probabilities returns, as (probs, labels) of any kind; (None, None)
    where it returns no pair."""
    try:
        result, _ = _called(lesson, device)
    except Exception:  # not started or broken: its own tests say so
        return None, None
    return tuple(result) if isinstance(result, (tuple, list)) and len(result) == 2 else (None, None)


@functools.lru_cache(maxsize=None)
def _test_set() -> tuple[torch.Tensor, torch.Tensor]:
    return first_images(False, TEST_IMAGES)


@functools.lru_cache(maxsize=None)
def _trained_weights() -> dict:
    """A briefly trained tutorial CNN, so that the curves look like a real model's: right and wrong guesses."""
    images, labels = first_images(True, 1280)
    torch.manual_seed(0)
    net = Net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(2):
        for start in range(0, len(images), 32):
            optimizer.zero_grad()
            F.cross_entropy(net(images[start:start + 32]), labels[start:start + 32]).backward()
            optimizer.step()
    return {name: value.clone() for name, value in net.state_dict().items()}


def _net(device: str) -> WatchedNet:
    net = WatchedNet()  # the tutorial's Net, noting how each forward pass ran
    net.load_state_dict(_trained_weights())
    return net.to(device)


def _loader() -> DataLoader:
    images, labels = _test_set()
    return DataLoader(TensorDataset(images.clone(), labels.clone()), batch_size=BATCH_SIZE)


def _reference_logits(device: str) -> torch.Tensor:
    net = _net(device).eval()
    with torch.no_grad():
        return torch.cat([net(images.to(device)).cpu() for images, _ in _loader()])


# class_probabilities

def _called(lesson, device):
    """The one call of class_probabilities that the checks read: (what it returned, the forward
    passes it made, as (training, autograd))."""
    def call():
        net = _net(device)
        return lesson.class_probabilities(net, _loader(), device), list(net.passes)
    return run_once((lesson.class_probabilities.key, device), call)


def _probabilities(lesson, device):
    result, _ = _called(lesson, device)
    # The contract asks for "a pair": a two-item list is one too, and unpacks the same way.
    probs, labels = expect_tuple(result, "class_probabilities", ("probs", "labels"), list_ok=True)
    if getattr(probs, "ndim", None) == 1 and getattr(labels, "ndim", None) == 2:
        fail("class_probabilities returns the labels first and the probabilities second.",
             expected="(probs, labels)", found=f"(a {tuple(probs.shape)} {type(probs).__name__}, "
                                               f"a {tuple(labels.shape)} {type(labels).__name__})",
             advice="Return the probabilities first and the labels second: return probs, labels.")
    if not (isinstance(probs, torch.Tensor) and isinstance(labels, torch.Tensor)):
        kinds = {type_name(probs), type_name(labels)}
        advice = None
        if "list" in kinds:
            advice = " ".join(_list_advice(name, value) for name, value in (("probs", probs), ("labels", labels))
                              if isinstance(value, list))
        elif "ndarray" in kinds:
            advice = "Return torch tensors, not numpy arrays: leave out .numpy()."
        fail("class_probabilities must return two tensors.", expected="(Tensor, Tensor)",
             found=f"({type_name(probs)}, {type_name(labels)})", advice=advice)
    return probs, labels


def _list_advice(name: str, value: list) -> str:
    if value and all(isinstance(item, torch.Tensor) for item in value):
        return f"{name} is a list of per-batch results, not one tensor: torch.cat({name}) joins them."
    return (f"{name} is a list of plain numbers, not a tensor: return the tensor itself, not a list made from it "
            f"(.tolist()).")


def _shape_advice(shape: tuple, what: str) -> str | None:
    """Why `what` (probs or labels) has this shape, when a usual mistake explains it."""
    batches = TEST_IMAGES // BATCH_SIZE
    per_image = (len(CLASS_NAMES),) if what == "probs" else ()
    if shape == (batches, BATCH_SIZE, *per_image):
        return f"torch.stack adds a dimension, one per batch: torch.cat({what}) joins the batches along dim 0."
    if shape == (BATCH_SIZE, *per_image):
        return (f"That is one batch only: append each batch's {what} to a list inside the loop, then torch.cat the "
                f"list once the loop is done.")
    if what == "probs" and shape == (len(CLASS_NAMES), TEST_IMAGES):
        return "The tensor is transposed: one row per image, one column per class."
    if what == "probs" and shape == (TEST_IMAGES,):
        return ("That is one number per image: keep the whole row of 10 probabilities (no max or argmax), "
                "F.softmax(net(images), dim=1).")
    if what == "labels" and shape in ((TEST_IMAGES, 1), (1, TEST_IMAGES)):
        return "Keep the labels one-dimensional, shape (N,), as the loader gives them."
    return None


@exercise("class_probabilities")
def test_class_probabilities_are_softmax_rows(lesson, device):
    probs, _ = _probabilities(lesson, device)
    expect_equal(tuple(probs.shape), (TEST_IMAGES, len(CLASS_NAMES)), "The shape of probs (images, classes)",
                 advice=_shape_advice(tuple(probs.shape), "probs"))
    expect_equal(probs.device.type, "cpu", "The device of probs", advice="Move each batch's result with .cpu().")
    logits = _reference_logits(device)
    found = probs.detach().float()
    row_sums = found.sum(dim=1)
    if not torch.allclose(row_sums, torch.ones_like(row_sums), atol=1e-4):
        advice = "Each row must be a probability distribution: F.softmax(net(images), dim=1)."
        if torch.allclose(found, logits, atol=PROBABILITY_TOLERANCE):
            advice = "These are the raw logits: apply F.softmax(net(images), dim=1) to turn them into probabilities."
        elif torch.allclose(found, _batchwise_softmax_over_images(logits), atol=PROBABILITY_TOLERANCE):
            advice = "The softmax ran over the batch (dim=0): use dim=1, across the 10 classes of each image."
        elif torch.allclose(found, torch.sigmoid(logits), atol=PROBABILITY_TOLERANCE):
            advice = ("A sigmoid squashes each logit on its own, so a row does not add up to 1: the softmax, "
                      "F.softmax(net(images), dim=1), shares 1 among the ten classes.")
        elif torch.allclose(found, F.log_softmax(logits, dim=1), atol=PROBABILITY_TOLERANCE):
            advice = "These are log-probabilities (log_softmax): use F.softmax(net(images), dim=1)."
        elif torch.allclose(found, 100 * F.softmax(logits, dim=1), atol=100 * PROBABILITY_TOLERANCE):
            advice = ("These are percentages: each row adds up to 100. Probabilities lie between 0 and 1: return "
                      "the softmax itself, without multiplying it by 100.")
        fail("Each row of probs must sum to 1.", expected=1.0, found=[round(float(s), 4) for s in row_sums[:8]],
             advice=advice)
    expected = F.softmax(logits, dim=1)
    difference = (found - expected).abs().max().item()
    if difference > PROBABILITY_TOLERANCE:
        image = int((found - expected).abs().amax(dim=1).argmax())
        advice = (f"The rows differ from image {image} on: row i is the softmax of net's outputs for the loader's "
                  f"i-th image (watchtrain hint 05).")
        if _same_rows_in_another_order(found, expected):
            advice = ("These are the right rows in another order: keep the loader's order, appending each batch's "
                      "rows after the previous batch's.")
        fail("probs must be the network's softmax probabilities, in loader order.",
             expected=f"within {PROBABILITY_TOLERANCE:g} of F.softmax(net(images), dim=1)",
             found=f"a difference of up to {difference:.3g}", advice=advice)


def _same_rows_in_another_order(found: torch.Tensor, expected: torch.Tensor) -> bool:
    distances = torch.cdist(found.double(), expected.double())
    return bool((distances.min(dim=1).values <= PROBABILITY_TOLERANCE).all())


def _batchwise_softmax_over_images(logits: torch.Tensor) -> torch.Tensor:
    return torch.cat([F.softmax(batch, dim=0) for batch in logits.split(BATCH_SIZE)])


@exercise("class_probabilities")
def test_class_probabilities_keep_labels_in_order_without_autograd(lesson, device):
    _, labels = _probabilities(lesson, device)
    _, passes = _called(lesson, device)
    _, expected = _test_set()
    expect_equal(tuple(labels.shape), (TEST_IMAGES,), "The shape of labels (one per image)",
                 advice=_shape_advice(tuple(labels.shape), "labels"))
    advice = None
    if labels.is_floating_point():
        advice = ("torch.Tensor(...) and .float() make floats: keep the loader's labels as they come (torch.cat of "
                  "the batches' labels), or build them with torch.tensor(..., dtype=torch.int64).")
    expect_equal(str(labels.dtype).removeprefix("torch."), "int64", "The dtype of labels (class indices)",
                 advice=advice)
    found = labels.detach().cpu().tolist()
    advice = "Return the true labels of the loader's batches, torch.cat'ed in order."
    if found == _reference_logits(device).argmax(dim=1).tolist():
        advice = "These are the network's predicted classes: return the true labels, the loader's second item."
    elif sorted(found) == sorted(expected.tolist()):
        advice = "These are the true labels in another order: keep the loader's order, batch after batch."
    expect_equal(found, expected.tolist(), "The labels, in the loader's order", advice=advice)
    expect(bool(passes), "class_probabilities never ran the network.", expected="a forward pass per batch", found=0,
           advice="The probabilities come from the network: net(images) for each batch, then the softmax.")
    training = sum(mode for mode, _ in passes)
    expect(not training, "The network must run in evaluation mode.", expected="net.training == False",
           found=f"{training} of {len(passes)} forward passes in training mode", advice="Call net.eval() first.")
    with_graph = sum(grad for _, grad in passes)
    expect(not with_graph, "The forward passes must run without autograd.",
           expected="torch.is_grad_enabled() == False", found=f"{with_graph} of {len(passes)} with autograd on",
           advice="Wrap the loop in `with torch.no_grad():`.")


# log_pr_curves

def _logged_curves(lesson, tmp_path_factory, device):
    def call(folder):
        log_dir = folder / "logs"
        call_explaining(lesson.log_pr_curves, str(log_dir), _net(device), _loader(), num_thresholds=NUM_THRESHOLDS,
                        device=device, explain=_shape_crash_advice(lesson, device))
        return log_dir
    log_dir = call_once((lesson.log_pr_curves.key, device), tmp_path_factory, "log_pr_curves", call)
    curves = read_run(read_pr_curves, log_dir, what="Reading the PR curves your code wrote to log_dir.")
    expected_tags = sorted(CLASS_NAMES)
    if sorted(curves) != expected_tags:
        advice = "Tag each curve with its class name, CLASS_NAMES[k], one add_pr_curve call per class."
        if curves and all(tag.isdigit() for tag in curves):
            advice = "The tags are class indices: use the class names, CLASS_NAMES[k]."
        elif len(curves) == len(CLASS_NAMES) and all(any(tag.endswith(name) for name in CLASS_NAMES) for tag in curves):
            advice = "The tags hold the class names and more: the tag is the class name alone, CLASS_NAMES[k]."
        elif len(curves) < len(CLASS_NAMES):
            advice = f"{len(curves)} of the {len(CLASS_NAMES)} classes have a curve: loop over all ten, k = 0 to 9."
        fail("There must be one PR curve per class, tagged with the class name.", expected=expected_tags,
             found=sorted(curves) or "no PR curves at all", advice=advice)
    single_steps = {tag: events[0].step for tag, events in curves.items() if len(events) == 1}
    if len(single_steps) == len(curves) and len(set(single_steps.values())) > 1:
        at_index = all(step == CLASS_NAMES.index(tag) for tag, step in single_steps.items())
        fail("Every PR curve must be at step 0.", expected={tag: 0 for tag in CLASS_NAMES},
             found={tag: single_steps[tag] for tag in CLASS_NAMES},
             advice=("Each curve is at its class's index: global_step=k gives every class a step of its "
                     "own. The curves are one picture of one network, so write them all at global_step=0."
                     if at_index else "The curves are at different steps: write every one at global_step=0."))
    for tag, events in curves.items():
        steps = [event.step for event in events]
        advice = f"Log each class's curve at step 0: global_step=0, not {steps[0]}." if len(steps) == 1 else (
            f"The curve was logged {len(steps)} times: log each class's curve once, with global_step=0.")
        if steps == [NUM_THRESHOLDS]:
            advice = (f"The step is {NUM_THRESHOLDS}, the num_thresholds you were given: passed fourth, without its "
                      f"name, it landed on add_pr_curve's fourth parameter, global_step (the order is tag, labels, "
                      f"predictions, global_step, num_thresholds). Pass both by name: global_step=0, "
                      f"num_thresholds=num_thresholds.")
        expect_equal(steps, [0], f"The steps of the PR curve {tag!r}", advice=advice)
    return log_dir, {tag: events[0] for tag, events in curves.items()}


@exercise("log_pr_curves")
def test_log_pr_curves_one_per_class(lesson, tmp_path_factory, device):
    log_dir, _ = _logged_curves(lesson, tmp_path_factory, device)
    expect_writers_closed(log_dir)


@exercise("log_pr_curves")
def test_log_pr_curves_respect_num_thresholds(lesson, tmp_path_factory, device):
    _, curves = _logged_curves(lesson, tmp_path_factory, device)
    for tag, curve in curves.items():
        advice = "Pass num_thresholds=num_thresholds to add_pr_curve."
        if curve.num_thresholds == 127:
            advice = ("127 is add_pr_curve's default: the num_thresholds argument was not passed on. "
                      "Pass num_thresholds=num_thresholds to add_pr_curve.")
        expect_equal(curve.num_thresholds, NUM_THRESHOLDS, f"The number of thresholds of the PR curve {tag!r}",
                     advice=advice)
        expect_equal(curve.tp.shape, (NUM_THRESHOLDS,), f"The number of points of the PR curve {tag!r}")


def _expected_curve(truth: np.ndarray, scores: np.ndarray, num_thresholds: int) -> np.ndarray:
    """The six rows of a PR curve, from the definition: at threshold i (of num_thresholds, evenly
    spaced over [0, 1]) a score counts as positive when floor(score * (num_thresholds - 1)) >= i,
    TensorBoard's bucketing (in float32, as scores are stored)."""
    buckets = np.floor(scores.astype(np.float32) * np.float32(num_thresholds - 1))
    positive = buckets[np.newaxis, :] >= np.arange(num_thresholds)[:, np.newaxis]
    tp = (positive & truth).sum(axis=1).astype(np.float64)
    fp = (positive & ~truth).sum(axis=1).astype(np.float64)
    fn, tn = truth.sum() - tp, (~truth).sum() - fp
    precision = tp / np.maximum(MIN_COUNT, tp + fp)
    recall = tp / np.maximum(MIN_COUNT, tp + fn)
    return np.stack([tp, fp, tn, fn, precision, recall])


def _stored(curve) -> np.ndarray:
    return np.stack([curve.tp, curve.fp, curve.tn, curve.fn, curve.precision, curve.recall]).astype(np.float64)


def _same(found: np.ndarray, expected: np.ndarray) -> bool:
    return found.shape == expected.shape and np.allclose(found, expected, rtol=1e-6, atol=1e-6)


def _learners_probabilities(lesson, device) -> torch.Tensor | None:
    """What the learner's class_probabilities returns, as a float tensor (of any shape), or None
    when it returns no such thing."""
    probs, _ = _learners_pair(lesson, device)
    try:
        return torch.as_tensor(probs).detach().cpu().float() if probs is not None else None
    except Exception:  # a list of tensors, say: its own tests say what is wrong
        return None


_YES_OR_NO = ("The scores are only 0 or 1 (a yes/no prediction: the predicted class, or a probability above a "
              "cut-off), so the curve has two points, not one per threshold. Pass the probability itself, "
              "probs[:, k]: the curve is drawn by moving the cut-off.")

_FROM_CLASS_PROBABILITIES = ("The curve is drawn from the probabilities your class_probabilities returns, and they "
                             "are not the softmax of the network's outputs: its own checks say what is wrong with "
                             "them. Once they are right, so is this curve.")


def _diagnosis(found: np.ndarray, k: int, labels: np.ndarray, probs: np.ndarray, logits: np.ndarray) -> str | None:
    """Which usual mistake gives exactly the logged curve, if one does (computed the way add_pr_curve would)."""
    predicted = probs.argmax(axis=1)
    softmax = F.softmax(torch.from_numpy(logits), dim=1).numpy()
    mistakes = (
        ("It was built from predicted labels instead of the truth: the truth of class k's curve is "
         "labels == k, not probs.argmax(dim=1) == k.", predicted == k, probs[:, k]),
        ("It was built from logits instead of probabilities: apply F.softmax(logits, dim=1) and pass probs[:, k]; "
         "TensorBoard drops every score outside [0, 1].", labels == k, logits[:, k]),
        ("It was built from predicted labels instead of the truth, and from logits instead of probabilities.",
         predicted == k, logits[:, k]),
        ("The softmax ran over the batch (dim=0): use F.softmax(logits, dim=1).", labels == k,
         _batchwise_softmax_over_images(torch.from_numpy(logits)).numpy()[:, k]),
        ("Every curve was scored with each image's largest probability, probs.max(dim=1): the network's "
         "confidence in whichever class it picked. Class k's curve needs probs[:, k], the probability of class k, "
         "also for the images where another class won.", labels == k, probs.max(axis=1)),
        (_YES_OR_NO, labels == k, (predicted == k).astype(np.float32)),
        (_YES_OR_NO, labels == k, (probs[:, k] > 0.5).astype(np.float32)),
        ("The scores went through a sigmoid, which squashes each logit on its own: the probabilities are the "
         "softmax across the ten classes, F.softmax(logits, dim=1).", labels == k,
         torch.sigmoid(torch.from_numpy(logits)).numpy()[:, k]),
        ("The scores are percentages, the softmax times 100: TensorBoard drops every score above 1. Pass the "
         "probabilities themselves, between 0 and 1.", labels == k, 100 * softmax[:, k]),
        ("The truth and the probabilities were passed the other way round: add_pr_curve(tag, labels, predictions, "
         "...) takes the truth first, labels == k, then the probabilities, probs[:, k].", probs[:, k],
         (labels == k).astype(np.float32)),
    )
    for advice, truth, scores in mistakes:
        if _same(found, compute_curve(truth, scores, num_thresholds=NUM_THRESHOLDS)):
            return advice
    return None


@exercise("log_pr_curves")
def test_log_pr_curves_match_the_truth_and_probabilities(lesson, tmp_path_factory, device):
    _, curves = _logged_curves(lesson, tmp_path_factory, device)
    logits = _reference_logits(device)
    reference = F.softmax(logits, dim=1)
    own = _learners_probabilities(lesson, device)
    # The learner's own probabilities when they are right (so that a last-bit rounding difference
    # cannot move a score across a threshold), else the reference.
    own_are_right = own is not None and own.shape == reference.shape and torch.allclose(
        own, reference, atol=PROBABILITY_TOLERANCE)
    probs = own if own_are_right else reference
    _, labels = _test_set()
    labels, probs, logits = labels.numpy(), probs.numpy(), logits.numpy()
    for k, name in enumerate(CLASS_NAMES):
        curve = curves[name]
        if curve.num_thresholds != NUM_THRESHOLDS:
            fail(f"The PR curve {name!r} has {curve.num_thresholds} thresholds, not {NUM_THRESHOLDS}.",
                 advice="Pass num_thresholds=num_thresholds to add_pr_curve.")
        found = _stored(curve)
        expected = _expected_curve(labels == k, probs[:, k], NUM_THRESHOLDS)
        if _same(found, expected):
            continue
        advice = _diagnosis(found, k, labels, probs, logits)
        counted = float(found[:4, 0].sum())  # TP + FP + TN + FN at the first threshold: the images it counts
        if own is not None and own.ndim and own.shape[0] != TEST_IMAGES and math.isclose(counted, own.shape[0],
                                                                                        abs_tol=0.5):
            advice = (f"The curve counts {own.shape[0]} images, as many as the rows your class_probabilities "
                      f"returns, not the {TEST_IMAGES} of the loader: it is drawn from what class_probabilities "
                      f"returns, and its own checks say what is wrong with it. Once it returns one row per image of "
                      f"the whole loader, this curve follows.")
        elif own is not None and not own_are_right and own.shape == reference.shape and _same(
                found, compute_curve(labels == k, own[:, k].numpy(), num_thresholds=NUM_THRESHOLDS)):
            advice = " ".join(filter(None, (advice, _FROM_CLASS_PROBABILITIES)))
        elif advice is None and not math.isclose(counted, TEST_IMAGES, abs_tol=0.5):
            advice = (f"The curve counts {counted:g} images, not the {TEST_IMAGES} the loader gives: build every "
                      f"curve from the probabilities of all the test images, one row per image.")
        elif advice is None:
            advice = (f"Class {k}'s curve compares labels == {k} (the truth) with probs[:, {k}] (the probability of "
                      f"class {k}).")
        row = next(i for i in range(len(ROWS)) if not _same(found[i], expected[i]))
        expect_close(found[row].tolist(), expected[row].tolist(),
                     f"The {ROWS[row]} row of the PR curve {name!r}, recomputed from labels == {k} and probs[:, {k}]",
                     tol=1e-6, advice=advice)
