"""A task derived from data we already have, for adding a task to a trained model.

``form``: is the sentence a question or a statement? Its label comes from the text itself
(a question ends with "?"), so every row of ``data/sentences.csv`` is labelled without new
annotation (about one sentence in nine is a question). Notebook 03 puts a third head for
it on the trained two-task model.
"""

from __future__ import annotations

from datasets import DatasetDict

from .tasks import TaskSpec

FORM_TASK = TaskSpec("form", ("statement", "question"))


def form_label(text: str) -> str:
    return "question" if text.rstrip().endswith("?") else "statement"


def with_form_labels(data: DatasetDict) -> DatasetDict:
    """The same splits with a ``form`` column beside the others."""
    if FORM_TASK.name in data["train"].column_names:
        raise ValueError(f"with_form_labels(): the data already has a {FORM_TASK.name!r} column")
    return data.map(lambda row: {FORM_TASK.name: form_label(row["text"])})
