"""MultiTaskModel: forward, predict, parameter report, save/load and its errors."""

import json

import pytest
import torch

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS, TaskSpec
from helpers.multitask import CONFIG_FILE, WEIGHTS_FILE, MultiTaskModel

SENTENCES = ["The match went to penalties.", "Rates went up again.", "Lovely pasta."]


@pytest.fixture
def model(tiny_model_dir):
    return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS,
                          head="mlp", hidden=16).eval()


def test_forward_returns_logits_per_task(model):
    batch = model.encoder.tokenize(SENTENCES)
    logits = model(**batch)
    assert {k: tuple(v.shape) for k, v in logits.items()} == {"topic": (3, 5),
                                                              "sentiment": (3, 3)}
    vectors = model.encoder(**batch)
    assert torch.allclose(model(vectors=vectors)["topic"], logits["topic"])


def test_predict_and_frame(model):
    results = model.predict(SENTENCES)
    assert len(results) == 3
    answer = results[0]["sentiment"]
    assert answer["label"] in SENTENCE_TASKS[1].labels
    assert sum(answer["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    assert answer["probs"][answer["label"]] == max(answer["probs"].values())
    frame = model.predict_frame(SENTENCES)
    assert list(frame.columns) == ["text", "topic", "topic p", "sentiment", "sentiment p"]
    assert model.predict([]) == []
    with pytest.raises(TypeError, match="item 1 is None"):
        model.predict(["fine", None])


def test_parameter_report_adds_up(model):
    report = model.parameter_report()
    assert list(report.index[:4]) == ["embeddings", "layer.1", "layer.2", "pooler"]
    assert not report.loc["pooler", "used"] and report.loc["pooler", "trainable"] == 0
    assert report.loc["total", "parameters"] == sum(p.numel() for p in model.parameters())
    assert report.loc["head:topic", "parameters"] == 32 * 16 + 16 + 16 * 5 + 5


def test_save_load_round_trip_is_exact(model, tmp_path):
    with torch.no_grad():  # make the heads non-trivial
        for parameter in model.heads.parameters():
            parameter.add_(torch.randn_like(parameter))
    batch = model.encoder.tokenize(SENTENCES)
    before = model(**batch)
    model.save(tmp_path / "saved")
    model.save(tmp_path / "saved")  # overwriting an existing save works too
    loaded = MultiTaskModel.load(tmp_path / "saved")
    after = loaded(**batch)
    for task in before:
        assert torch.equal(before[task], after[task])
    assert loaded.predict(SENTENCES) == model.predict(SENTENCES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]  # no staging left


def test_load_rejects_what_is_not_a_model(tmp_path, model):
    with pytest.raises(ValueError, match="is not a saved MultiTaskModel"):
        MultiTaskModel.load(tmp_path)
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    config["tasks"][1]["labels"] = ["bad", "good"]  # another label set than the weights
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="do not match this model's config.*shape mismatch"):
        MultiTaskModel.load(tmp_path / "m")


def test_checkpoint_from_another_model_is_rejected(tmp_path, model, tiny_model_dir):
    model.save(tmp_path / "a")
    other = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir),
                           [TaskSpec("topic", ("a", "b"))])
    other.save(tmp_path / "b")
    (tmp_path / "a" / WEIGHTS_FILE).write_bytes((tmp_path / "b" / WEIGHTS_FILE).read_bytes())
    with pytest.raises(ValueError, match="missing .*heads.sentiment"):
        MultiTaskModel.load(tmp_path / "a")


def test_interrupted_save_leaves_nothing_loadable(model, tmp_path, monkeypatch):
    import helpers.saving as saving

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(saving, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "half")
    assert list(tmp_path.iterdir()) == []


def test_bad_construction(tiny_encoder):
    with pytest.raises(ValueError, match="unknown head 'deep'"):
        MultiTaskModel(tiny_encoder, SENTENCE_TASKS, head="deep")
    with pytest.raises(ValueError, match="task names must be unique"):
        MultiTaskModel(tiny_encoder, [SENTENCE_TASKS[0], SENTENCE_TASKS[0]])
    with pytest.raises(TypeError, match="encoder must be a SentenceEncoder"):
        MultiTaskModel("bert", SENTENCE_TASKS)
