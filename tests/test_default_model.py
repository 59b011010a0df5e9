"""The default trained model (``sentence-mtl predict`` without ``--model``), ``--task``, and
``sentence-mtl export``."""

import re
import shlex
import subprocess
import sys
import time

import pytest

from helpers import default_model as default_module
from helpers.default_model import default_model

from .conftest import REPO


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_default_model_is_built_once_into_the_cache_then_reused(cache, saved_tiny_model,
                                                                    capsys):
    import shutil

    builds = []

    def build(target, progress):
        builds.append(target)
        shutil.copytree(saved_tiny_model, target)

    first = default_model(build=build)
    assert first.parent == cache / "sentence-mtl" and first.name.startswith("default-model-")
    assert "Building the default model once" in capsys.readouterr().err
    assert default_model(build=build) == first and len(builds) == 1  # reused, silently
    assert capsys.readouterr().err == ""
    shutil.rmtree(first)
    default_model(retrain=False, build=build)
    default_model(retrain=True, build=lambda target, progress: builds.append(target))
    assert len(builds) == 3


def test_predict_without_model_uses_the_default_one(cache, saved_tiny_model, run_here,
                                                    monkeypatch):
    monkeypatch.setattr(default_module, "default_model_dir", lambda: saved_tiny_model)
    code, out, _ = run_here("predict", "The striker scored twice.", "--task", "topic")
    assert code == 0 and "topic: " in out and "sentiment" not in out


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "mood"], "unknown task 'mood'; this model's tasks are topic, sentiment"),
    (["--retrain"], "--retrain rebuilds the default model; it cannot retrain --model"),
])
def test_bad_predict_options_are_one_line(saved_tiny_model, run_here, args, message):
    code, _, error = run_here("predict", "--model", str(saved_tiny_model), "Hi.", *args)
    assert code == 2 and message in error and len(error.strip().splitlines()) == 1


def test_export_writes_what_sentence_transformers_loads(saved_tiny_model, run_here, tmp_path):
    from sentence_transformers import SentenceTransformer

    code, out, _ = run_here("export", "--model", str(saved_tiny_model), "--to",
                            "sentence-transformers", str(tmp_path / "st"))
    assert code == 0 and "wrote a sentence-transformers model" in out
    assert SentenceTransformer(str(tmp_path / "st"), device="cpu").encode("Hi.").shape == (32,)
    code, _, error = run_here("export", "--model", str(saved_tiny_model), "--to", "onnx",
                              str(tmp_path / "x"))
    assert code == 2 and "invalid choice: 'onnx'" in error


def dockerfile_build_command() -> list[str]:
    """The Dockerfile's step that builds the default model into the image."""
    line = next(line for line in (REPO / "Dockerfile").read_text().splitlines()
                if line.startswith("RUN ") and "predict" in line)
    return shlex.split(line.removeprefix("RUN "))


@pytest.mark.slow  # trains the real default model (about a minute and a half)
def test_a_fresh_user_gets_predictions_and_the_second_call_is_fast(cache, tmp_path):
    """The image's build step, run as written (Docker itself is not available here), then
    the user's first command: both tasks with probabilities, from the cached model."""
    command = dockerfile_build_command()
    assert command[0] == ".venv/bin/sentence-mtl" and command[1:3] == ["predict", "--retrain"]
    env = {"XDG_CACHE_HOME": str(cache), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    built = subprocess.run([sys.executable, "-m", "helpers", *command[1:]], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr
    assert "Building the default model once" in built.stderr
    started = time.perf_counter()
    used = subprocess.run([sys.executable, "-m", "helpers", "predict",
                           "The striker scored twice."], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    assert used.returncode == 0 and used.stderr == "", used.stderr
    assert re.search(r"topic: sports \([01]\.\d\d\), sentiment: \w+ \([01]\.\d\d\)", used.stdout)
    assert seconds < 30, seconds
