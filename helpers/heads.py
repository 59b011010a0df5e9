"""Task heads, each its own shape: a linear classifier or an MLP, per task.

Tasks differ: a many-class topic task may want a deeper head than a three-way sentiment
one. ``HeadConfig`` says what one head is; ``head_configs`` turns what a user passes to
``MultiTaskModel`` (one name for all tasks, one ``HeadConfig``, or a ``{task: ...}``
mapping) into one checked config per task, saved with the model and rebuilt exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from torch import nn

from .validation import check_choice, check_positive_int

if TYPE_CHECKING:  # pandas loads where a table is built: the command line never builds one
    import pandas as pd

HEAD_KINDS = ("linear", "mlp")


@dataclass(frozen=True)
class HeadConfig:
    """One task's head: ``hidden=()`` is a linear layer; ``hidden=(256, 64)`` an MLP with
    those hidden sizes (GELU, optionally LayerNorm after each hidden layer). Dropout comes
    before every linear layer."""

    hidden: tuple[int, ...] = ()
    layer_norm: bool = False
    dropout: float = 0.1

    def __post_init__(self) -> None:
        where = "HeadConfig"
        if isinstance(self.hidden, int | str) or not isinstance(self.hidden, Sequence):
            raise ValueError(f"{where}: hidden must be a list of sizes (e.g. [256]), "
                             f"got {self.hidden!r}")
        for size in self.hidden:
            check_positive_int(size, "hidden size", where)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not isinstance(self.layer_norm, bool):
            raise ValueError(f"{where}: layer_norm must be True or False, got {self.layer_norm!r}")
        if self.layer_norm and not self.hidden:
            raise ValueError(f"{where}: layer_norm needs hidden layers; a linear head has none")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float) \
                or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{where}: dropout must be in [0, 1), got {self.dropout!r}")

    def build(self, dim: int, num_labels: int) -> nn.Sequential:
        """The module on a (batch, dim) vector. A one-hidden-layer MLP without LayerNorm
        keeps the layer indices of earlier saves (dropout, linear, GELU, dropout, linear)."""
        layers: list[nn.Module] = []
        width = dim
        for size in self.hidden:
            layers += [nn.Dropout(self.dropout), nn.Linear(width, size)]
            layers += [nn.LayerNorm(size)] if self.layer_norm else []
            layers.append(nn.GELU())
            width = size
        return nn.Sequential(*layers, nn.Dropout(self.dropout), nn.Linear(width, num_labels))

    def describe(self) -> str:
        """One line for tables and model cards."""
        if not self.hidden:
            return f"linear (dropout {self.dropout:g})"
        norm = " + LayerNorm" if self.layer_norm else ""
        return f"mlp {list(self.hidden)}{norm} (dropout {self.dropout:g})"

    def to_dict(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}


HeadSpec = str | HeadConfig | Mapping


def _one(spec: HeadSpec, hidden: int, dropout: float, task: str) -> HeadConfig:
    """A head name ("linear" / "mlp" with the shared ``hidden`` and ``dropout``), a
    ``HeadConfig``, or its dict (from JSON)."""
    if isinstance(spec, HeadConfig):
        return spec
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(HeadConfig.__annotations__))
        if unknown:
            raise ValueError(f"MultiTaskModel: head for {task!r} has unknown key(s) {unknown}; "
                             f"expected hidden, layer_norm, dropout")
        return HeadConfig(**spec)
    check_choice(spec, HEAD_KINDS, "head", "MultiTaskModel")
    check_positive_int(hidden, "hidden", "MultiTaskModel")
    return HeadConfig((hidden,) if spec == "mlp" else (), dropout=dropout)


def head_configs(head: HeadSpec | Mapping[str, HeadSpec], tasks: Sequence[str],
                 hidden: int = 256, dropout: float = 0.1) -> dict[str, HeadConfig]:
    """One ``HeadConfig`` per task. A mapping keyed by task names must name every task
    and no other; any other ``head`` applies to all tasks."""
    per_task = isinstance(head, Mapping) and set(head) & set(tasks)
    if isinstance(head, Mapping) and not per_task and set(head) - set(HeadConfig.__annotations__):
        raise ValueError(f"MultiTaskModel: head keys {sorted(head)} are neither the tasks "
                         f"{list(tasks)} nor HeadConfig fields (hidden, layer_norm, dropout)")
    if not per_task:
        return {task: _one(head, hidden, dropout, task) for task in tasks}
    if set(head) != set(tasks):
        missing, unknown = sorted(set(tasks) - set(head)), sorted(set(head) - set(tasks))
        raise ValueError(f"MultiTaskModel: head names tasks {sorted(head)}, the model has "
                         f"{list(tasks)}; give one head per task (missing {missing}, "
                         f"unknown {unknown})")
    return {task: _one(head[task], hidden, dropout, task) for task in tasks}


def head_table(configs: Mapping[str, HeadConfig], heads: Mapping[str, nn.Module]) -> pd.DataFrame:
    """One row per task: the head's shape and its parameter count."""
    import pandas as pd

    return pd.DataFrame(
        [{"task": name, "head": config.describe(),
          "parameters": sum(p.numel() for p in heads[name].parameters())}
         for name, config in configs.items()]).set_index("task")


def prediction_table(sentences: Sequence[str], results: Sequence[Mapping[str, dict]],
                     task_names: Sequence[str]) -> pd.DataFrame:
    """One row per sentence of ``MultiTaskModel.predict`` results: each task's label and the
    probability of that label, in ``task_names`` order."""
    import pandas as pd

    rows = []
    for text, result in zip(sentences, results, strict=True):
        row: dict[str, object] = {"text": text}
        for name, answer in result.items():
            row[name] = answer["label"]
            row[f"{name} p"] = round(answer["probs"][answer["label"]], 3)
        rows.append(row)
    columns = [c for name in task_names for c in (name, f"{name} p")]
    return pd.DataFrame(rows, columns=["text", *columns])
