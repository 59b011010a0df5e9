"""Freezing strategies: counts per component, frozen stays frozen, gradual unfreezing."""

import pytest
import torch

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS
from helpers.freezing import GradualUnfreezer, freeze, trainable_report
from helpers.multitask import MultiTaskModel
from helpers.training import GradualUnfreezing, TrainConfig, train


@pytest.fixture
def model(tiny_model_dir):
    return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)


def trainable(model):
    return trainable_report(model)["trainable"].to_dict()


def sizes(model):
    return model.parameter_report()["parameters"].to_dict()


@pytest.mark.parametrize(("strategy", "frozen"), [
    ("none", set()),
    ("all", {"embeddings", "layer.1", "layer.2", "head:topic", "head:sentiment"}),
    ("backbone", {"embeddings", "layer.1", "layer.2"}),
    ("embeddings", {"embeddings"}),
    ("bottom:1", {"embeddings", "layer.1"}),
    ("gradual:3", {"embeddings", "layer.1", "layer.2"}),
    ("head:sentiment", {"head:sentiment"}),
    (["embeddings", "head:topic"], {"embeddings", "head:topic"}),
])
def test_trainable_counts_match_component_sizes(model, strategy, frozen):
    freeze(model, strategy)
    counts, full = trainable(model), sizes(model)
    frozen = frozen | {"pooler"}  # no pooling mode reads it: frozen whatever the strategy
    for component in full:
        if component == "total":
            continue
        expected = 0 if component in frozen else full[component]
        assert counts[component] == expected, component
    assert counts["total"] == sum(full[c] for c in full if c not in frozen and c != "total")


def test_unknown_strategies_list_the_valid_ones(model):
    with pytest.raises(ValueError, match="unknown strategy 'layers'; expected one of none, all"):
        freeze(model, "layers")
    with pytest.raises(ValueError, match="unknown task in 'head:intent'"):
        freeze(model, "head:intent")
    with pytest.raises(ValueError, match="asks for 5 layers but the encoder has 2"):
        freeze(model, "bottom:5")
    with pytest.raises(ValueError, match="'gradual:0' needs a step count"):
        freeze(model, "gradual:0")
    with pytest.raises(ValueError, match="more than one gradual:N"):
        freeze(model, ["gradual:2", "gradual:3"])


def test_training_with_nothing_trainable_says_so(model):
    from helpers.data import load_sentences

    freeze(model, "all")
    with pytest.raises(ValueError, match="nothing to train: every parameter of the model is "
                                         "frozen"):
        train(model, load_sentences(), TrainConfig(epochs=1, progress=False))


def test_frozen_parameters_unchanged_and_without_gradient(model, small_data):
    freeze(model, ["bottom:1", "head:topic"])  # embeddings and block 1 (module layer.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train(model, small_data, TrainConfig(epochs=1, batch_size=8, lr=1e-2, head_lr=1e-2,
                                         progress=False, grad_conflict=False))
    for name, parameter in model.named_parameters():
        frozen = name.startswith(("encoder.backbone.embeddings",
                                  "encoder.backbone.encoder.layer.0.", "heads.topic"))
        if frozen:
            assert torch.equal(parameter, before[name]), name
            assert parameter.grad is None, name
    moved = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert any(n.startswith("encoder.backbone.encoder.layer.1.") for n in moved)
    assert any(n.startswith("heads.sentiment") for n in moved)


def test_gradual_unfreezing_one_layer_per_stage_top_first(model):
    unfreezer = GradualUnfreezer(model, every=2, unit="step")
    unfreezer.start()
    assert trainable(model)["layer.1"] == 0 and trainable(model)["head:topic"] > 0
    history = []
    for step in range(1, 9):
        thawed = unfreezer.maybe_advance("step", step)
        history.append(thawed)
        counts = trainable(model)
        history.append(tuple(c for c in ("layer.2", "layer.1", "embeddings") if counts[c] > 0))
    assert history == [
        None, (), "layer.2", ("layer.2",), None, ("layer.2",),
        "layer.1", ("layer.2", "layer.1"), None, ("layer.2", "layer.1"),
        "embeddings", ("layer.2", "layer.1", "embeddings"), None,
        ("layer.2", "layer.1", "embeddings"), None, ("layer.2", "layer.1", "embeddings"),
    ]
    assert unfreezer.stages().to_dict("list") == {"after step": [2, 4, 6],
                                                  "thaws": ["layer.2", "layer.1", "embeddings"]}


def test_gradual_unfreezing_inside_training(model, small_data):
    callback = GradualUnfreezing(model, every=1, unit="epoch")
    history = train(model, small_data, TrainConfig(epochs=2, batch_size=8, progress=False,
                                                   grad_conflict=False), [callback])
    assert [row.get("unfrozen") for row in history.epochs] == ["layer.2", "layer.1"]


def test_gradual_strategy_through_the_one_parser(model, small_data):
    """``gradual:N`` is a strategy like the others: freeze() starts it, training thaws it."""
    from helpers.experiments import unfreezing_callbacks

    freeze(model, "gradual:2")
    assert trainable(model)["layer.2"] == 0
    callbacks = unfreezing_callbacks(model, "gradual:2")
    history = train(model, small_data, TrainConfig(epochs=1, batch_size=8, progress=False,
                                                   grad_conflict=False), callbacks)
    assert [row.get("unfrozen") for row in history.steps] == [None, "layer.2", None]
    assert unfreezing_callbacks(model, "bottom:1") == []
