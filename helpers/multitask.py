"""``MultiTaskModel``: one shared ``SentenceEncoder``, one classification head per task.

The heads sit in an ``nn.ModuleDict`` keyed by task name and ``forward`` returns
``{task: logits}``, so adding a task is adding a head. Saving writes the weights with
safetensors plus a JSON config, the backbone's own config and its tokenizer, so a saved
model reloads offline whatever backbone it was fine-tuned from (``helpers.saving``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file
from torch import nn

from . import saving
from .components import component_of
from .data import TaskSpec
from .encoder import SentenceEncoder
from .loading import default_model_path
from .modelcard import model_card
from .validation import check_choice, check_positive_int, check_sentences

HEAD_KINDS = ("linear", "mlp")
CONFIG_FILE, WEIGHTS_FILE = saving.CONFIG_FILE, saving.WEIGHTS_FILE
FORMAT_VERSION = 1


def make_head(kind: str, dim: int, num_labels: int, hidden: int, dropout: float) -> nn.Module:
    """A linear classifier, or a one-hidden-layer MLP, on a (batch, dim) sentence vector."""
    check_choice(kind, HEAD_KINDS, "head", "MultiTaskModel")
    if kind == "linear":
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, num_labels))
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(dim, hidden), nn.GELU(),
        nn.Dropout(dropout), nn.Linear(hidden, num_labels),
    )


class MultiTaskModel(nn.Module):
    """Shared sentence encoder → {task: logits}."""

    def __init__(
        self,
        encoder: SentenceEncoder,
        tasks: Sequence[TaskSpec],
        head: str = "linear",
        hidden: int = 256,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, SentenceEncoder):
            raise TypeError(f"MultiTaskModel: encoder must be a SentenceEncoder, "
                            f"got {type(encoder).__name__}")
        tasks = tuple(tasks)
        if not tasks or not all(isinstance(task, TaskSpec) for task in tasks):
            raise ValueError("MultiTaskModel: tasks must be a non-empty list of TaskSpec")
        names = [task.name for task in tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"MultiTaskModel: task names must be unique, got {names}")
        check_positive_int(hidden, "hidden", "MultiTaskModel")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiTaskModel: dropout must be in [0, 1), got {dropout}")
        self.encoder = encoder
        self.tasks = tasks
        self.head_kind, self.hidden, self.dropout = head, hidden, dropout
        self.heads = nn.ModuleDict(
            {task.name: make_head(head, encoder.dim, len(task.labels), hidden, dropout)
             for task in tasks}
        )
        self.temperatures = {task.name: 1.0 for task in tasks}  # see set_temperature
        self.freeze_unused()

    def set_temperature(self, task: str, temperature: float) -> None:
        """Divide ``task``'s logits by ``temperature`` in ``predict`` (from
        ``calibration.fit_temperature`` on validation); predictions keep their label,
        only the probabilities soften (T > 1) or sharpen (T < 1). Saved with the model."""
        self.task(task)
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) \
                or not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"set_temperature(): temperature must be a number > 0, "
                             f"got {temperature!r}")
        self.temperatures[task] = float(temperature)

    @property
    def task_names(self) -> list[str]:
        return [task.name for task in self.tasks]

    def task(self, name: str) -> TaskSpec:
        """The ``TaskSpec`` called ``name``, or an error listing the tasks."""
        check_choice(name, self.task_names, "task", "MultiTaskModel")
        return self.tasks[self.task_names.index(name)]

    def heads_forward(self, vectors: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, dim) sentence vectors → {task: (batch, num_labels) logits}."""
        return {name: head(vectors) for name, head in self.heads.items()}

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        vectors: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """(batch, seq) tokens, or precomputed (batch, dim) ``vectors`` → {task: logits}.

        ``vectors`` is the cached-feature path for a frozen encoder: one ``forward`` for
        both, so wrappers such as DistributedDataParallel see every call.
        """
        if vectors is None:
            vectors = self.encoder(input_ids, attention_mask)
        return self.heads_forward(vectors)

    @torch.inference_mode()
    def predict_probs(self, sentences: Sequence[str], batch_size: int = 32
                      ) -> dict[str, torch.Tensor]:
        """{task: (n, num_labels) probabilities}, in the order of ``sentences``."""
        was_training = self.training
        self.eval()
        vectors = self.encoder.encode(sentences, batch_size=batch_size, convert_to="torch")
        head_device = next(self.heads.parameters()).device
        logits = self.heads_forward(vectors.to(head_device))
        self.train(was_training)
        return {name: (values / self.temperatures[name]).softmax(dim=-1).cpu()
                for name, values in logits.items()}

    def predict(self, sentences: str | Sequence[str], batch_size: int = 32) -> list[dict]:
        """Per sentence: ``{task: {"label": str, "probs": {label: float}}}``."""
        items = check_sentences([sentences] if isinstance(sentences, str) else sentences,
                                "predict()")
        probs = self.predict_probs(items, batch_size) if items else {}
        results = []
        for row in range(len(items)):
            result = {}
            for task in self.tasks:
                values = probs[task.name][row].tolist()
                best = max(range(len(values)), key=values.__getitem__)
                result[task.name] = {"label": task.labels[best],
                                     "probs": dict(zip(task.labels, values, strict=True))}
            results.append(result)
        return results

    def predict_frame(self, sentences: str | Sequence[str], batch_size: int = 32
                      ) -> pd.DataFrame:
        """One row per sentence: each task's label and the probability of that label."""
        items = [sentences] if isinstance(sentences, str) else list(sentences)
        rows = []
        for text, result in zip(items, self.predict(items, batch_size), strict=True):
            row: dict[str, object] = {"text": text}
            for name, answer in result.items():
                row[name] = answer["label"]
                row[f"{name} p"] = round(answer["probs"][answer["label"]], 3)
            rows.append(row)
        return pd.DataFrame(rows, columns=self._frame_columns())

    def _frame_columns(self) -> list[str]:
        return ["text"] + [c for name in self.task_names for c in (name, f"{name} p")]

    def component(self, parameter_name: str) -> str:
        """The component of one parameter (see ``component_of`` for the layer numbering)."""
        return component_of(parameter_name, self.encoder.num_layers)

    def unused_components(self) -> set[str]:
        """Components that never reach a sentence vector: the pooler, and the layers above
        the pooled one. They stay frozen, out of the optimiser and out of trainable counts."""
        above = range(self.encoder.top_layer + 1, self.encoder.num_layers + 1)
        return {"pooler", *(f"layer.{k}" for k in above)}

    def freeze_unused(self) -> None:
        unused = self.unused_components()
        for name, parameter in self.named_parameters():
            if self.component(name) in unused:
                parameter.requires_grad = False

    def parameter_report(self) -> pd.DataFrame:
        """Parameters per component (embeddings, each layer, pooler, each head); ``used``
        is False for components no pooling reads (always frozen)."""
        counts: dict[str, list[int]] = {}
        for name, parameter in self.named_parameters():
            total, trainable = counts.setdefault(self.component(name), [0, 0])
            counts[self.component(name)] = [
                total + parameter.numel(), trainable + parameter.numel() * parameter.requires_grad]
        unused = self.unused_components()
        frame = pd.DataFrame(
            [(name, total, trainable, name not in unused)
             for name, (total, trainable) in counts.items()],
            columns=["component", "parameters", "trainable", "used"],
        )
        frame["used"] = frame["used"].astype(object)
        frame.loc[len(frame)] = ["total", frame["parameters"].sum(), frame["trainable"].sum(), ""]
        return frame.set_index("component")

    # ----------------------------------------------------------------- save and load
    def config(self) -> dict:
        """Everything ``load`` needs besides the weights (JSON-serialisable)."""
        encoder = self.encoder
        packaged = encoder.name_or_path == str(default_model_path())
        return {
            "format_version": FORMAT_VERSION,
            "backbone": None if packaged else encoder.name_or_path,
            "pooling": encoder.pooling, "layer": encoder.layer,
            "normalize": encoder.normalize, "max_length": encoder.max_length,
            "tasks": [{"name": task.name, "labels": list(task.labels)} for task in self.tasks],
            "head": self.head_kind, "hidden": self.hidden, "dropout": self.dropout,
            "temperatures": self.temperatures,
        }

    def save(self, directory: str | os.PathLike, train_config: Mapping | None = None,
             metrics: Mapping[str, float] | None = None) -> Path:
        """Write the model and its card (README.md, with the training configuration and
        metrics when given) to ``directory`` atomically: a crash leaves the old or nothing."""
        if self.encoder.quantize is not None:
            raise ValueError("save(): a quantized encoder cannot be saved; save the fp32 "
                             "model and quantize after loading")
        card = model_card(self.config(), sum(p.numel() for p in self.parameters()),
                          train_config, metrics)
        return saving.save_model(self, self.config(), directory, card)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> MultiTaskModel:
        """Rebuild a saved model; raise clearly if it is not one or does not match."""
        config, weights, backbone, tokenizer = saving.read_saved(directory, FORMAT_VERSION)
        encoder = SentenceEncoder(
            backbone, tokenizer, config["pooling"], config["layer"], config["normalize"],
            config["max_length"], config["backbone"] or str(default_model_path()),
        )
        tasks = [TaskSpec(task["name"], tuple(task["labels"])) for task in config["tasks"]]
        model = cls(encoder, tasks, config["head"], config["hidden"], config["dropout"])
        saving.load_weights(model, load_file(weights), origin=str(weights))
        for task, temperature in config.get("temperatures", {}).items():  # older saves: none
            model.set_temperature(task, temperature)
        return model.eval()
