"""Command line for bigger runs: ``python -m helpers.train --config configs/example.json``.

Works the same under ``accelerate launch -m helpers.train --config ...``. Writes the
trained model (``MultiTaskModel.save``) and ``metrics.json`` (history and test metrics)
to the config's ``output_dir``.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, fields
from pathlib import Path

from .cli import add_train_arguments
from .data import infer_tasks, load_sentences
from .encoder import MAX_LENGTH, SentenceEncoder
from .experiments import run_strategy, split_metrics
from .multitask import MultiTaskModel
from .runtime import process_state, quiet_libraries
from .tasks import TaskSpec
from .training import TrainConfig

# pooling / normalize None: a sentence-transformers directory's own, else mean, normalised
TOP_LEVEL = {"model": None, "pooling": None, "layer": -1, "normalize": None,
             "max_length": MAX_LENGTH, "data": None, "text_column": "text", "task_columns": None,
             "tasks": None, "head": "linear", "hidden": 256, "dropout": 0.1,
             "projection_dim": None,
             "freeze": "none", "train": {}, "output_dir": "runs/latest", "test_split": "test"}


def read_config(path: str | os.PathLike) -> dict:
    """The JSON config with defaults filled in; unknown keys are an error, not ignored."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no config file at {str(file)!r}")
    try:
        given = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{file}: not valid JSON ({error})") from error
    unknown = sorted(set(given) - set(TOP_LEVEL))
    if unknown:
        raise ValueError(f"{file}: unknown key(s) {unknown}; expected {sorted(TOP_LEVEL)}")
    train_keys = {f.name for f in fields(TrainConfig)}
    bad = sorted(set(given.get("train", {})) - train_keys)
    if bad:
        raise ValueError(f"{file}: unknown train setting(s) {bad}; expected {sorted(train_keys)}")
    return {**TOP_LEVEL, **given}


def run(config: dict, resume_from: str | None = None) -> dict:
    """Load data and model, freeze, train (or go on from ``resume_from``), evaluate, save;
    return the metrics written."""
    tasks = ([TaskSpec(name, tuple(labels)) for name, labels in config["tasks"].items()]
             if config["tasks"] else None)
    data = load_sentences(config["data"], config["text_column"], config["task_columns"], tasks)
    if tasks is None:
        names = list(config["task_columns"] or ["topic", "sentiment"])
        tasks = infer_tasks(data, names)
    train_config = TrainConfig(**{"epoch_summary": True, **config["train"]})

    def make_model() -> MultiTaskModel:
        encoder = SentenceEncoder.from_pretrained(
            config["model"], config["pooling"], config["layer"], config["normalize"],
            config["max_length"])
        return MultiTaskModel(encoder, tasks, config["head"], config["hidden"],
                              config["dropout"], config["projection_dim"], train_config.seed)

    model, history, seconds = run_strategy(make_model, data, config["freeze"], train_config,
                                           resume_from)
    metrics = {"test": split_metrics(model, data, config["test_split"]) if config["test_split"]
               in data else None, "seconds": seconds,
               "history": history.to_dict() if history else None,
               "train_config": asdict(train_config)}
    if process_state().is_main_process:
        output = Path(config["output_dir"])
        model.save(output / "model", asdict(train_config), metrics["test"])
        staging = output / ".metrics.json.tmp"
        staging.write_text(json.dumps(metrics, indent=2))
        staging.replace(output / "metrics.json")
    return metrics


def command(args: argparse.Namespace) -> int:
    """Run the training the parsed ``args`` describe; print the test metrics."""
    quiet_libraries()  # a command owns its process: keep its output to the result
    config = read_config(args.config)
    if args.output_dir:
        config["output_dir"] = args.output_dir
    metrics = run(config, args.resume_from)
    if process_state().is_main_process:
        print(json.dumps({"test": metrics["test"], "seconds": round(metrics["seconds"], 1),
                          "output_dir": config["output_dir"]}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_train_arguments(parser)
    command(parser.parse_args(argv))


if __name__ == "__main__":
    main()
