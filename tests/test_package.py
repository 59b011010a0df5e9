"""``pip install .`` (not editable): the wheel carries the data, found from any directory."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest

from .conftest import REPO

PROBE = """
import helpers
from helpers.data import load_sentences, load_sts_pairs
print(helpers.__file__)
print(len(load_sentences()["test"]), len(load_sts_pairs()))
"""


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_wheel_installed_outside_the_checkout_loads_the_shipped_data(tmp_path):
    source = tmp_path / "source"
    for part in ("helpers", "data", "pyproject.toml", "README.md"):
        copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy
        copy(REPO / part, source / part)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    target = tmp_path / "installed"
    subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    shutil.rmtree(source)  # nothing may be read from the sources any more
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=elsewhere, capture_output=True,
                            text=True, timeout=300, env={"PYTHONPATH": str(target),
                                                         "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    module_file, counts = result.stdout.split("\n")[:2]
    assert module_file.startswith(str(target))
    sentences = pd.read_csv(REPO / "data" / "sentences.csv")
    pairs = pd.read_csv(REPO / "data" / "sts_pairs.csv")
    assert counts == f"{(sentences['split'] == 'test').sum()} {len(pairs)}"
