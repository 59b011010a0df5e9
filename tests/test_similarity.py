import numpy as np
import pandas as pd
import pytest

from helpers.data import check_pairs
from helpers.similarity import cosine_matrix, nearest_neighbours


def test_cosine_matrix_and_neighbours():
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    matrix = cosine_matrix(corpus)
    assert matrix.shape == (3, 3)
    assert np.allclose(np.diag(matrix), 1.0)
    index, score = nearest_neighbours(np.array([[1.0, 0.1]]), corpus, k=5)
    assert index.tolist() == [[0, 2, 1]]  # k capped at the corpus size
    assert np.all(np.diff(score[0]) <= 0)


def test_pairs_need_their_columns():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['score'\]"):
        check_pairs(pd.DataFrame({"sentence1": ["a"], "sentence2": ["b"]}))
    with pytest.raises(ValueError, match="empty"):
        check_pairs(pd.DataFrame(columns=["sentence1", "sentence2", "score"]))
    with pytest.raises(ValueError, match="k must be a positive int"):
        nearest_neighbours(np.ones((1, 2)), np.ones((2, 2)), k=0)


def test_spearman_by_category_has_intervals_around_each_value():

    from helpers.similarity import spearman_by_category

    rng = np.random.default_rng(0)
    pairs = pd.DataFrame({"sentence1": ["a"] * 60, "sentence2": ["b"] * 60,
                          "score": rng.uniform(0, 5, 60), "category": ["x", "y"] * 30})
    exact = pairs["score"].to_numpy() * 2  # same order as the gold scores
    table = spearman_by_category(pairs, exact, resamples=200)
    assert list(table.index) == ["all pairs", "x", "y"]
    assert (table["spearman"] == 100).all() and (table["ci_low"] <= table["spearman"]).all()
    with pytest.raises(ValueError, match="need one cosine per pair \\(60\\)"):
        spearman_by_category(pairs, exact[:5])
