"""The command line trains a tiny model end to end and rejects bad configs."""

import json
import subprocess
import sys

import pytest

from helpers.multitask import MultiTaskModel
from helpers.train import main, read_config

from .conftest import DATA, REPO

LAUNCHERS = {
    "python -m": [sys.executable, "-m", "helpers.train"],
    "accelerate launch": [sys.executable, "-m", "accelerate.commands.launch", "--cpu",
                          "--num_processes", "1", "--num_machines", "1",
                          "--mixed_precision", "no", "--dynamo_backend", "no",
                          "-m", "helpers.train"],
    "torchrun, 2 processes": [sys.executable, "-m", "torch.distributed.run",
                              "--nproc_per_node", "2", "-m", "helpers.train"],
}


@pytest.mark.slow  # a subprocess, several processes or the real model
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_command_line_trains_tiny_model(tmp_path, tiny_model_dir, small_data, launcher):
    data_file = tmp_path / "mini.csv"
    frames = []
    for split, part in small_data.items():
        frame = part.to_pandas()
        frame["split"] = split
        frames.append(frame)
    frames.append(frames[-1].assign(split="test"))
    import pandas as pd

    pd.concat(frames).to_csv(data_file, index=False)
    config = {"model": str(tiny_model_dir), "data": str(data_file), "max_length": 32,
              "freeze": "embeddings",
              "train": {"epochs": 1, "batch_size": 8, "progress": False},
              "output_dir": str(tmp_path / "run")}
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    result = subprocess.run([*LAUNCHERS[launcher], "--config", str(config_file)],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["test"]) == {"test/topic/accuracy", "test/topic/macro_f1",
                                    "test/sentiment/accuracy", "test/sentiment/macro_f1"}
    assert printed["test"] == metrics["test"]
    assert len(metrics["history"]["epochs"]) == 1
    model = MultiTaskModel.load(tmp_path / "run" / "model")
    assert model.task_names == ["topic", "sentiment"]
    summaries = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert len(summaries) == 1 and summaries[0].startswith("epoch 1/1")  # main process only


def test_example_config_is_valid():
    config = read_config(REPO / "configs" / "example.json")
    assert config["train"]["layer_decay"] < 1
    assert (DATA / "sentences.csv").is_file()


@pytest.mark.parametrize(("content", "message"), [
    ('{"epochs": 3}', r"unknown key\(s\) \['epochs'\]"),
    ('{"train": {"learning_rate": 1}}', r"unknown train setting\(s\) \['learning_rate'\]"),
    ("{not json", "not valid JSON"),
])
def test_bad_configs_are_named(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        main(["--config", str(path)])
