"""Where a model is wrong: class reports, top losses, challenge categories, layer drift."""

import copy

import numpy as np
import pandas as pd
import pytest
from datasets import Dataset

from helpers import MultiTaskModel, SentenceEncoder, TrainConfig, mistakes
from helpers.components import layer_drift
from helpers.data import SENTENCE_TASKS
from helpers.training import train


@pytest.fixture
def model(tiny_model_dir):
    return MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)


def test_class_report_has_a_row_per_label(model, small_data):
    report = mistakes.class_report(model, small_data["validation"], "sentiment")
    assert {"negative", "neutral", "positive", "macro avg"} <= set(report.index)
    assert list(report.columns) == ["precision", "recall", "f1-score", "support"]
    assert report.loc["macro avg", "support"] == 12


def test_top_losses_are_sorted_and_consistent(model, small_data):
    table = mistakes.top_losses(model, small_data["validation"], "topic", k=5)
    assert len(table) == 5 and table["loss"].is_monotonic_decreasing
    assert np.allclose(table["loss"], -np.log(table["p(true)"]), atol=0.01)
    assert set(table["text"]) <= set(small_data["validation"]["text"])


def test_category_comparison_pairs_the_same_sentences(model, small_data):
    rows = small_data["validation"].to_pandas()
    rows["category"] = ["a", "b"] * 6
    challenge = Dataset.from_pandas(rows)
    table = mistakes.category_comparison({"same": model, "copy": copy.deepcopy(model)},
                                         challenge, "topic")
    assert list(table.index) == ["a", "b"] and (table["sentences"] == 6).all()
    assert (table["copy − same"] == 0).all()  # identical models: difference exactly 0
    with pytest.raises(ValueError, match="expected two models"):
        mistakes.category_comparison({"one": model}, challenge, "topic")


def test_layer_drift_is_zero_before_training_and_grows_after(model, small_data):
    start = copy.deepcopy(model)
    assert (layer_drift(model, start, 2) == 0).all()
    train(model, small_data, TrainConfig(epochs=1, batch_size=8, lr=1e-3, progress=False,
                                         probe_epochs=0, grad_conflict=False))
    drift = layer_drift(model, start, 2)
    assert list(drift.index) == ["embeddings", "layer.1", "layer.2"]
    assert (drift > 0).all()


def test_conflict_probe_reports_mean_and_spread_over_batches(model, small_data):
    history = train(model, small_data, TrainConfig(epochs=1, batch_size=8, progress=False))
    record = history.epochs[0]
    assert -1 <= record["grad_conflict"] <= 1 and record["grad_conflict_sd"] >= 0
    frame = pd.DataFrame(history.epochs)
    assert "grad_conflict_sd" in frame

