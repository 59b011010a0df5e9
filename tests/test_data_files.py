"""The shipped data files: size, labels, splits, no near-duplicates, a fresh data card."""

import json
import re

import numpy as np
import pandas as pd

from helpers.data import (
    SENTENCE_TASKS,
    load_sts_pairs,
    read_challenge_frame,
    read_sentences_frame,
)
from helpers.datacard import CARD, card_tables, render_card

from .conftest import REPO

STOP_WORDS = frozenset("""a an the and or but if then so of to in on at by for with from as is
are was were be been being am do does did have has had i me my we our you your he she it its
they them their this that these those there here not no yes very just too also than more most
much many some any all each every what which who whom whose when where why how can could would
should will shall may might must up down out over under again once only own same such into
about after before while because until s t don didn doesn isn wasn weren won wouldn couldn
shouldn ll ve re d m o""".split())  # noqa: SIM905 (a word list reads best as prose)


def content_words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP_WORDS)


def closest(text: str, others: list[frozenset[str]]) -> float:
    """Highest content-word Jaccard similarity of ``text`` with any of ``others``."""
    words = content_words(text)
    return max(len(words & other) / len(words | other) for other in others)


def test_sts_pairs_cover_every_category():
    pairs = load_sts_pairs()
    assert len(pairs) >= 150
    assert pairs["score"].between(0, 5).all()
    assert set(pairs["category"]) == {
        "paraphrase", "partial_overlap", "same_topic", "negation", "unrelated"}


def test_sentences_labels_lengths_and_splits():
    frame = read_sentences_frame()
    for task in SENTENCE_TASKS:
        assert set(frame[task.name]) == set(task.labels)
    words = frame["text"].str.split().str.len()
    assert words.between(4, 40).all()
    sizes = frame["split"].value_counts()
    assert (sizes["train"], sizes["validation"]) == (735, 157)  # kept as they were
    assert sizes["test"] >= 1000
    cells = pd.crosstab([frame["topic"], frame["sentiment"]], frame["split"])
    assert (cells > 0).all().all()
    assert cells["test"].between(68, 69).all(), "the test split is balanced by topic x sentiment"
    assert not frame["text"].str.lower().duplicated().any()


def test_no_test_or_challenge_row_paraphrases_a_training_row():
    frame = read_sentences_frame()
    seen = [content_words(t) for t in frame[frame["split"] != "test"]["text"]]
    held_out = [*frame[frame["split"] == "test"]["text"], *read_challenge_frame()["text"]]
    too_close = [(text, round(score, 2)) for text in held_out
                 if (score := closest(text, seen)) >= 0.6]
    assert not too_close, f"content-word Jaccard ≥ 0.6 with train/validation: {too_close[:5]}"


def test_challenge_set_covers_its_categories():
    challenge = read_challenge_frame()
    assert len(challenge) >= 150
    counts = challenge["category"].value_counts()
    assert len(counts) >= 6 and counts.min() >= 15
    for task in SENTENCE_TASKS:
        assert set(challenge[task.name]) == set(task.labels)
    assert not set(challenge["text"]) & set(read_sentences_frame()["text"])


def _notebook_strings() -> list[str]:
    """Every string literal of a sentence's shape in the notebooks' code cells."""
    found = []
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                found += [s for s in re.findall(r'"([^"\n]{12,})"', source)
                          if len(s.split()) >= 4 and s[0].isupper()]
    widgets = (REPO / "helpers" / "widgets.py").read_text()
    found += [s for s in re.findall(r'"([^"\n]{12,})"', widgets)
              if len(s.split()) >= 4 and s[0].isupper() and s.rstrip()[-1] in ".!?"]
    return found


def test_demo_sentences_are_not_training_rows():
    train = read_sentences_frame().query("split == 'train'")["text"]
    seen = [content_words(t) for t in train]
    literals = _notebook_strings()
    assert len(literals) >= 10
    copied = [s for s in literals if s in set(train) or closest(s, seen) >= 0.6]
    assert not copied, f"demo sentences from (or close to) the training data: {copied}"


def test_no_near_duplicate_sentences(real_encoder):
    texts = list(read_sentences_frame()["text"])
    vectors = real_encoder.encode(texts, batch_size=64)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0)
    first, second = np.unravel_index(similarity.argmax(), similarity.shape)
    assert similarity.max() < 0.95, f"near-duplicates: {texts[first]!r} / {texts[second]!r}"


def test_data_card_tables_are_current():
    card = CARD.read_text()
    assert render_card(card, card_tables()) == card, (
        "data/README.md is stale: run `python -m helpers.datacard`")
