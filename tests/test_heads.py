"""Per-task heads, the projection after pooling, truncated vectors and adding a task."""

import json

import pytest
import torch

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS, TaskSpec
from helpers.heads import HeadConfig
from helpers.multitask import CONFIG_FILE, MultiTaskModel

SENTENCES = ["The match went to penalties.", "Rates went up again.", "Lovely pasta."]
MIXED = {"topic": HeadConfig(hidden=(32, 16), layer_norm=True, dropout=0.2),
         "sentiment": "linear"}


@pytest.fixture
def mixed(tiny_model_dir):
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir)
    return MultiTaskModel(encoder, SENTENCE_TASKS, MIXED, projection_dim=8).eval()


def test_each_task_has_its_own_head_shape(mixed):
    assert [type(m).__name__ for m in mixed.heads["topic"]] == [
        "Dropout", "Linear", "LayerNorm", "GELU", "Dropout", "Linear", "LayerNorm", "GELU",
        "Dropout", "Linear"]
    assert [type(m).__name__ for m in mixed.heads["sentiment"]] == ["Dropout", "Linear"]
    assert mixed.heads["sentiment"][1].in_features == 8  # heads read the projection
    report = mixed.head_report()
    assert report.loc["topic", "head"] == "mlp [32, 16] + LayerNorm (dropout 0.2)"
    assert report.loc["sentiment", "parameters"] == 8 * 3 + 3
    assert mixed.parameter_report().loc["projection", "parameters"] == mixed.encoder.dim * 8 + 8


def test_mixed_heads_and_projection_round_trip(mixed, tmp_path):
    before = mixed.predict_probs(SENTENCES)
    mixed.save(tmp_path / "m")
    loaded = MultiTaskModel.load(tmp_path / "m")
    after = loaded.predict_probs(SENTENCES)
    for task in before:
        assert torch.equal(before[task], after[task])
    assert loaded.head_configs == mixed.head_configs
    assert torch.equal(loaded.encode(SENTENCES), mixed.encode(SENTENCES))
    card = (tmp_path / "m" / "README.md").read_text()
    assert "topic: mlp [32, 16] + LayerNorm" in card and "| projection | 8 |" in card
    from huggingface_hub import ModelCard

    metadata = ModelCard.load(tmp_path / "m" / "README.md").data  # the Hub reads this header
    assert metadata.library_name == "sentence-mtl" and "topic" in metadata.tags


def test_checkpoint_of_another_head_shape_is_refused(mixed, tmp_path):
    mixed.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    config["heads"]["topic"]["hidden"] = [64]
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config in \['head:topic'\] .*heads.topic.1.weight "
                                         r"\(32, 8\) vs \(64, 8\)"):
        MultiTaskModel.load(tmp_path / "m")


@pytest.mark.parametrize("head, message", [
    ({"topic": "linear"}, r"missing \['sentiment'\]"),
    ({"topic": "linear", "sentiment": "linear", "mood": "mlp"}, r"unknown \['mood'\]"),
    ({"topik": "linear"}, "neither the tasks"),
    ({"topic": {"hiden": [4]}, "sentiment": "linear"}, r"unknown key\(s\) \['hiden'\]"),
    ("deep", "unknown head 'deep'"),
])
def test_bad_head_settings_are_named(tiny_encoder, head, message):
    with pytest.raises(ValueError, match=message):
        MultiTaskModel(tiny_encoder, SENTENCE_TASKS, head)


@pytest.mark.parametrize("kwargs, message", [
    ({"hidden": 16}, "hidden must be a list"), ({"hidden": (0,)}, "hidden size"),
    ({"layer_norm": True}, "layer_norm needs hidden layers"),
    ({"dropout": 1.0}, "dropout must be in"),
    ({"layer_norm": "yes", "hidden": (4,)}, "True or False"),
])
def test_bad_head_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HeadConfig(**kwargs)


def test_bad_projection_dim(tiny_encoder):
    with pytest.raises(ValueError, match="projection_dim"):
        MultiTaskModel(tiny_encoder, SENTENCE_TASKS, projection_dim=0)


def test_truncated_vectors_are_the_first_coordinates_renormalised(mixed):
    full = mixed.encoder.encode(SENTENCES, convert_to="torch")
    short = mixed.encoder.encode(SENTENCES, dim=4, convert_to="torch")
    expected = torch.nn.functional.normalize(full[:, :4], dim=-1)
    assert torch.allclose(short, expected, atol=1e-6)
    assert mixed.encode(SENTENCES).shape == (3, 8)
    assert mixed.encode(SENTENCES, dim=2).norm(dim=-1).allclose(torch.ones(3))
    assert mixed.encode("One.").shape == (8,)
    for bad in (0, 9, 2.5):
        with pytest.raises(ValueError, match="dim must be an int from 1 to 8"):
            mixed.encode(SENTENCES, dim=bad)


def test_add_task_keeps_the_other_predictions(mixed):
    before = mixed.predict_probs(SENTENCES)
    mixed.add_task(TaskSpec("form", ("statement", "question")), "mlp")
    after = mixed.predict_probs(SENTENCES)
    assert set(after) == {"topic", "sentiment", "form"}
    for task in before:
        assert torch.equal(before[task], after[task])
    assert mixed.predict_frame(SENTENCES).columns[-2:].tolist() == ["form", "form p"]
    with pytest.raises(ValueError, match="already has a task 'form'"):
        mixed.add_task(TaskSpec("form", ("a", "b")))


def test_training_learns_the_projection_and_trains_only_the_named_tasks(mixed, small_data):
    from helpers import freeze
    from helpers.training import TrainConfig, train

    projection = mixed.projection.weight.detach().clone()
    sentiment = {k: v.clone() for k, v in mixed.heads["sentiment"].state_dict().items()}
    config = TrainConfig(epochs=1, batch_size=8, tasks=["topic"], probe_epochs=0,
                         grad_conflict=False, progress=False, metric="topic/accuracy")
    history = train(freeze(mixed, "backbone"), small_data, config)  # cached vectors
    assert not torch.equal(mixed.projection.weight, projection)
    assert all(torch.equal(v, mixed.heads["sentiment"].state_dict()[k])
               for k, v in sentiment.items())
    assert "train/sentiment/loss" not in history.steps[0]
    assert "validation/topic/accuracy" in history.epochs[0]


@pytest.mark.parametrize("tasks, message", [
    ("topic", "tasks must be a non-empty list"), ([], "tasks must be a non-empty list"),
])
def test_bad_train_tasks(tasks, message):
    from helpers.training import TrainConfig

    with pytest.raises(ValueError, match=message):
        TrainConfig(tasks=tasks)


def test_unknown_train_task_is_named(mixed, small_data):
    from helpers.training import TrainConfig, train

    with pytest.raises(ValueError, match="unknown task 'mood'"):
        train(mixed, small_data, TrainConfig(tasks=["mood"], progress=False))


def test_heads_from_json_style_dicts(tiny_encoder):
    model = MultiTaskModel(tiny_encoder, SENTENCE_TASKS,
                           {"topic": {"hidden": [8], "layer_norm": True}, "sentiment": "linear"})
    assert model.head_configs["topic"] == HeadConfig(hidden=(8,), layer_norm=True)
    assert model.head_configs["sentiment"] == HeadConfig()
