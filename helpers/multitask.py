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
from typing import TYPE_CHECKING

import torch
from torch import nn

from . import saving
from .components import component_of, parameter_table
from .encoder import SentenceEncoder
from .heads import HeadSpec, head_configs, head_table, prediction_table
from .modelcard import model_card
from .modes import evaluating
from .pooling import check_dim, truncate
from .runtime import drawn_from
from .tasks import TaskSpec
from .validation import check_choice, check_positive_int, check_sentences

if TYPE_CHECKING:  # pandas loads where a table is built: the command line never builds one
    import pandas as pd

CONFIG_FILE, WEIGHTS_FILE = saving.CONFIG_FILE, saving.WEIGHTS_FILE
FORMAT_VERSION = 1


class MultiTaskModel(nn.Module):
    """Shared sentence encoder (→ optional projection to ``projection_dim``) → {task: logits}.

    ``head`` is "linear" or "mlp" (one hidden layer of ``hidden``) for every task, a
    ``HeadConfig``, or ``{task: head}`` for a head of its own shape per task. ``seed``
    draws the new weights (heads, projection) from their own generator, the same whatever
    random work ran before; None draws them from torch's global generator.
    """

    def __init__(
        self,
        encoder: SentenceEncoder,
        tasks: Sequence[TaskSpec],
        head: HeadSpec | Mapping[str, HeadSpec] = "linear",
        hidden: int = 256,
        dropout: float = 0.1,
        projection_dim: int | None = None,
        seed: int | None = None,
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
        if projection_dim is not None:
            check_positive_int(projection_dim, "projection_dim", "MultiTaskModel")
        self.encoder, self.tasks, self.seed = encoder, tasks, seed
        self.lora_settings: dict | None = None  # set by helpers.lora.add_lora
        self.head_configs = head_configs(head, names, hidden, dropout)
        self.dim = projection_dim or encoder.dim
        with drawn_from(seed, "MultiTaskModel"):
            # A learned linear map to a smaller (or any) vector size, trained with the heads.
            self.projection = nn.Linear(encoder.dim, projection_dim) if projection_dim else None
            self.heads = nn.ModuleDict(
                {task.name: self.head_configs[task.name].build(self.dim, len(task.labels))
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

    def add_task(self, task: TaskSpec, head: HeadSpec = "linear") -> MultiTaskModel:
        """A new task on the same encoder: one more head (random, trainable), nothing else
        changes, so the other tasks' predictions stay exactly what they were."""
        if not isinstance(task, TaskSpec):
            raise TypeError(f"add_task(): task must be a TaskSpec, got {type(task).__name__}")
        if task.name in self.task_names:
            raise ValueError(f"add_task(): the model already has a task {task.name!r}")
        config = head_configs(head, [task.name])[task.name]
        device = next(self.heads.parameters()).device
        # a seeded model's later heads are seeded too, each by its position
        with drawn_from(None if self.seed is None else self.seed + len(self.tasks), "add_task()"):
            self.heads[task.name] = config.build(self.dim, len(task.labels)).to(device)
        self.tasks, self.head_configs = (*self.tasks, task), {**self.head_configs,
                                                              task.name: config}
        self.temperatures[task.name] = 1.0
        return self

    def project(self, vectors: torch.Tensor) -> torch.Tensor:
        """Encoder vectors → the model's sentence vectors (through the projection, if any;
        unit length again when the encoder normalises)."""
        if self.projection is None:
            return vectors
        projected = self.projection(vectors)
        return nn.functional.normalize(projected, dim=-1) if self.encoder.normalize else projected

    def heads_forward(self, vectors: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, encoder dim) vectors → {task: (batch, num_labels) logits}."""
        vectors = self.project(vectors)
        return {name: head(vectors) for name, head in self.heads.items()}

    @torch.inference_mode()
    def encode(self, sentences: str | Sequence[str], batch_size: int = 32,
               dim: int | None = None) -> torch.Tensor:
        """The sentence vectors the heads read ((n, ``self.dim``), projected if the model
        projects); ``dim=k`` keeps the first k coordinates (Matryoshka-style)."""
        check_dim(dim, self.dim, "encode()")
        with evaluating(self):
            vectors = self.encoder.encode(sentences, batch_size=batch_size, convert_to="torch")
            single = vectors.dim() == 1
            vectors = self.project(vectors.reshape(-1, self.encoder.dim).to(self.device))
        result = truncate(vectors.cpu(), dim, self.encoder.normalize)
        return result[0] if single else result

    @property
    def device(self) -> torch.device:
        return next(self.heads.parameters()).device

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        vectors: torch.Tensor | None = None,
        hidden_states: torch.Tensor | None = None,
        from_layer: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """(batch, seq) tokens, cached (batch, dim) ``vectors`` of a frozen encoder, or the
        cached ``hidden_states`` after frozen layer ``from_layer`` → {task: logits}; one
        ``forward`` for all, so wrappers such as DistributedDataParallel see every call."""
        if vectors is None:
            vectors = self.encoder(input_ids, attention_mask, hidden_states, from_layer)
        return self.heads_forward(vectors)

    @torch.inference_mode()
    def predict_probs(self, sentences: Sequence[str], batch_size: int = 32
                      ) -> dict[str, torch.Tensor]:
        """{task: (n, num_labels) probabilities}, in the order of ``sentences``."""
        with evaluating(self):
            vectors = self.encoder.encode(sentences, batch_size=batch_size, convert_to="torch")
            logits = self.heads_forward(vectors.to(self.device))
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
        return prediction_table(items, self.predict(items, batch_size), self.task_names)

    def component(self, parameter_name: str) -> str:
        """The component of one parameter (see ``component_of`` for the layer numbering)."""
        return component_of(parameter_name, self.encoder.num_layers,
                            self.encoder.top_layer)

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
        """Parameters per component; see ``components.parameter_table``."""
        return parameter_table(self)

    def head_report(self) -> pd.DataFrame:
        """Each task's head: its shape and parameter count."""
        return head_table(self.head_configs, self.heads)

    # ----------------------------------------------------------------- save and load
    def config(self) -> dict:
        """Everything ``load`` needs besides the weights (JSON-serialisable)."""
        return saving.model_config(self, FORMAT_VERSION)

    def save(self, directory: str | os.PathLike, train_config: Mapping | None = None,
             metrics: Mapping[str, float] | None = None) -> Path:
        """Write the model and its card (README.md, with the training configuration and
        metrics when given) to ``directory`` atomically: a crash leaves the old or nothing."""
        saving.check_full_precision(self.encoder, "save()", "save")
        card = model_card(self.config(), sum(p.numel() for p in self.parameters()),
                          train_config, metrics)
        return saving.save_model(self, self.config(), directory, card)

    def export_sentence_transformer(self, path: str | os.PathLike, projection: bool = True) -> Path:
        """A ``SentenceTransformer(path)`` directory, heads beside it (``helpers.export``)."""
        from .export import export_sentence_transformer

        return export_sentence_transformer(self, path, projection)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> MultiTaskModel:
        """Rebuild a saved model; raise clearly if it is not one or does not match."""
        return saving.load_model(cls, directory, FORMAT_VERSION)
