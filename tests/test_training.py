"""The training loop: determinism, missing labels, sampling, weighting, caching, checkpoints."""

import numpy as np
import pytest
import torch
from datasets import DatasetDict

from helpers import SentenceEncoder
from helpers.data import MISSING_LABEL, SENTENCE_TASKS
from helpers.freezing import freeze
from helpers.multitask import MultiTaskModel
from helpers.runtime import seed_everything
from helpers.training import TrainConfig, source_schedule, train
from helpers.training.mixture import LengthGroupedBatches, padding_share, training_loader
from helpers.training.weighting import UncertaintyWeighting, task_losses

FAST = dict(batch_size=8, progress=False)


def fresh_model(tiny_model_dir):
    seed_everything(0)
    return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)


def test_same_seed_same_history(tiny_model_dir, small_data):
    config = TrainConfig(epochs=2, layer_decay=0.8, **FAST)
    first = train(fresh_model(tiny_model_dir), small_data, config)
    second = train(fresh_model(tiny_model_dir), small_data, config)
    assert first.steps == second.steps and first.epochs == second.epochs
    assert len(first.steps) == 2 * 3  # 24 rows / batch 8, two epochs
    assert {"validation/topic/accuracy", "validation/sentiment/macro_f1",
            "validation/mean/accuracy", "train/loss", "grad_conflict"} <= set(first.epochs[0])
    assert {"train/loss", "train/topic/loss", "lr/layer.2"} <= set(first.steps[0])
    assert -1 <= first.epochs[0]["grad_conflict"] <= 1


def test_loss_ignores_missing_labels():
    logits = {"topic": torch.randn(4, 5), "sentiment": torch.randn(4, 3)}
    labels = {"topic": torch.tensor([1, MISSING_LABEL, 3, MISSING_LABEL]),
              "sentiment": torch.full((4,), MISSING_LABEL)}
    losses = task_losses(logits, labels)
    assert set(losses) == {"topic"}  # no labelled row: no loss, rather than NaN
    expected = torch.nn.functional.cross_entropy(logits["topic"][[0, 2]], torch.tensor([1, 3]))
    assert torch.allclose(losses["topic"], expected)
    changed = {"topic": logits["topic"].clone(), "sentiment": logits["sentiment"]}
    changed["topic"][1] += 100  # an unlabelled row cannot move the loss
    assert torch.allclose(task_losses(changed, labels)["topic"], expected)


def test_partly_labelled_rows_train(tiny_model_dir, small_data):
    train_part = small_data["train"].map(
        lambda row, i: {"sentiment": None if i % 2 else row["sentiment"]}, with_indices=True)
    data = DatasetDict({"train": train_part, "validation": small_data["validation"]})
    history = train(fresh_model(tiny_model_dir), data, TrainConfig(epochs=1, **FAST))
    assert np.isfinite(history.steps[-1]["train/loss"])


def test_one_data_set_per_task_with_sampling(tiny_model_dir, small_data):
    per_task = {"topic": small_data.remove_columns("sentiment"),
                "sentiment": DatasetDict({"train": small_data["train"].select(range(8))
                                          .remove_columns("topic"),
                                          "validation": small_data["validation"]
                                          .remove_columns("topic")})}
    history = train(fresh_model(tiny_model_dir), per_task,
                    TrainConfig(epochs=1, sampling="round_robin", **FAST))
    losses = [{k for k in row if k.endswith("/loss") and k != "train/loss"}
              for row in history.steps]
    assert losses[:2] == [{"train/topic/loss"}, {"train/sentiment/loss"}]
    assert "validation/topic/accuracy" in history.epochs[0]
    assert "validation/mean/accuracy" in history.epochs[0]


def test_source_sampling_schedules():
    assert source_schedule([100, 10], 4, "round_robin", 1.0, 0) == [0, 1, 0, 1]
    proportional = source_schedule([900, 100], 2000, "proportional", 1.0, 0)
    flattened = source_schedule([900, 100], 2000, "temperature", 100.0, 0)
    assert 0.85 < 1 - np.mean(proportional) < 0.95
    assert 0.45 < 1 - np.mean(flattened) < 0.55


def test_grouped_batches_cover_every_row_once_and_pad_less():
    lengths = np.random.default_rng(0).integers(5, 60, size=203).tolist()
    sampler = LengthGroupedBatches(lengths, batch_size=16, seed=3)
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        assert len(epoch) == len(sampler) == 13
        assert sorted(row for batch in epoch for row in batch) == list(range(203))
    assert first != second  # a new grouping each epoch
    assert list(LengthGroupedBatches(lengths, 16, seed=3)) == first  # seeded
    random = list(training_loader(lengths, list, 16, 3, "random").batch_sampler)
    assert padding_share(lengths, first) < padding_share(lengths, random) / 3
    with pytest.raises(ValueError, match="unknown batching 'sorted'"):
        TrainConfig(batching="sorted")


