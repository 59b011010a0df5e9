"""One rank of the data-parallel test (tests/test_distributed.py starts two of them).

Trains the tiny model on 24 rows and writes what this rank saw and ended with to
``OUT/rank{N}.json``; every ``MultiTaskModel.save`` call is logged with its rank.
``SCENARIO`` (optional third argument): ``pcgrad`` trains with PCGrad, one row a batch, on
rows of which every other one carries no label, so some steps hold no labelled row on one
process while the other has one.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

from helpers import SentenceEncoder, notebook_setup
from helpers.data import SENTENCE_TASKS, load_sentences
from helpers.multitask import MultiTaskModel
from helpers.runtime import process_state
from helpers.training import Callback, TrainConfig, train


class SeenRows(Callback):
    """Records the texts of every batch (decoded) and the learning rate after each step."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def on_step_end(self, state) -> None:
        tokenizer = state.model.encoder.tokenizer
        self.texts += tokenizer.batch_decode(state.batch["input_ids"], skip_special_tokens=True)


def _digest(model: MultiTaskModel) -> str:
    weights = b"".join(t.detach().numpy().tobytes() for t in model.state_dict().values())
    return hashlib.sha256(weights).hexdigest()


def _unlabel_odd_rows(row: dict, index: int) -> dict:
    return {task.name: None if index % 2 else row[task.name] for task in SENTENCE_TASKS}


def main(out: Path, model_dir: str, scenario: str = "plain") -> None:
    notebook_setup(0, threads=1)
    rank = process_state().process_index
    saves = out / f"saves-rank{rank}.txt"
    original_save = MultiTaskModel.save

    def logged_save(self, directory):
        with saves.open("a") as log:
            log.write(f"{directory}\n")
        return original_save(self, directory)

    MultiTaskModel.save = logged_save
    data = load_sentences()
    data = type(data)({"train": data["train"].select(range(24)),
                       "validation": data["validation"].select(range(8))})
    model = MultiTaskModel(SentenceEncoder.from_pretrained(model_dir, max_length=32),
                           SENTENCE_TASKS)
    config = TrainConfig(epochs=2, batch_size=4, lr=1e-3, head_lr=1e-2, progress=False,
                         grad_conflict=False, checkpoint_dir=str(out / "checkpoints"))
    if scenario == "pcgrad":
        data["train"] = data["train"].map(_unlabel_odd_rows, with_indices=True)
        config = TrainConfig(epochs=1, batch_size=1, lr=1e-3, head_lr=1e-2, progress=False,
                             grad_conflict=False, loss_weighting="pcgrad")
    seen, start = SeenRows(), _digest(model)
    history = train(model, data, config, [seen])
    result = {"rank": rank, "world": process_state().num_processes, "texts": seen.texts,
              "steps": len(history.steps), "final_lr": history.steps[-1]["lr/layer.2"],
              "first_lr": history.steps[0]["lr/layer.2"],
              "weights": _digest(model), "moved": _digest(model) != start,
              "threads": torch.get_num_threads()}
    (out / f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:])
