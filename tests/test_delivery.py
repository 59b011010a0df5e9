"""Delivery: one set of pins everywhere, the Dockerfile's steps, every notebook covered."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def requirement_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned with =="
            pins[name.strip().lower()] = version.strip()
    return pins


def test_environment_yml_requirements_and_dockerfile_agree():
    pins = requirement_pins((REPO / "requirements.txt").read_text())
    assert pins["torch"] == "2.13.0"
    environment = (REPO / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", environment, re.M)
    # the conda environment installs exactly requirements.txt, or repeats the same pins
    extra = re.findall(r"^\s*- ([A-Za-z0-9_.-]+)==([^\s]+)", environment, re.M)
    assert "-r requirements.txt" in environment or extra
    for name, version in extra:
        assert pins.get(name.lower()) == version, name
    # the image: same Python, and its only install step is the Makefile's
    assert re.search(r"^FROM python:3\.11[-.\w]*$", DOCKERFILE, re.M)
    installs = [line for line in DOCKERFILE.splitlines() if "pip install" in line]
    assert installs == [], f"the Dockerfile must install through `make install`: {installs}"
    for name, version in re.findall(r"([A-Za-z0-9_.-]+)==([0-9][^\s\"']*)", DOCKERFILE):
        assert pins.get(name.lower()) == version, name
    assert "RUN make install" in DOCKERFILE


def test_dockerfile_serves_offline_as_non_root_on_8888():
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert "HF_HUB_OFFLINE=1" in DOCKERFILE
    assert "EXPOSE 8888" in DOCKERFILE
    cmd = json.loads(re.search(r"^CMD (.+)$", DOCKERFILE, re.M).group(1))
    assert cmd[:2] == ["make", "lab"] and "LAB_IP=0.0.0.0" in cmd and "PORT=8888" in cmd


def test_dockerfile_workdir_belongs_to_the_user_before_use():
    """Some builders create a missing WORKDIR as root whatever USER says; `make install`
    writes .venv there, so the directory must already exist with the user as owner."""
    user = re.search(r"^USER (\w+)", DOCKERFILE, re.M).group(1)
    workdir = re.search(r"^WORKDIR (\S+)", DOCKERFILE, re.M)
    created = re.search(rf"install -d -o {user} -g {user} {re.escape(workdir.group(1))}\s",
                        DOCKERFILE[:workdir.start()])
    assert created, f"create {workdir.group(1)} owned by {user} in a RUN step before WORKDIR"


def dockerfile_copies() -> list[str]:
    """Sources of every COPY line, in order."""
    sources = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            sources += parts[:-1]
    return sources


@pytest.mark.slow
def test_dockerfile_install_step_in_a_clean_environment(tmp_path):
    """Rebuild what the image's RUN steps build: copy what it COPYs, run `make install`
    with a fresh virtual environment, then load the packaged model offline from it."""
    assert shutil.which("make"), "the image installs make; this machine needs it too"
    for source in dockerfile_copies():
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, tmp_path / source, ignore=shutil.ignore_patterns(
                "__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy2(origin, tmp_path / source)
    run_lines = [line for line in DOCKERFILE.splitlines() if line.startswith("RUN make")]
    assert run_lines == ["RUN make install"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    subprocess.run(["make", "install", f"PYTHON={sys.executable}"], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=900)
    probe = ("from helpers import SentenceEncoder, notebook_setup; notebook_setup(); "
             "print(SentenceEncoder.from_pretrained().encode('It works offline.').shape)")
    result = subprocess.run([str(tmp_path / ".venv" / "bin" / "python"), "-c", probe],
                            cwd=tmp_path / "notebooks", env={**env, "HF_HUB_OFFLINE": "1"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(384,)"
    assert result.stderr.strip() == "", "after notebook_setup() loading is quiet (nbval)"
    installed = tmp_path / ".venv" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(installed.read_text()) == json.loads(LAB_SETTINGS.read_text())
    # `docker run sentence-mtl sentence-mtl encode ...`: the console script, on the image's PATH
    path = re.search(r"^ENV PATH=(\S+):\$PATH$", DOCKERFILE, re.M)
    workdir = re.search(r"^WORKDIR (\S+)", DOCKERFILE, re.M)[1]
    assert path and path.group(1) == f"{workdir}/.venv/bin"
    command = subprocess.run([str(tmp_path / ".venv" / "bin" / "sentence-mtl"), "encode",
                              "It works offline."], cwd=tmp_path, capture_output=True,
                             text=True, env={**env, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert command.returncode == 0, command.stderr
    assert "shape (384,), norm 1.000" in command.stdout


LAB_SETTINGS = REPO / "jupyter" / "overrides.json"


def test_the_labs_settings_turn_the_news_prompt_off_in_jupyterlabs_own_terms():
    """Each setting is one JupyterLab's schema knows, with a value it allows: a typo would
    leave the "Would you like to get notified about official Jupyter news?" prompt on."""
    schemas = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    settings = json.loads(LAB_SETTINGS.read_text())
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    for plugin, values in settings.items():
        package, name = plugin.split(":")
        schema = json.loads((schemas / package / f"{name}.json").read_text())["properties"]
        for key, value in values.items():
            allowed = [choice["const"] for choice in schema[key].get("oneOf", [])]
            assert key in schema and (value in allowed if allowed else
                                      isinstance(value, bool)), (plugin, key, value)


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_the_four_notebooks_exist():
    assert [n.name[:2] for n in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_saved_with_outputs_and_checked(path: Path):
    """nbval compares stored outputs: a notebook saved without them would test nothing."""
    notebook = json.loads(path.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    unexecuted = [i for i, cell in enumerate(code) if cell["execution_count"] is None]
    assert not unexecuted, f"{path.name}: code cells {unexecuted} were saved unexecuted"
    checked = [cell for cell in code if "# NBVAL_CHECK_OUTPUT" in "".join(cell["source"])]
    assert len(checked) >= 3, f"{path.name}: mark the cells nbval should compare"
    assert all(cell["outputs"] for cell in checked), f"{path.name}: a checked cell has no output"
    counts = [cell["execution_count"] for cell in code]
    assert counts == sorted(counts), f"{path.name}: cells were not run top to bottom"


def test_make_test_runs_every_notebook_under_nbval():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^NBVAL = .*pytest --nbval-lax --nbval-sanitize-with tests/sanitize.cfg$",
                     makefile, re.M)
    assert re.search(r"^notebooks: install\n\t\$\(NBVAL\) notebooks\n"
                     r"\t\$\(AS_OTHER_CPU\) \$\(NBVAL\) notebooks/01", makefile, re.M)
    assert "ATEN_CPU_CAPABILITY=$(KERNELS)" in makefile
    sanitizer = (REPO / "tests" / "sanitize.cfg").read_text().splitlines()
    for index, line in enumerate(sanitizer):
        if line.startswith("regex:"):
            assert sanitizer[index + 1].startswith("replace:"), f"line {index + 2}"
