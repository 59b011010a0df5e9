"""Train/eval mode, changed for a moment and given back module by module.

``model.train(was_training)`` gives every submodule the model's own flag, so a frozen
encoder kept in eval mode during training (no dropout where nothing learns) would come
back in train mode after a ``predict`` mid-training; and without ``finally`` an exception
leaves the model in eval mode. ``evaluating`` saves each module's flag and restores it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the block; every submodule's own flag restored after,
    also when the block raises."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training
