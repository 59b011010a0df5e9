"""Explicit per-layer learning rates: ``TrainConfig(layer_lrs={...})``."""

import json
import math

import pytest

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS
from helpers.multitask import MultiTaskModel
from helpers.train import read_config
from helpers.training import TrainConfig, train
from helpers.training.optim import layerwise_param_groups
from helpers.training.weighting import UncertaintyWeighting

# The tiny BERT has blocks 1 and 2 (top used layer T = 2).
RATES = {"embeddings": 1e-5, "1": 2e-5, "2": 3e-5, "heads": 1e-3}


@pytest.fixture
def model(tiny_model_dir):
    return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)


def rates_of(groups):
    return {g["name"]: g["lr"] for g in groups}


def test_rates_land_on_their_layers_heads_and_loss_weights(model):
    weighting = UncertaintyWeighting(model.task_names)
    groups, table = layerwise_param_groups(model, 1e-4, 1.0, 1e-3, layer_lrs=RATES,
                                           extra=weighting.named_parameters())
    expected = {"embeddings": 1e-5, "layer.1": 2e-5, "layer.2": 3e-5, "head:topic": 1e-3,
                "head:sentiment": 1e-3, "loss weights": 1e-3}
    for group in groups:
        assert group["lr"] == expected[group["name"].removesuffix(" (no decay)")]
    rate_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    for name, parameter in model.named_parameters():
        component = model.component(name)
        if component == "pooler":  # no pooling reads it: out of the optimiser, as before
            assert id(parameter) not in rate_of
        else:
            assert rate_of[id(parameter)] == expected[component], name
    assert all(rate_of[id(p)] == 1e-3 for p in weighting.parameters())
    assert table["lr"].to_dict() == rates_of(groups)  # the printed table shows these rates


def test_a_range_key_covers_every_block_in_it(model):
    groups, _ = layerwise_param_groups(model, 1e-4, layer_lrs={"embeddings": 1e-5,
                                                               "1-2": 5e-5, "heads": 1e-3})
    rate = rates_of(groups)
    assert rate["layer.1"] == rate["layer.2 (no decay)"] == 5e-5
    assert rate["embeddings"] == 1e-5


def test_default_path_is_unchanged(model):
    """layer_lrs=None: lr * decay ** (T - k) exactly as before, in the same order; and
    layer_lrs spelling out the same numbers gives the same groups."""
    assert TrainConfig().layer_lrs is None
    groups, table = layerwise_param_groups(model, 1e-4, 0.8, head_lr=1e-3)
    by_layer = {0: 1e-4 * 0.8 ** 2, 1: 1e-4 * 0.8 ** 1, 2: 1e-4 * 0.8 ** 0, 3: 1e-3}
    assert [g["lr"] for g in groups] == [by_layer[g["layer_id"]] for g in groups]
    assert [g["layer_id"] for g in groups] == sorted(g["layer_id"] for g in groups)
    same = {"embeddings": by_layer[0], "1": by_layer[1], "2": by_layer[2], "heads": 1e-3}
    explicit, explicit_table = layerwise_param_groups(model, 1e-4, layer_lrs=same)
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in groups] == \
        [(g["name"], g["lr"], g["weight_decay"]) for g in explicit]
    assert table.equals(explicit_table)


