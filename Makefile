# Two commands: `make lab` (the main job) and `make test`. Both build .venv from nothing.
# The Dockerfile runs `make install`, so dependencies have one source of truth.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
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

.PHONY: install lab test unit notebooks lint bench browser-deps clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . \
		|| $(BIN)/python -m pip install --quiet --no-deps -e .
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

unit: install
	$(BIN)/python -m pytest tests

notebooks: install
	$(BIN)/python -m pytest --nbval-lax --nbval-sanitize-with tests/sanitize.cfg notebooks

bench: install
	$(BIN)/python benchmarks/encode_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
