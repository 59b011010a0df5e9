"""``sentence-mtl`` (also ``python -m helpers``): encode, predict, train; one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from .conftest import REPO

COMMAND = [sys.executable, "-m", "helpers"]


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_encode_prints_shapes_and_writes_vectors(tiny_model_dir, tmp_path):
    lines = tmp_path / "sentences.txt"
    lines.write_text("The ferry left late.\nThe soup was cold.\n")
    output = tmp_path / "vectors.npy"
    done = run("encode", "A third sentence.", "--file", str(lines), "--model",
               str(tiny_model_dir), "--output", str(output))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("shape (32,), norm 1.000") == 3
    vectors = np.load(output)
    assert vectors.shape == (3, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_encode_with_the_packaged_model():
    done = run("encode", "The striker scored twice.", "--pooling", "max", "--layer", "3")
    assert done.returncode == 0, done.stderr
    assert "shape (384,), norm 1.000" in done.stdout
    done = run("encode", "The striker scored twice.", "--dim", "128")
    assert done.returncode == 0, done.stderr
    assert "shape (128,), norm 1.000" in done.stdout
    done = run("encode", "The striker scored twice.", "--dim", "500")
    assert done.returncode == 2 and "dim must be an int from 1 to 384" in done.stderr


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_predict_json_parses_and_sums_to_one(saved_tiny_model):
    done = run("predict", "--model", str(saved_tiny_model), "--json", "The soup was cold.")
    assert done.returncode == 0, done.stderr
    [answer] = json.loads(done.stdout)
    assert answer["text"] == "The soup was cold."
    for task in ("topic", "sentiment"):
        assert sum(answer[task]["probs"].values()) == pytest.approx(1, abs=1e-5)
    plain = run("predict", "--model", str(saved_tiny_model), "The soup was cold.")
    assert plain.returncode == 0 and "topic: " in plain.stdout


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_a_bad_path_exits_nonzero_with_one_line():
    done = run("predict", "--model", "no/such/dir", "Hi.")
    assert done.returncode == 2
    assert "no saved model directory at 'no/such/dir'" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["encode", "--file", "missing.txt"], "no file at 'missing.txt'"),
    (["encode"], "no sentences: give them as arguments or with --file"),
    (["encode", "Hi.", "--pooling", "median"], "unknown pooling"),
    (["train", "--config", "nope.json"], "no config file at 'nope.json'"),
])
def test_bad_input_is_one_line_and_nonzero(run_here, args, message):
    code, _, error = run_here(*args)
    assert code == 2 and message in error
    assert len(error.strip().splitlines()) == 1, error


def test_empty_line_in_file_is_named(run_here, tmp_path):
    lines = tmp_path / "gaps.txt"
    lines.write_text("One.\n\nTwo.\n")
    code, _, error = run_here("encode", "--file", str(lines))
    assert code == 2 and "line 2 is empty" in error


def test_every_subcommand_has_help(run_here):
    for command in ("encode", "predict", "train", "export"):
        code, out, _ = run_here(command, "--help")
        assert code == 0 and "example: sentence-mtl" in out


def test_saved_model_has_a_card(saved_tiny_model):
    card = (saved_tiny_model / "README.md").read_text()
    for expected in ("# Multi-task sentence model", "**topic**: finance", '"epochs": 1',
                     "| test/topic/accuracy | 0.5000 |", "MultiTaskModel.load"):
        assert expected in card
