"""The default trained model: what ``sentence-mtl predict`` uses without ``--model``.

The packaged all-MiniLM-L6-v2, fine-tuned on data/sentences.csv with the library's default
recipe (``TrainConfig()``, seed 0). Built once into the user's cache directory
(``platformdirs``), then loaded from there; the Docker image builds it at build time. The
folder name carries a digest of the data and the recipe, so a changed data set or default
builds a new one rather than serving a stale model.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

BUILD_SECONDS = 70  # measured: 71 s on 2 cores, AMD EPYC (AVX2), fp32 (README)


def cache_dir() -> Path:
    """Where the default model lives: the user's cache directory for sentence-mtl."""
    from platformdirs import user_cache_path

    return user_cache_path("sentence-mtl")


def _recipe_digest() -> str:
    from .tasks import SENTENCES_CSV
    from .training import TrainConfig

    digest = hashlib.sha256(SENTENCES_CSV.read_bytes())
    digest.update(repr(asdict(TrainConfig(progress=False))).encode())
    return digest.hexdigest()[:12]


def default_model_dir() -> Path:
    return cache_dir() / f"default-model-{_recipe_digest()}"


def build_default_model(target: Path, progress: bool = True) -> None:
    """Fine-tune the packaged encoder on our sentences with the defaults; save to ``target``."""
    from .data import load_sentences
    from .encoder import SentenceEncoder
    from .multitask import MultiTaskModel
    from .tasks import SENTENCE_TASKS
    from .training import TrainConfig, split_metrics, train

    data, config = load_sentences(), TrainConfig(seed=0, progress=progress)
    model = MultiTaskModel(SentenceEncoder.from_pretrained(), SENTENCE_TASKS, seed=0)
    train(model, data, config)
    model.save(target, asdict(config), split_metrics(model, data, "test"))


def default_model(retrain: bool = False, progress: bool = True,
                  build: Callable[[Path, bool], None] = build_default_model) -> Path:
    """The default model's directory, built first when missing (or when ``retrain``)."""
    target = default_model_dir()
    if target.is_dir() and not retrain:
        return target
    print(f"Building the default model once (all-MiniLM-L6-v2 fine-tuned on the packaged "
          f"sentences, about {BUILD_SECONDS} s on 2 cores); it is kept in {target}",
          file=sys.stderr)
    started = time.perf_counter()
    build(target, progress)
    print(f"Default model ready after {time.perf_counter() - started:.0f} s.", file=sys.stderr)
    return target
