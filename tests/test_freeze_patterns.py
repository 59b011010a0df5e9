"""Freezing by parameter name: ``only:GLOB``, ``name:GLOB`` and the top-block feed-forward
recipe, on the tiny 2-block BERT (Hugging Face ``encoder.layer.1`` is its block 2)."""

import pytest
import torch

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS
from helpers.freezing import freeze, top_block_feed_forward, trainable_report
from helpers.lora import add_lora
from helpers.multitask import MultiTaskModel
from helpers.training import TrainConfig, train

TOP = "encoder.backbone.encoder.layer.1."
TOP_FF = {TOP + suffix for suffix in (
    "intermediate.dense.weight", "intermediate.dense.bias", "output.dense.weight",
    "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias")}
HEADS = {"heads.topic.1.weight", "heads.topic.1.bias",
         "heads.sentiment.1.weight", "heads.sentiment.1.bias"}


@pytest.fixture
def model(tiny_model_dir):
    return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)


def trainable(model):
    return {name for name, p in model.named_parameters() if p.requires_grad}


def test_only_keeps_exactly_the_matches_and_the_heads(model):
    freeze(model, "only:encoder.layer.1.output.*")  # without the model's prefix
    assert trainable(model) == {n for n in TOP_FF if ".output." in n} | HEADS
    freeze(model, f"only:{TOP}output.*")  # the full name gives the same
    assert trainable(model) == {n for n in TOP_FF if ".output." in n} | HEADS


def test_several_only_patterns_union_and_heads_follow_the_list(model):
    freeze(model, ["only:*.layer.1.intermediate.*", "only:*.layer.1.output.*",
                   "head:sentiment"])
    assert trainable(model) == TOP_FF | {"heads.topic.1.weight", "heads.topic.1.bias"}


def test_name_freezes_the_matches(model):
    freeze(model, ["name:*.attention.*", "embeddings"])
    names = trainable(model)
    assert names and not any(".attention." in n or ".embeddings." in n for n in names)
    assert names >= TOP_FF | HEADS
    assert not any(".pooler." in n for n in names)  # unused: frozen whatever the strategy


def test_bad_patterns_are_named(model):
    with pytest.raises(ValueError, match=r"'only:encoder\.layer\.9\.\*' matches no encoder "
                                         r"parameter; names look like 'encoder\.backbone\."):
        freeze(model, "only:encoder.layer.9.*")
    with pytest.raises(ValueError, match="'name:heads.*' matches no encoder parameter"):
        freeze(model, "name:heads.*")
    with pytest.raises(ValueError, match="'only:' has an empty pattern"):
        freeze(model, ["only:", "head:topic"])


@pytest.mark.parametrize("strategy", [["only:*.output.*", "gradual:2"],
                                      ["gradual:2", "name:*.output.*"]])
def test_gradual_with_patterns_is_refused(model, strategy):
    with pytest.raises(ValueError, match="gradual:N thaws whole layers"):
        freeze(model, strategy)


@pytest.mark.parametrize("strategy", [
    ["only:*.layer.1.*", "all"], ["backbone", "only:*.layer.1.*"],
    ["bottom:2", "only:*.layer.1.*"], ["only:*.output.*", "name:*.output.*"],
    "only:*.pooler.*",  # no pooling mode reads it
])
def test_only_that_keeps_nothing_trainable_is_refused(model, strategy):
    before = trainable(model)
    with pytest.raises(ValueError, match="keeps nothing trainable"):
        freeze(model, strategy)
    assert trainable(model) == before  # refused before anything changed


def test_patterns_cannot_thaw_the_weights_under_lora(model):
    add_lora(model, rank=2)
    before = trainable(model)
    for strategy in (top_block_feed_forward(model), ["name:*.lora_A.*"]):
        with pytest.raises(ValueError, match=r"under its LoRA adapters \(e\.g\. 'encoder\."):
            freeze(model, strategy)
    assert trainable(model) == before
    freeze(model, "only:*.layer.1.*.lora_*")  # adapters only: allowed
    assert trainable(model) == HEADS | {n for n, _ in model.named_parameters()
                                        if n.startswith(TOP) and ".lora_" in n}
    freeze(model, ["backbone", "name:*.lora_A.*"])
    assert not any(".lora_A." in n or ".base_layer." in n for n in trainable(model))


def test_trainable_report_counts_partial_components(model):
    freeze(model, top_block_feed_forward(model))
    sizes = dict(model.named_parameters())
    counts = trainable_report(model)["trainable"]
    assert counts["layer.2"] == sum(sizes[n].numel() for n in TOP_FF)
    assert 0 < counts["layer.2"] < trainable_report(model)["parameters"]["layer.2"]
    assert counts["layer.1"] == counts["embeddings"] == 0
    rows = trainable_report(model, by="parameter")
    assert set(rows.index[rows["trainable"]]) == TOP_FF | HEADS
    assert rows.loc[TOP + "output.dense.weight", "component"] == "layer.2"
    assert rows["parameters"].sum() == trainable_report(model)["parameters"]["total"]
    with pytest.raises(ValueError, match="unknown by 'name'"):
        trainable_report(model, by="name")


def test_top_block_feed_forward_follows_the_pooled_layer(tiny_model_dir, model):
    assert top_block_feed_forward(model) == ["only:encoder.layer.1.intermediate.*",
                                             "only:encoder.layer.1.output.*"]
    freeze(model, top_block_feed_forward(model))
    assert trainable(model) == TOP_FF | HEADS
    lower = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, layer=1),
                           SENTENCE_TASKS)
    assert top_block_feed_forward(lower)[0] == "only:encoder.layer.0.intermediate.*"
    embeddings_only = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, layer=0),
                                     SENTENCE_TASKS)
    with pytest.raises(ValueError, match="pools layer 0"):
        top_block_feed_forward(embeddings_only)


def test_training_moves_only_the_matched_encoder_weights(model, small_data):
    freeze(model, top_block_feed_forward(model))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(model, small_data, TrainConfig(epochs=1, batch_size=8, lr=1e-2, head_lr=1e-2,
                                         progress=False, grad_conflict=False,
                                         probe_epochs=0))
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved == TOP_FF | HEADS
