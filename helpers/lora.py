"""LoRA adapters (Hugging Face ``peft``) on the shared encoder: the alternative to freezing.

The pretrained weights stay frozen; each adapted projection learns a low-rank update
``B @ A`` (rank r) beside them, a fraction of a percent of the encoder's parameters. Adapter
parameters are their own component, ``adapters``: the ``backbone`` strategy freezes the
encoder but not them, so ``freeze(add_lora(model), "backbone")`` trains adapters and heads.
``merge_lora`` folds the updates into the weights, giving a plain model to save or serve.
"""

from __future__ import annotations

from collections.abc import Sequence

from .multitask import MultiTaskModel
from .runtime import drawn_from
from .validation import check_positive_int


def add_lora(model: MultiTaskModel, rank: int = 8, alpha: int = 16, dropout: float = 0.1,
             targets: Sequence[str] = ("query", "value"), seed: int | None = None
             ) -> MultiTaskModel:
    """Inject LoRA adapters into the encoder's ``targets`` (module names; BERT's attention
    query and value by default) in place, and freeze the encoder's own weights. ``seed``
    draws the adapters' random half (A) as ``MultiTaskModel(seed=...)`` draws heads."""
    from peft import LoraConfig, inject_adapter_in_model

    check_positive_int(rank, "rank", "add_lora()")
    check_positive_int(alpha, "alpha", "add_lora()")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"add_lora(): dropout must be in [0, 1), got {dropout!r}")
    if has_lora(model):
        raise ValueError("add_lora(): the model already has LoRA adapters")
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=list(targets))
    try:
        with drawn_from(seed, "add_lora()"):
            inject_adapter_in_model(config, model.encoder.backbone)
    except ValueError as error:
        raise ValueError(f"add_lora(): targets {list(targets)} match no module of the "
                         f"encoder ({error})") from error
    model.lora_settings = {"rank": rank, "alpha": alpha, "dropout": dropout,
                           "targets": list(targets)}  # saved with the model (helpers.saving)
    from .freezing import freeze

    return freeze(model, "backbone")


def has_lora(model: MultiTaskModel) -> bool:
    return any(model.component(name) == "adapters" for name, _ in model.named_parameters())


def merge_lora(model: MultiTaskModel) -> MultiTaskModel:
    """Add each adapter's update to the weight it adapts and remove the adapters: the model
    predicts the same (up to float rounding) and is a plain ``MultiTaskModel`` again."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    backbone = model.encoder.backbone
    for name, module in list(backbone.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(backbone.get_submodule(parent), child, module.get_base_layer())
    model.lora_settings = None
    return model
