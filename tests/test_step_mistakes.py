"""watchtrain.grading.steps: the usual mistakes in a logged series' steps are told apart, and none
is named unless it fits the steps exactly."""
import pytest

from watchtrain.grading import StepMistake, step_mistake

BATCHES, EPOCHS = 4, 3
EVERY_BATCH = list(range(BATCHES * EPOCHS))
EVERY_SECOND_BATCH = [step for step in EVERY_BATCH if (step + 1) % 2 == 0]  # 1, 3, 5, ...


@pytest.mark.parametrize("found, expected, mistake", [
    ([0] * 12, EVERY_BATCH, StepMistake.ALL_AT_ZERO),
    ([0] * 5, EVERY_BATCH, StepMistake.ALL_AT_ZERO),  # too few as well: still all at 0
    ([b for _ in range(EPOCHS) for b in range(BATCHES)], EVERY_BATCH, StepMistake.RESTARTS_EVERY_EPOCH),
    ([1, 3, 1, 3, 1, 3], EVERY_SECOND_BATCH, StepMistake.RESTARTS_EVERY_EPOCH),
    ([e for e in range(EPOCHS) for _ in range(BATCHES)], EVERY_BATCH, StepMistake.EPOCH_AS_STEP),
    (list(range(1, 13)), EVERY_BATCH, StepMistake.ONE_TOO_FAR),
    ([0, 2, 4, 6, 8, 10], EVERY_SECOND_BATCH, StepMistake.ONE_TOO_SMALL),
    ([float(step) for step in range(1, 13)], [float(step) for step in EVERY_BATCH], StepMistake.ONE_TOO_FAR),  # Visdom's x
])
def test_each_usual_mistake_is_named(found, expected, mistake):
    assert step_mistake(found, expected, BATCHES) is mistake


@pytest.mark.parametrize("found, expected, per_epoch", [
    (EVERY_BATCH, EVERY_BATCH, BATCHES),            # right
    ([], EVERY_BATCH, BATCHES),                     # nothing logged: no step to judge
    ([0, 1, 2, 4, 5, 6], EVERY_BATCH, BATCHES),     # some other mistake
    (list(range(1, 12)), EVERY_BATCH, BATCHES),     # from 1, and one short: two mistakes, not one
    ([0, 0, 1, 1, 2, 2], list(range(6)), 1),        # once an epoch: there is no epoch to restart or to use
])
def test_no_mistake_is_named_unless_it_fits_exactly(found, expected, per_epoch):
    assert step_mistake(found, expected, per_epoch) is None
