"""The usual mistakes in the steps of a logged series (TensorBoard's global_step, Visdom's x), told
apart by what they do to the right steps. A check says in its own lesson's words what to change;
this says only which mistake the steps show, and nothing when none fits exactly.

    advice = {StepMistake.ONE_TOO_FAR: "The steps start at 1: ..."}.get(step_mistake(found, expected))
"""
from enum import Enum


class StepMistake(Enum):
    ALL_AT_ZERO = "every point at step 0"
    RESTARTS_EVERY_EPOCH = "the count starts again at 0 every epoch"
    EPOCH_AS_STEP = "the epoch used as the step"
    ONE_TOO_FAR = "every step one too far (counted from 1)"
    ONE_TOO_SMALL = "every step one too small"


def step_mistake(found: list[float], expected: list[float], per_epoch: int = 1) -> StepMistake | None:
    """The mistake that turns `expected` into `found`, or None when they are equal or none does.

    `expected`: the right steps, counted from 0 across the epochs; `per_epoch`: how many steps one
    epoch spans (the batches of an epoch; 1 for a series logged once an epoch)."""
    if not found or found == expected:
        return None
    if all(step == 0 for step in found):
        return StepMistake.ALL_AT_ZERO
    if per_epoch > 1 and found == [step % per_epoch for step in expected]:
        return StepMistake.RESTARTS_EVERY_EPOCH
    if per_epoch > 1 and found == [step // per_epoch for step in expected]:
        return StepMistake.EPOCH_AS_STEP
    if found == [step + 1 for step in expected]:
        return StepMistake.ONE_TOO_FAR
    if found == [step - 1 for step in expected]:
        return StepMistake.ONE_TOO_SMALL
    return None