@pytest.mark.parametrize(("layer_lrs", "message"), [
    ({"layer3": 1e-4}, "layer_lrs key 'layer3' is not 'embeddings', 'heads', a block"),
    ({"3-1": 1e-4}, r"key '3-1' is not .* with A ≤ B"),
    ({"0": 1e-4}, "key '0' is not .* layer 0 is 'embeddings'"),
    ({"1-": 1e-4}, "key '1-' is not"),
    ({"embeddings": 0}, r"layer_lrs\['embeddings'\] must be a number > 0, got 0"),
    ({"heads": -1e-3}, r"layer_lrs\['heads'\] must be a number > 0, got -0.001"),
    ({"1": math.nan}, r"layer_lrs\['1'\] must be a number > 0, got nan"),
    ({"1": math.inf}, r"layer_lrs\['1'\] must be a number > 0, got inf"),
    ({"1": "1e-4"}, r"layer_lrs\['1'\] must be a number > 0, got '1e-4'"),
    ({"1": True}, r"layer_lrs\['1'\] must be a number > 0, got True"),
    ({"1-3": 1e-4, "3-4": 1e-4}, "block 3 is in both '1-3' and '3-4'"),
    ({"2": 1e-4, "1-6": 1e-4}, "block 2 is in both '2' and '1-6'"),
    ({}, "layer_lrs must be a non-empty dict"),
    ([("1", 1e-4)], "layer_lrs must be a non-empty dict"),
])
def test_bad_layer_lrs_are_named_when_the_config_is_built(layer_lrs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(layer_lrs=layer_lrs)


@pytest.mark.parametrize(("setting", "message"), [
    ({"lr": 1e-3}, "layer_lrs sets every rate, so lr=0.001 would be ignored"),
    ({"layer_decay": 0.8}, "so layer_decay=0.8 would be ignored"),
    ({"head_lr": 1e-2}, "so head_lr=0.01 would be ignored"),
    ({"head_lr": None}, "so head_lr=None would be ignored"),
])
def test_layer_lrs_excludes_the_other_rate_settings(setting, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(layer_lrs=RATES, **setting)
    TrainConfig(layer_lrs=RATES, lr=1e-4, layer_decay=1.0, head_lr=1e-3)  # defaults: fine


@pytest.mark.parametrize(("layer_lrs", "message"), [
    ({"embeddings": 1e-5, "1": 2e-5, "heads": 1e-3}, r"covers no rate for block 2 \("),
    ({"1-2": 2e-5, "heads": 1e-3}, "covers no rate for the embeddings"),
    ({"embeddings": 1e-5, "1-2": 2e-5}, "covers no rate for the heads"),
    ({"embeddings": 1e-5, "heads": 1e-3}, "covers no rate for block 1, block 2"),
    ({**RATES, "3": 1e-4}, r"key '3' names block 3, but the model uses the embeddings and "
                           r"blocks 1 … 2"),
    ({"embeddings": 1e-5, "1-4": 2e-5, "heads": 1e-3}, "key '1-4' names block 4"),
])
def test_coverage_is_checked_against_the_model(model, layer_lrs, message):
    TrainConfig(layer_lrs=layer_lrs)  # fine without a model
    with pytest.raises(ValueError, match=message):
        layerwise_param_groups(model, 1e-4, layer_lrs=layer_lrs)


def test_a_lower_pooled_layer_leaves_the_blocks_above_out(tiny_model_dir):
    lower = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, layer=1),
                           SENTENCE_TASKS)
    with pytest.raises(ValueError, match=r"key '2' names block 2, .* \(it pools layer 1\)"):
        layerwise_param_groups(lower, 1e-4, layer_lrs=RATES)
    groups, _ = layerwise_param_groups(lower, 1e-4, layer_lrs={"embeddings": 1e-5, "1": 2e-5,
                                                               "heads": 1e-3})
    assert "layer.2" not in rates_of(groups) and rates_of(groups)["layer.1"] == 2e-5


def test_json_config_reaches_the_optimiser(tmp_path, model):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"train": {"epochs": 1, "layer_lrs": RATES}}))
    config = TrainConfig(**read_config(path)["train"])
    groups, _ = layerwise_param_groups(model, config.lr, config.layer_decay, config.head_lr,
                                       layer_lrs=config.layer_lrs)
    assert rates_of(groups)["layer.1"] == 2e-5 and rates_of(groups)["head:topic"] == 1e-3
    path.write_text(json.dumps({"train": {"layer_lrs": {**RATES, "layer_decay": 0.8}}}))
    with pytest.raises(ValueError, match="key 'layer_decay' is not"):
        TrainConfig(**read_config(path)["train"])


@pytest.mark.parametrize("probe_epochs", [0, 1])
def test_training_with_layer_lrs(tiny_model_dir, small_data, probe_epochs):
    """Each group trains at its own rate (constant schedule, no warm-up: the step rates
    are the given ones); heads first (probe_lr) works alongside."""
    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, max_length=32),
                           SENTENCE_TASKS)
    config = TrainConfig(epochs=1, batch_size=8, progress=False, grad_conflict=False,
                         probe_epochs=probe_epochs, schedule="constant", warmup_ratio=0.0,
                         layer_lrs=RATES)
    history = train(model, small_data, config)
    assert len(history.epochs) == 1
    step = history.steps[-1]
    assert step["lr/embeddings"] == 1e-5 and step["lr/layer.1"] == 2e-5
    assert step["lr/layer.2 (no decay)"] == 3e-5 and step["lr/head:topic"] == 1e-3
