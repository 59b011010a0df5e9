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
