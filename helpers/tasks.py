"""What the shipped data is about, importable without pandas or datasets.

Task specs, the "no label" id and where the packaged files are. ``helpers.data`` loads
and checks the sentences; a command that only predicts (``sentence-mtl predict``) needs
no more than this module, so it never pays for importing the data libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path


def _data_dir() -> Path:
    """The shipped data: package data ``helpers.datafiles`` (the checkout's ``data/``,
    mapped in pyproject.toml), so it is found from a wheel, an editable install or the
    Docker image alike; a bare checkout on ``PYTHONPATH`` falls back to ``data/``."""
    try:
        return Path(str(resources.files("helpers.datafiles").joinpath("sentences.csv"))).parent
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "data"


DATA_DIR = _data_dir()
SENTENCES_CSV = DATA_DIR / "sentences.csv"
CHALLENGE_CSV = DATA_DIR / "challenge.csv"
MISSING_LABEL = -1


@dataclass(frozen=True)
class TaskSpec:
    """One classification task: its name and its ordered label list."""

    name: str
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"TaskSpec: name must be a non-empty string, got {self.name!r}")
        labels = tuple(self.labels)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError(f"TaskSpec {self.name!r}: needs two or more distinct labels, "
                             f"got {list(labels)}")
        if not all(isinstance(label, str) and label for label in labels):
            raise ValueError(f"TaskSpec {self.name!r}: labels must be non-empty strings")
        object.__setattr__(self, "labels", labels)

    def label_id(self, label: str | None) -> int:
        """Index of ``label``; ``None`` (no label) is ``MISSING_LABEL``."""
        if label is None:
            return MISSING_LABEL
        if label not in self.labels:
            raise ValueError(f"task {self.name!r}: unknown label {label!r}; "
                             f"expected one of {list(self.labels)}")
        return self.labels.index(label)


SENTENCE_TASKS = (
    TaskSpec("topic", ("finance", "food", "sports", "technology", "travel")),
    TaskSpec("sentiment", ("negative", "neutral", "positive")),
)