def test_uncertainty_weights_are_trained(tiny_model_dir, small_data):
    weighting = UncertaintyWeighting(["topic", "sentiment"])
    assert all(p.requires_grad for p in weighting.parameters())
    history = train(fresh_model(tiny_model_dir), small_data,
                    TrainConfig(epochs=2, loss_weighting="uncertainty", head_lr=0.05, **FAST))
    first, last = history.epochs[0], history.epochs[-1]
    assert first["weight/topic"] != pytest.approx(0.5)
    assert last["weight/topic"] != first["weight/topic"]


def test_cached_frozen_encoder_equals_uncached(tiny_model_dir, small_data):
    results = []
    for cache in (True, False):
        model = freeze(fresh_model(tiny_model_dir), "backbone")
        history = train(model, small_data, TrainConfig(epochs=2, head_lr=1e-2,
                                                       cache_frozen_encoder=cache, **FAST))
        results.append((history, model.heads.state_dict()))
    (cached, heads_a), (plain, heads_b) = results
    for row_a, row_b in zip(cached.steps, plain.steps, strict=True):
        assert row_a["train/loss"] == pytest.approx(row_b["train/loss"], abs=1e-5)
    for name in heads_a:
        assert torch.allclose(heads_a[name], heads_b[name], atol=1e-5)


def test_best_checkpoint_saved_and_restored(tiny_model_dir, small_data, tmp_path):
    model = fresh_model(tiny_model_dir)
    config = TrainConfig(epochs=3, metric="mean/loss", checkpoint_dir=str(tmp_path),
                         head_lr=0.05, **FAST)
    history = train(model, small_data, config)
    assert (tmp_path / "best" / "model.safetensors").is_file()
    losses = [row["validation/mean/loss"] for row in history.epochs]
    assert history.best_metric == min(losses)
    assert history.best_epoch == losses.index(min(losses)) + 1
    restored = MultiTaskModel.load(tmp_path / "best")
    for name, tensor in restored.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name


def test_early_stopping(tiny_model_dir, small_data):
    history = train(fresh_model(tiny_model_dir), small_data,
                    TrainConfig(epochs=10, lr=1e-9, head_lr=1e-9, patience=1,
                                metric="mean/accuracy", **FAST))
    assert history.stopped_early and len(history.epochs) < 10


def test_bad_config():
    with pytest.raises(ValueError, match="unknown sampling 'random'"):
        TrainConfig(sampling="random")
    with pytest.raises(ValueError, match="unknown loss_weighting 'gradnorm'"):
        TrainConfig(loss_weighting="gradnorm")
    with pytest.raises(ValueError, match="loss weights name unknown task"):
        from helpers.training.weighting import FixedWeighting
        FixedWeighting(["topic"], {"intent": 2.0})


def test_bf16_mixed_precision_after_a_full_precision_run(tiny_model_dir, small_data):
    """accelerate keeps process-wide state; switching precision in one kernel must work."""
    train(fresh_model(tiny_model_dir), small_data, TrainConfig(epochs=1, **FAST))
    history = train(fresh_model(tiny_model_dir), small_data,
                    TrainConfig(epochs=1, mixed_precision="bf16", grad_accumulation=2, **FAST))
    assert np.isfinite(history.epochs[0]["train/loss"])
    assert len(history.steps) == 2  # 3 batches, accumulated in pairs: 2 optimiser updates


def test_heads_first_then_fine_tuning_keeps_the_callers_freezing(tiny_model_dir, small_data):
    model = freeze(fresh_model(tiny_model_dir), "embeddings")
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    history = train(model, small_data, TrainConfig(epochs=1, probe_epochs=3, **FAST))
    assert {name: p.requires_grad for name, p in model.named_parameters()} == flags
    assert len(history.epochs) == 1  # the probe's epochs are not the run's
    plain = fresh_model(tiny_model_dir)
    train(plain, small_data, TrainConfig(epochs=1, probe_epochs=0, **FAST))
    probed = fresh_model(tiny_model_dir)
    train(probed, small_data, TrainConfig(epochs=1, probe_epochs=3, **FAST))
    assert not torch.equal(plain.heads["topic"][1].weight, probed.heads["topic"][1].weight)
    with pytest.raises(ValueError, match="probe_epochs must be an int >= 0, got -1"):
        TrainConfig(probe_epochs=-1)


def test_predictions_batched_by_length_come_back_in_dataset_order(tiny_model_dir, small_data):
    """Batches are formed shortest first (less padding); every row's logits must still be
    the ones that row gets alone, in the dataset's order."""
    from helpers.training import predict_labels

    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)
    rows = small_data["train"]
    found = predict_labels(model, rows, batch_size=5)
    for index in (0, 7, 23):
        alone = predict_labels(model, rows.select([index]))
        for task in ("topic", "sentiment"):
            assert torch.allclose(found[task]["logits"][index], alone[task]["logits"][0],
                                  atol=1e-5)
            assert found[task]["true"][index] == alone[task]["true"][0]
