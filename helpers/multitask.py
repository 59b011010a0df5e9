"""``MultiTaskModel``: one shared ``SentenceEncoder``, one classification head per task.

The heads sit in an ``nn.ModuleDict`` keyed by task name and ``forward`` returns
``{task: logits}``, so adding a task is adding a head. Saving writes the weights with
safetensors plus a JSON config, the backbone's own config and its tokenizer, so a saved
model reloads offline whatever backbone it was fine-tuned from.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer

from .data import TaskSpec
from .encoder import SentenceEncoder
from .loading import default_model_path
from .validation import check_choice, check_positive_int, check_sentences

HEAD_KINDS = ("linear", "mlp")
CONFIG_FILE, WEIGHTS_FILE = "multitask_config.json", "model.safetensors"
BACKBONE_DIR, TOKENIZER_DIR = "backbone", "tokenizer"
FORMAT_VERSION = 1
_LAYER = re.compile(r"\.layers?\.(\d+)\.")


def component_of(parameter_name: str) -> str:
    """Which part of the model a parameter belongs to: ``embeddings``, ``layer.3``,
    ``pooler``, ``head:topic`` or ``other`` (works for BERT, RoBERTa, DistilBERT, MiniLM).
    """
    if parameter_name.startswith("heads."):
        return "head:" + parameter_name.split(".")[1]
    match = _LAYER.search(parameter_name)
    if match:
        return f"layer.{match.group(1)}"
    if ".embeddings." in parameter_name:
        return "embeddings"
    if ".pooler." in parameter_name:
        return "pooler"
    return "other"


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
        return {name: values.softmax(dim=-1).cpu() for name, values in logits.items()}

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

    def parameter_report(self) -> pd.DataFrame:
        """Parameters per component (embeddings, each layer, pooler, each head)."""
        counts: dict[str, list[int]] = {}
        for name, parameter in self.named_parameters():
            total, trainable = counts.setdefault(component_of(name), [0, 0])
            counts[component_of(name)] = [total + parameter.numel(),
                                          trainable + parameter.numel() * parameter.requires_grad]
        frame = pd.DataFrame(
            [(name, total, trainable) for name, (total, trainable) in counts.items()],
            columns=["component", "parameters", "trainable"],
        )
        frame.loc[len(frame)] = ["total", frame["parameters"].sum(), frame["trainable"].sum()]
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
        }

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the model to ``directory`` atomically: a crash leaves the old or nothing.

        Files go to a temporary sibling directory that is renamed into place at the end.
        """
        if self.encoder.quantize is not None:
            raise ValueError("save(): a quantized encoder cannot be saved; save the fp32 "
                             "model and quantize after loading")
        target = Path(directory)
        if target.exists() and not target.is_dir():
            raise ValueError(f"save(): {str(target)!r} is a file; expected a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            state = {name: tensor.detach().cpu().contiguous()
                     for name, tensor in self.state_dict().items()}
            save_file(state, staging / WEIGHTS_FILE)
            self.encoder.backbone.config.save_pretrained(staging / BACKBONE_DIR)
            self.encoder.tokenizer.save_pretrained(staging / TOKENIZER_DIR)
            (staging / CONFIG_FILE).write_text(json.dumps(self.config(), indent=2))
            if target.exists():
                retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                target.rename(retired / target.name)
                staging.rename(target)
                shutil.rmtree(retired)
            else:
                staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike) -> MultiTaskModel:
        """Rebuild a saved model; raise clearly if it is not one or does not match."""
        source = Path(directory)
        config_path = source / CONFIG_FILE
        if not config_path.is_file():
            raise ValueError(f"load(): {str(source)!r} is not a saved MultiTaskModel "
                             f"(no {CONFIG_FILE})")
        config = json.loads(config_path.read_text())
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"load(): {str(source)!r} has format version "
                             f"{config.get('format_version')!r}; expected {FORMAT_VERSION}")
        weights = source / WEIGHTS_FILE
        if not weights.is_file():
            raise ValueError(f"load(): {str(source)!r} has no {WEIGHTS_FILE}")
        backbone = AutoModel.from_config(AutoConfig.from_pretrained(source / BACKBONE_DIR))
        tokenizer = AutoTokenizer.from_pretrained(source / TOKENIZER_DIR)
        encoder = SentenceEncoder(
            backbone, tokenizer, config["pooling"], config["layer"], config["normalize"],
            config["max_length"], config["backbone"] or str(default_model_path()),
        )
        tasks = [TaskSpec(task["name"], tuple(task["labels"])) for task in config["tasks"]]
        model = cls(encoder, tasks, config["head"], config["hidden"], config["dropout"])
        model.load_weights(load_file(weights), origin=str(weights))
        return model.eval()

    def load_weights(self, state: dict[str, torch.Tensor], origin: str) -> None:
        """Load a state dict, naming missing, unexpected and mis-shaped tensors."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        mis_shaped = [f"{name} {tuple(state[name].shape)} vs {tuple(own[name].shape)}"
                      for name in sorted(set(own) & set(state))
                      if state[name].shape != own[name].shape]
        if missing or unexpected or mis_shaped:
            raise ValueError(
                f"load(): the weights in {origin} do not match this model's config "
                f"(another backbone, task or label set?): missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}, shape mismatch {mis_shaped[:5]}")
        self.load_state_dict(state)
