"""TensorBoard logging through accelerate's trackers: what is written, and bad settings."""

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS
from helpers.multitask import MultiTaskModel
from helpers.training import TrainConfig, train
from helpers.training.tracking import PROJECT

FAST = dict(batch_size=8, progress=False, probe_epochs=0, grad_conflict=False)


def fresh_model(model_dir):
    return MultiTaskModel(SentenceEncoder.from_pretrained(model_dir, max_length=32),
                          SENTENCE_TASKS)


def read_scalars(directory) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(directory / PROJECT))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def test_steps_and_epochs_reach_tensorboard(tiny_model_dir, small_data, tmp_path):
    config = TrainConfig(epochs=2, log_with="tensorboard", logging_dir=str(tmp_path), **FAST)
    history = train(fresh_model(tiny_model_dir), small_data, config)
    scalars = read_scalars(tmp_path)
    steps = [row["step"] for row in history.steps]
    assert steps == [1, 2, 3, 4, 5, 6]  # 24 rows / batch 8, two epochs
    for tag in ("train/loss", "train/topic/loss", "lr/layer.2"):
        assert [step for step, _ in scalars[tag]] == steps, tag
        assert [value for _, value in scalars[tag]] == pytest.approx(
            [row[tag] for row in history.steps], rel=1e-6), tag
    accuracy = [row["validation/topic/accuracy"] for row in history.epochs]
    assert scalars["validation/topic/accuracy"] == [(3, pytest.approx(accuracy[0])),
                                                    (6, pytest.approx(accuracy[1]))]
    assert [step for step, _ in scalars["epoch/train/loss"]] == [3, 6]  # the epoch's mean
    assert {"validation/mean/accuracy", "weight/topic"} <= set(scalars)


def test_a_run_without_tracking_after_one_with(tiny_model_dir, small_data, tmp_path):
    tracked = TrainConfig(epochs=1, log_with="tensorboard", logging_dir=str(tmp_path), **FAST)
    train(fresh_model(tiny_model_dir), small_data, tracked)
    written = sorted(tmp_path.rglob("*"))
    history = train(fresh_model(tiny_model_dir), small_data, TrainConfig(epochs=1, **FAST))
    assert len(history.steps) == 3 and sorted(tmp_path.rglob("*")) == written


@pytest.mark.parametrize(("settings", "message"), [
    ({"log_with": "tensorbord", "logging_dir": "runs"},
     "unknown log_with 'tensorbord'; expected one of 'tensorboard'"),
    ({"log_with": "tensorboard"}, "log_with='tensorboard' needs logging_dir"),
    ({"logging_dir": "runs/tb"}, "logging_dir 'runs/tb' is set but log_with is None"),
])
def test_bad_tracking_settings_are_named_at_construction(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_missing_tensorboard_fails_before_training(monkeypatch, tmp_path):
    monkeypatch.setattr("helpers.training.tracking.is_tensorboard_available", lambda: False)
    config = TrainConfig(log_with="tensorboard", logging_dir=str(tmp_path), **FAST)
    with pytest.raises(ValueError, match=r"needs the tensorboard package: pip install"):
        train(None, None, config)  # checked before the model and data are looked at
