"""Heads first, then fine-tuning (LP-FT, Kumar et al. 2022): the default recipe.

Fresh random heads send large, noisy gradients into a pretrained encoder during its first
steps. Fitting the heads alone first, on cached sentence vectors (seconds), then
fine-tuning, beat plain fine-tuning on our data: see the defaults sweep in the README
(``benchmarks/defaults_sweep.py``). ``TrainConfig(probe_epochs=0)`` turns it off.
"""

from __future__ import annotations

from dataclasses import replace

from ..multitask import MultiTaskModel
from .config import TrainConfig
from .mixture import TrainData


def fit_heads_first(model: MultiTaskModel, data: TrainData, config: TrainConfig) -> None:
    """Train only the heads for ``config.probe_epochs`` at ``config.probe_lr``, then give
    back every parameter the trainable flag it had (the caller's freezing survives)."""
    from .loop import train  # the probe is a short run of the same loop

    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith("heads.") and flags[name])
    probe = replace(config, epochs=config.probe_epochs, probe_epochs=0, head_lr=config.probe_lr,
                    warmup_ratio=0.0, eval_split=None, patience=None, checkpoint_dir=None,
                    grad_conflict=False, cache_frozen_encoder=True)
    try:
        train(model, data, probe)
    finally:
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(flags[name])
