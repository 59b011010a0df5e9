"""Library calls leave the process as they found it; only notebook_setup() changes it."""

import os
import subprocess
import sys

import pytest

from .conftest import REPO

PROBE = """
import sys
import torch
from transformers.utils import logging as hf_logging
torch.set_num_threads(1)
hf_logging.set_verbosity_warning()
engine = torch.backends.quantized.engine
before = (torch.get_num_threads(), hf_logging.get_verbosity(), engine)

import helpers
from helpers import MultiTaskModel, SentenceEncoder, TrainConfig, data, training
after_import = (torch.get_num_threads(), hf_logging.get_verbosity(),
                torch.backends.quantized.engine)
small = data.load_sentences()
small = type(small)({"train": small["train"].select(range(8)),
                     "validation": small["validation"].select(range(4))})
model = MultiTaskModel(SentenceEncoder.from_pretrained(sys.argv[1]), data.SENTENCE_TASKS)
training.train(model, small, TrainConfig(epochs=1, batch_size=4, progress=False))
SentenceEncoder.from_pretrained(sys.argv[1], quantize="int8").encode(["a sentence"])
after_calls = (torch.get_num_threads(), hf_logging.get_verbosity(),
               torch.backends.quantized.engine)
helpers.notebook_setup(0, threads=2)
opted_in = (torch.get_num_threads(), hf_logging.get_verbosity())
print(before, after_import, after_calls, opted_in, sep="|")
"""


@pytest.mark.slow  # a subprocess, several processes or the real model
def test_import_and_calls_change_nothing_process_wide(tiny_model_dir):
    result = subprocess.run([sys.executable, "-c", PROBE, str(tiny_model_dir)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    before, after_import, after_calls, opted_in = result.stdout.strip().split("|")
    assert before == after_import == after_calls
    assert opted_in == "(2, 40)"  # notebook_setup: 2 threads, transformers at ERROR


QUIET_PROBE = """
import os, sys
if sys.argv[1] == "before":
    import datasets
from helpers.runtime import quiet_libraries
quiet_libraries()
loaded_by_quieting = "datasets" in sys.modules and sys.argv[1] == "after"
import datasets
print(loaded_by_quieting, datasets.is_progress_bar_enabled(), datasets.logging.get_verbosity())
"""


@pytest.mark.parametrize("datasets_imported", ["before", "after"])
def test_quiet_libraries_quiets_datasets_without_importing_it(datasets_imported):
    env = {key: value for key, value in os.environ.items()
           if key not in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "DATASETS_VERBOSITY")}
    result = subprocess.run([sys.executable, "-c", QUIET_PROBE, datasets_imported], cwd=REPO,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["False", "False", "40"]  # not imported; quiet; ERROR
