"""One summary line per epoch: on in the command line, opt-in in the library."""

import pytest

from helpers.training import TrainConfig, train
from helpers.training.summary import summary_line, train_losses

from .test_engine import FAST, model_from


def test_the_line_names_each_tasks_loss_and_validation_metrics():
    steps = [{"epoch": 1, "train/topic/loss": 1.0, "train/sentiment/loss": 0.5},
             {"epoch": 1, "train/topic/loss": 0.5, "train/sentiment/loss": float("nan")},
             {"epoch": 2, "train/topic/loss": 9.0}]
    record = {"epoch": 1, "train/loss": 0.7, "validation/topic/accuracy": 0.9125,
              "validation/topic/macro_f1": 0.9, "validation/sentiment/accuracy": 0.75,
              "validation/mean/accuracy": 0.83, "weight/topic": 1.0}
    line = summary_line(record, train_losses(steps, 1), 3, 12.34, "validation")
    assert line == ("epoch 1/3  12.3 s | train loss topic 0.750 sentiment 0.500 | validation "
                    "topic acc 0.912 F1 0.900 · sentiment acc 0.750")


@pytest.mark.parametrize("on", [True, False])
def test_training_writes_one_line_per_epoch_when_asked(tiny_model_dir, small_data, capsys, on):
    config = TrainConfig(epochs=2, epoch_summary=on, **{**FAST, "probe_epochs": 3})
    train(model_from(tiny_model_dir), small_data, config)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch ")]
    if not on:
        assert lines == []  # the library is quiet unless asked; the probe never writes
        return
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("train loss topic" in line and "validation topic loss" in line and " acc " in line
               for line in lines), lines


def test_epoch_summary_must_be_a_flag():
    with pytest.raises(TypeError, match="epoch_summary must be True or False"):
        TrainConfig(epoch_summary="yes")
