"""The packaged all-MiniLM-L6-v2 through our encoder matches sentence-transformers."""

import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer

from helpers import default_model_path
from helpers.similarity import sts_spearman

from .conftest import DATA

pytestmark = pytest.mark.slow  # the real packaged model


def test_matches_sentence_transformers(real_encoder):
    pairs = pd.read_csv(DATA / "sts_pairs.csv")
    sentences = list(dict.fromkeys([*pairs["sentence1"], *pairs["sentence2"]]))
    sentences.append("word " * 400)  # longer than max_length: both truncate at 256 tokens
    assert len(sentences) >= 200
    reference = SentenceTransformer(str(default_model_path()), device="cpu")
    expected = reference.encode(sentences, batch_size=32, normalize_embeddings=True)
    ours = real_encoder.encode(sentences, batch_size=32)
    cosines = (ours * expected).sum(axis=1)
    assert cosines.min() >= 0.9999, f"lowest cosine {cosines.min():.6f}"
    assert real_encoder.dim == 384


def test_real_model_ranks_sts_pairs(real_encoder):
    """A trained sentence encoder must order our scored pairs far better than chance."""
    pairs = pd.read_csv(DATA / "sts_pairs.csv")
    assert sts_spearman(real_encoder, pairs) > 70
    assert np.isfinite(real_encoder.encode("Hello there.")).all()
