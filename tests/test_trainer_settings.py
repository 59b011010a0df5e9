"""Settings that cannot fail silently, the callback protocol and PCGrad."""

import math

import pytest
import torch
from datasets import DatasetDict

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS
from helpers.multitask import MultiTaskModel
from helpers.training import Callback, TrainConfig, train
from helpers.training.weighting import PCGradWeighting, project_conflicts

FAST = dict(batch_size=8, progress=False, grad_conflict=False)


def fresh_model(model_dir=None):
    return MultiTaskModel(SentenceEncoder.from_pretrained(model_dir, max_length=32),
                          SENTENCE_TASKS)


@pytest.mark.parametrize(("settings", "message"), [
    ({"metric": "mean_acuracy"}, r"unknown metric 'mean_acuracy'; expected TASK/KIND with "
                                 r"KIND one of loss, accuracy, macro_f1"),
    ({"metric": "mean/acuracy"}, "unknown metric 'mean/acuracy'"),
    ({"eval_split": None, "patience": 2}, "patience and checkpoint_dir choose epochs"),
    ({"eval_split": None, "checkpoint_dir": "x"}, "but eval_split is None"),
    ({"schedule": "step"}, "unknown schedule 'step'"),
    ({"loss_weighting": "pcgrad", "loss_weights": {"topic": 2.0}},
     "loss_weights apply to loss_weighting='fixed' only"),
    ({"lr": 0}, "lr must be a number > 0"),
    ({"head_lr": float("nan")}, "head_lr must be a number > 0"),
    ({"layer_decay": 0}, r"layer_decay must be in \(0, 1\]"),
    ({"patience": 0}, "patience must be a positive int"),
    ({"weight_decay": -0.1}, r"weight_decay must be in \[0, 1\)"),
])
def test_bad_settings_are_named_at_construction(settings, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TrainConfig(**settings)


def test_settings_checked_against_model_and_data(tiny_model_dir, small_data):
    model = fresh_model(tiny_model_dir)
    with pytest.raises(ValueError, match="metric 'intent/accuracy' names no task"):
        train(model, small_data, TrainConfig(metric="intent/accuracy", **FAST))
    no_validation = DatasetDict({"train": small_data["train"]})
    with pytest.raises(ValueError, match="eval_split 'validation' is not a split"):
        train(model, no_validation, TrainConfig(**FAST))
    history = train(model, no_validation, TrainConfig(epochs=1, eval_split=None, **FAST))
    assert history.best_epoch is None and "validation/mean/accuracy" not in history.epochs[0]
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train(model, small_data, {"epochs": 1})


class EventLog(Callback):
    """A user callback: logs every event and writes its own key into each row."""

    def __init__(self):
        self.events = []

    def on_train_begin(self, state):
        self.events.append("begin")

    def on_step_end(self, state):
        self.events.append(f"step {state.step}")
        state.history.steps[-1]["rows"] = len(state.batch["labels"]["topic"])

    def on_epoch_end(self, state):
        self.events.append(f"epoch {state.epoch}")
        state.record["seen"] = "validation/mean/accuracy" in state.record
        state.should_stop = state.epoch == 2  # a callback can end training

    def on_train_end(self, state):
        self.events.append("end")


def test_a_user_callback_sees_every_event(tiny_model_dir, small_data):
    log = EventLog()
    history = train(fresh_model(tiny_model_dir), small_data, TrainConfig(epochs=5, **FAST),
                    [log])
    assert log.events == ["begin", "step 1", "step 2", "step 3", "epoch 1",
                          "step 4", "step 5", "step 6", "epoch 2", "end"]
    assert [row["rows"] for row in history.steps] == [8] * 6
    assert [row["seen"] for row in history.epochs] == [True, True]


def test_pcgrad_projects_conflicting_gradients():
    """g1 = (1, 0), g2 = (−1, 1) conflict (g1·g2 = −1). PCGrad: g1' = g1 − (g1·g2/|g2|²) g2
    = (0.5, 0.5); g2' = g2 − (g2·g1/|g1|²) g1 = (0, 1); the update is their sum."""
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    combined = project_conflicts([g1, g2], torch.Generator().manual_seed(0))
    assert torch.allclose(combined, torch.tensor([0.5, 1.5]))
    agreeing = project_conflicts([g1, torch.tensor([1.0, 1.0])], torch.Generator())
    assert torch.allclose(agreeing, torch.tensor([2.0, 1.0]))  # no conflict: plain sum


def test_pcgrad_writes_the_projected_gradient_on_shared_parameters():
    shared = torch.nn.Parameter(torch.zeros(2))
    head = torch.nn.Parameter(torch.ones(()))
    losses = {"a": torch.dot(torch.tensor([1.0, 0.0]), shared) * head,
              "b": torch.dot(torch.tensor([-1.0, 1.0]), shared) + head}
    total = PCGradWeighting(["a", "b"]).backward(losses, [shared],
                                                   lambda t, **kw: t.backward(**kw))
    assert torch.allclose(shared.grad, torch.tensor([0.5, 1.5]))
    assert head.grad == pytest.approx(1.0)  # d(total)/d(head) at shared = 0: only "b"
    assert float(total.detach()) == pytest.approx(1.0)


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_pcgrad_trains_the_real_model_end_to_end(small_data):
    model = fresh_model()
    before = model.encoder.backbone.encoder.layer[5].output.dense.weight.detach().clone()
    history = train(model, small_data, TrainConfig(epochs=1, loss_weighting="pcgrad",
                                                   lr=1e-4, **FAST))
    assert all(math.isfinite(row["train/loss"]) for row in history.steps)
    after = model.encoder.backbone.encoder.layer[5].output.dense.weight
    assert not torch.equal(before, after)
    assert "validation/mean/accuracy" in history.epochs[0]
