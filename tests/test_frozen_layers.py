"""Frozen bottom layers computed once: the cached run trains exactly as the uncached one."""

import pytest
import torch

from helpers import SentenceEncoder
from helpers.components import frozen_depth
from helpers.data import SENTENCE_TASKS
from helpers.experiments import unfreezing_callbacks
from helpers.freezing import freeze
from helpers.lora import add_lora
from helpers.multitask import MultiTaskModel
from helpers.runtime import seed_everything
from helpers.training import TrainConfig, train
from helpers.training.frozen_layers import PrefixCache, encoder_depth_frozen, set_train_mode

FAST = dict(batch_size=8, progress=False, grad_conflict=False, head_lr=1e-2, lr=1e-3)


def tiny_model(tiny_model_dir):
    seed_everything(0)
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir)
    return MultiTaskModel(encoder, SENTENCE_TASKS)


def trained(model, data, strategy, cache):
    model = freeze(model, strategy)
    history = train(model, data, TrainConfig(epochs=2, cache_frozen_encoder=cache, **FAST),
                    unfreezing_callbacks(model, strategy))
    return history, model.state_dict()


@pytest.mark.parametrize("strategy", ["embeddings", "bottom:1", "gradual:2", "lora"])
def test_cached_prefix_trains_as_uncached(tiny_model_dir, small_data, strategy, monkeypatch):
    read = []
    original = PrefixCache.inputs
    monkeypatch.setattr(PrefixCache, "inputs",
                        lambda self, batch, depth: read.append(depth) or original(self, batch,
                                                                                  depth))
    runs = []
    for cache in (True, False):
        model = tiny_model(tiny_model_dir)
        if strategy == "lora":
            model = add_lora(model, rank=2)
        runs.append(trained(model, small_data, "backbone" if strategy == "lora" else strategy,
                            cache))
    (cached, weights_a), (plain, weights_b) = runs
    expected = {"embeddings": [0] * 6, "bottom:1": [1] * 6, "gradual:2": [2, 2, 1, 1, 0, 0],
                "lora": [0] * 6}
    assert read == expected[strategy]  # the cached run read the cache at every step
    assert len(cached.steps) == len(plain.steps) == 6
    for row_a, row_b in zip(cached.steps, plain.steps, strict=True):
        assert row_a["train/loss"] == pytest.approx(row_b["train/loss"], abs=1e-5)
    for name, tensor in weights_a.items():
        assert torch.allclose(tensor, weights_b[name], atol=1e-5), name
    assert cached.epochs[-1]["validation/mean/accuracy"] == pytest.approx(
        plain.epochs[-1]["validation/mean/accuracy"])


def test_cache_holds_the_frozen_depth_only(tiny_model_dir, small_data):
    model = freeze(tiny_model(tiny_model_dir), "bottom:1")
    assert encoder_depth_frozen(model) == 1
    cache = PrefixCache.build(model.encoder, small_data["train"]["text"][:5], [1])
    assert set(cache.states) == {1} and len(cache.states[1]) == 5
    tokens = model.encoder.token_counts(small_data["train"]["text"][:5])
    assert [state.shape for state in cache.states[1]] == [(n, 32) for n in tokens]


def test_frozen_prefix_runs_without_dropout(tiny_model_dir):
    model = freeze(tiny_model(tiny_model_dir), "bottom:1")
    set_train_mode(model)
    backbone = model.encoder.backbone
    assert not backbone.embeddings.training and not backbone.encoder.layer[0].training
    assert backbone.encoder.layer[1].training and model.heads.training


def test_frozen_depth_counts_from_the_bottom():
    def named(*trainable):
        names = ["x.embeddings.w", "x.encoder.layer.0.w", "x.encoder.layer.1.w",
                 "x.encoder.layer.1.attention.query.lora_A.w", "x.pooler.w"]
        return [(n, torch.nn.Parameter(torch.zeros(1), requires_grad=n in trainable))
                for n in names]

    assert frozen_depth(named(), 2) == 2
    assert frozen_depth(named("x.encoder.layer.1.w"), 2) == 1
    assert frozen_depth(named("x.encoder.layer.1.attention.query.lora_A.w"), 2) == 1
    assert frozen_depth(named("x.encoder.layer.0.w", "x.encoder.layer.1.w"), 2) == 0
    assert frozen_depth(named("x.embeddings.w"), 2) == -1


def test_blocks_from_checks_its_layers(tiny_model_dir):
    encoder = tiny_model(tiny_model_dir).encoder
    hidden, mask = torch.zeros(1, 3, 32), torch.ones(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="layers 2 → 1 are not within 0 … 2"):
        encoder.blocks_from(hidden, mask, 2, 1)
    int8 = SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8")
    with pytest.raises(ValueError, match="cannot continue from a hidden state"):
        int8.blocks_from(hidden, mask, 0)
