"""The grader's loss recorder (watchtrain.grading.recording.RecordingLoss), as the learner's loop
meets it: the loss it returns must behave as the plain loss does, for torch and for the libraries
the lessons hand it to."""
import io
import pickle

import torch
from torch import nn
from wandb.util import get_full_typename, is_pytorch_tensor_typename

from watchtrain.grading.recording import RecordingLoss


def recorded_loss():
    criterion = RecordingLoss(nn.MSELoss())
    prediction = torch.tensor([[1.0], [2.0]], requires_grad=True)
    return criterion, criterion(prediction, torch.zeros(2, 1))


def test_the_loss_is_recorded_and_a_sum_with_its_graph_is_noticed():
    criterion, loss = recorded_loss()
    assert criterion.values == [2.5]
    assert not criterion.worker_record()["summed_with_graph"]
    running = 0.0
    running += loss.item()  # the right way: a number
    assert not criterion.worker_record()["summed_with_graph"]
    running = running + loss  # the leak: the graph of every loss kept in the sum
    assert criterion.worker_record()["summed_with_graph"]


def test_the_recorder_reads_as_the_loss_it_wraps():
    """criterion.reduction, as on the nn.CrossEntropyLoss the exercise promises (a validation loop
    that weighs each batch's mean by its size may ask)."""
    criterion = RecordingLoss(nn.CrossEntropyLoss(label_smoothing=0.1))
    assert (criterion.reduction, criterion.label_smoothing, criterion.ignore_index) == ("mean", 0.1, -100)
    assert isinstance(criterion.loss, nn.CrossEntropyLoss) and criterion.values == []


def test_wandb_takes_the_loss_for_a_torch_tensor():
    """wandb.log({"loss": loss}) with the tensor itself, as the W&B walkthrough writes it: W&B
    knows a tensor by its type's name, and a name it does not know is sent to JSON, which fails."""
    _, loss = recorded_loss()
    assert is_pytorch_tensor_typename(get_full_typename(loss))


def test_printed_or_formatted_the_loss_reads_as_the_plain_loss():
    """print(f"loss {loss:.3f}") works on a plain 0-d tensor, and must on this one."""
    _, loss = recorded_loss()
    assert f"{loss:.3f}" == "2.500"
    assert repr(loss) == str(loss) == "tensor(2.5000, grad_fn=<MseLossBackward0>)"


def test_saved_or_pickled_the_loss_is_a_plain_tensor():
    _, loss = recorded_loss()
    assert type(pickle.loads(pickle.dumps(loss))) is torch.Tensor
    buffer = io.BytesIO()
    torch.save(loss, buffer)
    buffer.seek(0)
    assert type(torch.load(buffer, weights_only=True)) is torch.Tensor
