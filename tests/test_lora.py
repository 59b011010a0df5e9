"""LoRA adapters through peft: what trains, merging back to a plain model, random init."""

import pytest
import torch

from helpers import SentenceEncoder, freeze
from helpers.data import SENTENCE_TASKS
from helpers.freezing import trainable_count
from helpers.lora import add_lora, has_lora, merge_lora
from helpers.multitask import MultiTaskModel
from helpers.training import TrainConfig, train

SENTENCES = ["The match went to penalties.", "Rates went up again.", "Lovely pasta."]


@pytest.fixture
def model(tiny_model_dir):
    return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)


def test_only_adapters_and_heads_train(model, small_data):
    add_lora(model, rank=2)  # snapshot after: peft renames adapted weights to ….base_layer.*
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert any(".base_layer." in n for n in weights)
    report = model.parameter_report()
    adapters = report.loc["adapters", "trainable"]
    assert adapters == report.loc["adapters", "parameters"] > 0
    heads = sum(p.numel() for p in model.heads.parameters())
    assert trainable_count(model.parameters()) == adapters + heads
    assert freeze(model, "backbone").parameter_report().loc["adapters", "trainable"] == adapters
    assert freeze(model, "all").parameter_report().loc["adapters", "trainable"] == 0
    freeze(model, "backbone")
    train(model, small_data, TrainConfig(epochs=1, batch_size=8, probe_epochs=0, head_lr=1e-2,
                                         grad_conflict=False, progress=False))
    after = dict(model.named_parameters())
    moved = {n for n, p in after.items() if n in weights and not torch.equal(p, weights[n])}
    # the encoder's own weights (adapted ones included) stay; adapters and heads move
    assert moved and all(n.startswith("heads.") or model.component(n) == "adapters"
                         for n in moved)
    assert not any(".base_layer." in n for n in moved)
    assert any(model.component(n) == "adapters" and p.abs().sum() > 0
               for n, p in after.items() if "lora_B" in n)  # B starts at 0 and has learned


def test_merge_gives_a_plain_model_that_predicts_the_same(model, tmp_path):
    add_lora(model, rank=2)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.1)  # an update that changes the output
    model.eval()
    before = model.predict_probs(SENTENCES)
    merge_lora(model)
    assert not has_lora(model)
    after = model.predict_probs(SENTENCES)
    for task in before:
        assert torch.allclose(before[task], after[task], atol=1e-5)
    model.save(tmp_path / "merged")
    reloaded = MultiTaskModel.load(tmp_path / "merged").predict_probs(SENTENCES)
    assert torch.allclose(reloaded["topic"], after["topic"], atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"rank": 0}, "rank"), ({"dropout": 1.5}, "dropout"),
    ({"targets": ["no_such_module"]}, r"targets \['no_such_module'\] match no module"),
])
def test_bad_lora_settings(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        add_lora(model, **kwargs)


def test_lora_twice_is_refused(model):
    add_lora(model, rank=2)
    with pytest.raises(ValueError, match="already has LoRA"):
        add_lora(model)


def test_random_init_keeps_the_architecture_not_the_weights(tiny_model_dir):
    pretrained = SentenceEncoder.from_pretrained(tiny_model_dir)
    torch.manual_seed(1)
    random = SentenceEncoder.from_pretrained(tiny_model_dir, pretrained=False)
    assert random.dim == pretrained.dim and random.num_layers == pretrained.num_layers
    word = "backbone.embeddings.word_embeddings.weight"
    assert not torch.equal(dict(random.named_parameters())[word],
                           dict(pretrained.named_parameters())[word])
