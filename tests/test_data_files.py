"""The shipped data files: size, labels, splits, no near-duplicates, a fresh data card."""

import numpy as np
import pandas as pd

from helpers.data import SENTENCE_TASKS, load_sts_pairs, read_sentences_frame
from helpers.datacard import CARD, label_table, render_card


def test_sts_pairs_cover_every_category():
    pairs = load_sts_pairs()
    assert len(pairs) >= 150
    assert pairs["score"].between(0, 5).all()
    assert set(pairs["category"]) == {
        "paraphrase", "partial_overlap", "same_topic", "negation", "unrelated"}


def test_sentences_labels_lengths_and_splits():
    frame = read_sentences_frame()
    assert len(frame) >= 1000
    for task in SENTENCE_TASKS:
        assert set(frame[task.name]) == set(task.labels)
    assert frame["topic"].nunique() >= 4
    words = frame["text"].str.split().str.len()
    assert words.between(4, 40).all()
    shares = frame["split"].value_counts(normalize=True)
    assert abs(shares["train"] - 0.70) < 0.02
    assert abs(shares["validation"] - 0.15) < 0.02 and abs(shares["test"] - 0.15) < 0.02
    # stratified: every topic x sentiment cell appears in every split
    assert (pd.crosstab([frame["topic"], frame["sentiment"]], frame["split"]) > 0).all().all()
    assert not frame["text"].str.lower().duplicated().any()


def test_no_near_duplicate_sentences(real_encoder):
    texts = list(read_sentences_frame()["text"])
    vectors = real_encoder.encode(texts, batch_size=64)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0)
    first, second = np.unravel_index(similarity.argmax(), similarity.shape)
    assert similarity.max() < 0.95, f"near-duplicates: {texts[first]!r} / {texts[second]!r}"


def test_data_card_label_table_is_current():
    card = CARD.read_text()
    assert render_card(card, label_table(read_sentences_frame())) == card, (
        "data/README.md is stale: run `python -m helpers.datacard`")
