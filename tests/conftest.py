"""Shared fixtures: a tiny random BERT saved to disk (fast) and the real packaged model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from transformers import AutoTokenizer, BertConfig, BertModel  # noqa: E402

from helpers import SentenceEncoder, default_model_path, notebook_setup, seed_everything  # noqa: E402

notebook_setup()  # the tests opt in: quiet libraries, 2 threads, seeded

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


@pytest.fixture(autouse=True)
def _seeded() -> None:
    seed_everything(0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and the packaged tokenizer, on disk."""
    seed_everything(0)
    directory = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model_dir: Path) -> SentenceEncoder:
    return SentenceEncoder.from_pretrained(tiny_model_dir, max_length=64)


@pytest.fixture(scope="session")
def real_encoder() -> SentenceEncoder:
    return SentenceEncoder.from_pretrained()


@pytest.fixture(scope="session")
def small_data():
    """24 train / 12 validation rows of the shipped data: enough to move weights quickly."""
    from helpers.data import load_sentences

    data = load_sentences()
    return type(data)({"train": data["train"].select(range(24)),
                       "validation": data["validation"].select(range(12))})


@pytest.fixture
def run_here(capsys, monkeypatch):
    """The command in this process, without the 5 s start of a new interpreter; its
    ``quiet_libraries`` (process-wide logging) is left out here."""
    from helpers import cli

    monkeypatch.setattr(cli, "quiet_libraries", lambda: None)

    def command(*args: str) -> tuple[int, str, str]:
        try:
            code = cli.main(list(args))
        except SystemExit as exit:  # argparse: --help and usage errors
            code = exit.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return command


@pytest.fixture(scope="module")
def saved_tiny_model(tiny_model_dir, tmp_path_factory):
    from helpers import MultiTaskModel
    from helpers.data import SENTENCE_TASKS

    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)
    return model.save(tmp_path_factory.mktemp("cli") / "model", {"epochs": 1},
                      {"test/topic/accuracy": 0.5})
