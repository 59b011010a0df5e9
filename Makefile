# Two commands: `make lab` (the main job) and `make test`. Both build .venv from nothing.
# The Dockerfile runs `make install`, so dependencies have one source of truth.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TENSORBOARD := $(VENV)/.tensorboard
PORT ?= 8888
LAB_IP ?= 127.0.0.1
NOTEBOOK_DIR ?= notebooks
# JupyterLab refuses to run as root unless told; CI machines and some containers are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# A stored notebook number must not depend on this CPU's kernels: CI may run on another
# x86-64 CPU (AVX-512 here, AVX2 or older there). These variables make PyTorch, MKL and
# oneDNN use the kernels such a CPU would use (KERNELS=avx2 or default).
KERNELS ?= default
AS_OTHER_CPU = ATEN_CPU_CAPABILITY=$(KERNELS) MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
NBVAL = $(BIN)/python -m pytest --nbval-lax --nbval-sanitize-with tests/sanitize.cfg

.PHONY: install lab test unit unit-fast notebooks notebooks-other-cpu lint bench browser-deps clean

install: $(STAMP)

# JupyterLab's settings for this lab (jupyter/overrides.json): no "Jupyter news?" prompt and
# no update check; both fetch from the internet, which the lab never needs.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

$(STAMP): requirements.txt pyproject.toml jupyter/overrides.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . \
		|| $(BIN)/python -m pip install --quiet --no-deps -e .
	mkdir -p $(LAB_SETTINGS) && cp jupyter/overrides.json $(LAB_SETTINGS)/overrides.json
	touch $(STAMP)

# Opens notebook 01; the URL with its access token is printed (JUPYTER_TOKEN sets it).
lab: install
	$(BIN)/jupyter lab --no-browser $(ALLOW_ROOT) --notebook-dir=$(NOTEBOOK_DIR) \
		--ip=$(LAB_IP) --port=$(PORT) --LabApp.default_url=/lab/tree/01_sentence_embeddings.ipynb

test: install browser-deps lint unit notebooks

# Debian's Chromium for the browser test (tests/test_browser.py), installed when missing.
browser-deps:
	@bash tests/install_chromium.sh

lint: install
	$(BIN)/ruff check helpers tests benchmarks

unit: install $(TENSORBOARD)
	$(BIN)/python -m pytest tests

# The unit tests without the `slow` ones (real model, installs, browser, several processes).
unit-fast: install $(TENSORBOARD)
	$(BIN)/python -m pytest -m "not slow" tests

# The optional tensorboard extra (pinned in pyproject.toml): not needed by the notebooks or
# the image; tests/test_tracking.py reads its event files.
$(TENSORBOARD): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[tensorboard]" \
		|| $(BIN)/python -m pip install --quiet -e ".[tensorboard]"
	touch $(TENSORBOARD)

# Every notebook as stored, then notebook 01 again as a CPU without AVX-512 would run it.
notebooks: install
	$(NBVAL) notebooks
	$(AS_OTHER_CPU) $(NBVAL) notebooks/01_sentence_embeddings.ipynb

# The whole suite with AVX2 kernels, then with the portable default kernels: run it
# before every stop (about 45 minutes on 2 cores).
notebooks-other-cpu: install
	$(MAKE) --no-print-directory _notebooks-as KERNELS=avx2
	$(MAKE) --no-print-directory _notebooks-as KERNELS=default

_notebooks-as:
	$(AS_OTHER_CPU) $(NBVAL) notebooks

bench: install
	$(BIN)/python benchmarks/encode_throughput.py
	$(BIN)/python benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
