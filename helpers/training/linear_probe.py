"""Heads first, then fine-tuning (LP-FT, Kumar et al. 2022): the default recipe.

Fresh random heads send large, noisy gradients into a pretrained encoder during its first
steps. Fitting the heads alone first, on cached sentence vectors (seconds), then
fine-tuning, beat plain fine-tuning on our data: see the defaults sweep in the README
(``benchmarks/defaults_sweep.py``). ``TrainConfig(probe_epochs=0)`` turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from tqdm.auto import tqdm

from ..multitask import MultiTaskModel
from .callbacks import Callback, TrainState
from .config import TrainConfig
from .mixture import TrainData


class _OneBar(Callback):
    """One progress bar for all the probe's epochs (each epoch's own bar is off)."""

    def __init__(self, epochs: int, shown: bool) -> None:
        self.bar = tqdm(total=epochs, desc="heads first", unit="epoch", disable=not shown,
                        leave=False)

    def on_epoch_end(self, state: TrainState) -> None:
        self.bar.update(1)

    def on_train_end(self, state: TrainState) -> None:
        self.bar.close()


def fit_heads_first(model: MultiTaskModel, data: TrainData, config: TrainConfig,
                    train: Callable) -> None:
    """Train only the heads for ``config.probe_epochs`` at ``config.probe_lr`` with
    ``train`` (the loop's own function, passed in so the two modules do not import each
    other), then give back every parameter the trainable flag it had (the caller's
    freezing survives). The probe logs to no tracker: its epochs are not the run's."""
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith("heads.") and flags[name])
    # layer_lrs=None: the probe's heads learn at probe_lr (the encoder is frozen here)
    probe = replace(config, epochs=config.probe_epochs, probe_epochs=0, head_lr=config.probe_lr,
                    layer_lrs=None,
                    warmup_ratio=0.0, eval_split=None, patience=None, checkpoint_dir=None,
                    save_every=None,
                    grad_conflict=False, cache_frozen_encoder=True, log_with=None,
                    # heads share nothing: PCGrad would be a plain sum, which "fixed" is
                    loss_weighting="fixed" if config.loss_weighting == "pcgrad" else
                    config.loss_weighting,
                    logging_dir=None, progress=False, epoch_summary=False)
    bar = _OneBar(config.probe_epochs, config.progress)
    try:
        train(model, data, probe, callbacks=[bar])
    finally:
        bar.bar.close()
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(flags[name])
