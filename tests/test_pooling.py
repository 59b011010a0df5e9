import pytest
import torch

from helpers.pooling import POOLING_MODES, pool

# two sentences, three positions; the second sentence has one padding token
TOKENS = torch.tensor(
    [[[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]],
     [[1.0, -1.0], [3.0, 5.0], [100.0, 100.0]]]
)
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])


def test_mean_ignores_padding():
    expected = torch.tensor([[3.0, 2.0], [2.0, 2.0]])
    assert torch.allclose(pool(TOKENS, MASK, "mean"), expected)


def test_max_ignores_padding():
    expected = torch.tensor([[5.0, 4.0], [3.0, 5.0]])
    assert torch.equal(pool(TOKENS, MASK, "max"), expected)


def test_cls_takes_first_token():
    assert torch.equal(pool(TOKENS, MASK, "cls"), TOKENS[:, 0])


def test_unknown_mode_lists_choices():
    with pytest.raises(ValueError, match="unknown pooling mode 'sum'.*'mean', 'cls', 'max'"):
        pool(TOKENS, MASK, "sum")
    assert POOLING_MODES == ("mean", "cls", "max")
