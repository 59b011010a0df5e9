"""Layer-wise learning-rate groups and their schedules."""

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from helpers import SentenceEncoder, default_model_path
from helpers.data import SENTENCE_TASKS
from helpers.freezing import freeze
from helpers.multitask import MultiTaskModel
from helpers.training.optim import build_scheduler, layerwise_param_groups
from helpers.training.weighting import UncertaintyWeighting


@pytest.fixture
def model(tiny_model_dir):
    return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)


def test_every_trainable_parameter_in_exactly_one_group(model):
    weighting = UncertaintyWeighting(model.task_names)
    groups, table = layerwise_param_groups(model, 1e-4, 0.8, head_lr=1e-3,
                                           extra=weighting.named_parameters())
    seen = [id(p) for g in groups for p in g["params"]]
    pooler = {id(p) for n, p in model.named_parameters() if ".pooler." in n}
    expected = [*(p for p in model.parameters() if id(p) not in pooler),
                *weighting.parameters()]
    assert sorted(seen) == sorted(id(p) for p in expected)
    assert len(seen) == len(set(seen))
    assert table["parameters"].sum() == sum(p.numel() for p in expected)


def test_rates_decay_by_layer_and_no_decay_on_biases(model):
    groups, _ = layerwise_param_groups(model, 1e-4, decay=0.8, head_lr=1e-3, weight_decay=0.05)
    rate = {g["name"]: g["lr"] for g in groups}
    assert "pooler" not in rate  # no pooling mode reads it: not in the optimiser
    assert rate["layer.2"] == pytest.approx(1e-4)  # lr is the top used layer's rate
    assert rate["layer.1"] == pytest.approx(1e-4 * 0.8)
    assert rate["embeddings"] == pytest.approx(1e-4 * 0.8 ** 2)
    assert rate["head:topic"] == rate["head:sentiment (no decay)"] == 1e-3
    for group in groups:
        one_dimensional = all(p.ndim < 2 for p in group["params"])
        assert group["weight_decay"] == (0.0 if one_dimensional else 0.05)


@pytest.mark.parametrize("schedule", ["linear", "cosine", "constant"])
def test_schedules_keep_the_ratio_between_layers(model, schedule):
    groups, _ = layerwise_param_groups(model, 1e-4, decay=0.5)
    optimizer = torch.optim.AdamW(groups)
    scheduler = build_scheduler(optimizer, schedule, total_steps=20, warmup_steps=5)
    for _ in range(7):
        optimizer.step()
        scheduler.step()
        rates = {g["name"]: g["lr"] for g in optimizer.param_groups}
        assert rates["layer.1"] > 0
        assert rates["layer.1"] / rates["layer.2"] == pytest.approx(0.5)
        assert rates["embeddings"] / rates["layer.1"] == pytest.approx(0.5)


@pytest.mark.parametrize("model_type", ["bert", "distilbert", "roberta", "mpnet"])
def test_layer_naming_of_other_architectures(model_type):
    """BERT, DistilBERT, RoBERTa and MPNet (MiniLM is a BERT) map to the same layer ids;
    MPNet's relative attention bias, shared by the stack, belongs to the top layer."""
    sizes = {"bert": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=37),
             "distilbert": dict(dim=32, n_layers=2, n_heads=2, hidden_dim=37),
             "roberta": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=37),
             "mpnet": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=37)}[model_type]
    config = AutoConfig.for_model(model_type, vocab_size=30522, **sizes)
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    encoder = SentenceEncoder(AutoModel.from_config(config), tokenizer)
    model = MultiTaskModel(encoder, SENTENCE_TASKS)
    report = model.parameter_report()
    assert {"embeddings", "layer.1", "layer.2"} <= set(report.index)
    assert "layer.0" not in report.index and "layer.3" not in report.index
    groups, _ = layerwise_param_groups(model, 1e-4, decay=0.5)
    rate = {g["name"]: g["lr"] for g in groups}
    assert rate["layer.1"] / rate["layer.2"] == pytest.approx(0.5)
    freeze(model, "bottom:1")
    assert model.parameter_report().loc["layer.1", "trainable"] == 0


def test_bad_arguments(model):
    with pytest.raises(ValueError, match="need lr > 0 and 0 < decay"):
        layerwise_param_groups(model, 1e-4, decay=1.5)
    with pytest.raises(ValueError, match="unknown schedule 'step'"):
        build_scheduler(torch.optim.AdamW(model.parameters()), "step", 10, 1)


def test_pooling_a_lower_layer_leaves_the_layers_above_out(tiny_model_dir):
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir, layer=1)
    model = MultiTaskModel(encoder, SENTENCE_TASKS)
    assert model.unused_components() == {"pooler", "layer.2"}
    groups, _ = layerwise_param_groups(model, 1e-4, decay=0.5)
    rate = {g["name"]: g["lr"] for g in groups}
    assert "layer.2" not in rate and rate["layer.1"] == pytest.approx(1e-4)
    freeze(model, "none")
    assert model.parameter_report().loc["layer.2", "trainable"] == 0
