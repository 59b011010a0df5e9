"""SentenceEncoder on a tiny random BERT: shapes, order, options and bad input."""

import numpy as np
import pytest
import torch

from helpers import SentenceEncoder

SENTENCES = ["short one", "a much longer sentence with many more words in it", "mid length text"]


def test_shapes_and_unit_norm(tiny_encoder):
    vectors = tiny_encoder.encode(SENTENCES)
    assert vectors.shape == (3, tiny_encoder.dim) == (3, 32)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert tiny_encoder.encode("one sentence").shape == (32,)


def test_empty_list_gives_zero_rows(tiny_encoder):
    assert tiny_encoder.encode([]).shape == (0, 32)


def test_length_sorting_restores_original_order(tiny_encoder):
    together = tiny_encoder.encode(SENTENCES, batch_size=2)
    one_by_one = np.stack([tiny_encoder.encode(text) for text in SENTENCES])
    assert np.allclose(together, one_by_one, atol=1e-5)


def test_normalize_override_and_torch_output(tiny_encoder):
    raw = tiny_encoder.encode(SENTENCES, normalize=False, convert_to="torch")
    assert isinstance(raw, torch.Tensor)
    assert not torch.allclose(raw.norm(dim=1), torch.ones(3))


def test_pooling_and_layer_choices_change_vectors(tiny_encoder):
    base = tiny_encoder.encode(SENTENCES)
    for other in (tiny_encoder.with_pooling("max"), tiny_encoder.with_pooling(layer=1)):
        assert other.backbone is tiny_encoder.backbone
        assert not np.allclose(other.encode(SENTENCES), base)
    embeddings_layer = tiny_encoder.with_pooling(layer=0)
    assert embeddings_layer.encode(SENTENCES).shape == base.shape


def test_truncation_at_max_length(tiny_encoder):
    long_text = "word " * 500
    batch = tiny_encoder.tokenize([long_text])
    assert batch["input_ids"].shape == (1, 64)
    assert tiny_encoder.encode(long_text).shape == (32,)


def test_forward_is_differentiable(tiny_encoder):
    batch = tiny_encoder.tokenize(SENTENCES)
    tiny_encoder.zero_grad()
    tiny_encoder(**batch).sum().backward()
    grads = [p.grad for p in tiny_encoder.backbone.encoder.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    tiny_encoder.zero_grad()


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (["fine", None], TypeError, "item 1 is None"),
        (["fine", 3.5], TypeError, "item 1 is 3.5"),
        (["fine", "  "], ValueError, "item 1 is an empty string"),
        (42, TypeError, "expected a string or a list of strings"),
    ],
)
def test_bad_sentences_name_the_item(tiny_encoder, bad, error, message):
    with pytest.raises(error, match=message):
        tiny_encoder.encode(bad)


def test_bad_options(tiny_model_dir, tiny_encoder):
    with pytest.raises(ValueError, match="unknown pooling mode 'avg'; expected one of 'mean'"):
        SentenceEncoder.from_pretrained(tiny_model_dir, pooling="avg")
    with pytest.raises(ValueError, match="layer 5 is out of range for a 2-layer backbone.*-3 to 2"):
        tiny_encoder.with_pooling(layer=5)
    with pytest.raises(ValueError, match="unknown convert_to 'list'"):
        tiny_encoder.encode(SENTENCES, convert_to="list")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        tiny_encoder.encode(SENTENCES, batch_size=0)
    with pytest.raises(ValueError, match="unknown quantize mode 'int4'"):
        SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int4")


def test_missing_local_path_says_so(tmp_path):
    with pytest.raises(ValueError, match="does not exist.*hub names need a network"):
        SentenceEncoder.from_pretrained(tmp_path / "no-such-model")


def test_unknown_hub_name_mentions_network():
    with pytest.raises(ValueError, match="hub names need a network"):
        SentenceEncoder.from_pretrained("no-such-org/no-such-model-xyz")
