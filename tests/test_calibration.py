"""Calibration: ECE, reliability bins, temperature scaling."""

import numpy as np
import pytest
import torch

from helpers.calibration import expected_calibration_error, fit_temperature, reliability_bins


def calibrated_sample(rows: int = 20000, seed: int = 0):
    """Labels drawn from the very probabilities we report: calibrated by construction."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([0.5, 0.5, 0.5], size=rows)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    return probs, labels


def test_calibrated_probabilities_have_ece_near_zero():
    probs, labels = calibrated_sample()
    assert expected_calibration_error(probs, labels) < 0.015
    table = reliability_bins(probs, labels, bins=10)
    assert table["rows"].sum() == len(labels)
    assert np.allclose(table["accuracy"], table["confidence"], atol=0.05)


def test_temperature_fixes_over_confidence_and_keeps_every_prediction():
    probs, labels = calibrated_sample(seed=1)
    logits = np.log(probs) * 3.0  # three times too sharp: over-confident
    sharp = torch.tensor(logits).softmax(-1).numpy()
    temperature = fit_temperature(logits, labels)
    softened = torch.tensor(logits / temperature).softmax(-1).numpy()
    assert temperature == pytest.approx(3.0, rel=0.1)
    ece_sharp = expected_calibration_error(sharp, labels)
    assert expected_calibration_error(softened, labels) < ece_sharp / 3
    assert (softened.argmax(1) == sharp.argmax(1)).all()


@pytest.mark.parametrize(("probs", "labels", "message"), [
    (np.array([[0.5, 0.6]]), np.array([0]), "must be ≥ 0 and sum to 1"),
    (np.array([[0.5, 0.5]]), np.array([2]), "labels must be class ids 0..1"),
    (np.array([0.5, 0.5]), np.array([0]), "expected probabilities \\(n, classes\\)"),
    (np.zeros((0, 2)), np.zeros(0, dtype=int), "no rows to score"),
])
def test_bad_inputs_are_named(probs, labels, message):
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(probs, labels)


def test_bins_must_be_a_positive_int():
    probs, labels = calibrated_sample(100)
    with pytest.raises(ValueError, match="bins must be a positive int"):
        reliability_bins(probs, labels, bins=0)


def test_reliability_diagram_draws_a_line_per_variant():
    from helpers.plots import reliability_diagram

    probs, labels = calibrated_sample(500)
    table = reliability_bins(probs, labels)
    fig = reliability_diagram({"topic": {"before": table, "after": table},
                               "sentiment": {"before": table}})
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 3  # diagonal + two variants
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["calibrated", "before", "after"]


def test_model_temperature_softens_probabilities_and_survives_save(tiny_model_dir, tmp_path):
    from helpers import MultiTaskModel, SentenceEncoder
    from helpers.data import SENTENCE_TASKS

    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)
    sentence = ["The referee stopped the match in the rain."]
    before = model.predict_probs(sentence)["topic"]
    model.set_temperature("topic", 4.0)
    after = model.predict_probs(sentence)["topic"]
    assert after.argmax() == before.argmax() and after.max() < before.max()
    reloaded = MultiTaskModel.load(model.save(tmp_path / "saved"))
    assert reloaded.temperatures == {"topic": 4.0, "sentiment": 1.0}
    assert torch.allclose(reloaded.predict_probs(sentence)["topic"], after, atol=1e-6)
    with pytest.raises(ValueError, match="temperature must be a number > 0, got 0"):
        model.set_temperature("topic", 0)
    with pytest.raises(ValueError, match="unknown task 'topci'"):
        model.set_temperature("topci", 2.0)
