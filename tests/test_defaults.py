"""The TrainConfig defaults earn their place: fine-tuning with them beats a logistic
regression on the frozen sentence vectors on both tasks of the test split (real model,
3 seeds, paired bootstrap interval over seeds and sentences)."""

import numpy as np
import pytest

from helpers import MultiTaskModel, SentenceEncoder, TrainConfig, load_sentences
from helpers.data import SENTENCE_TASKS
from helpers.evidence import paired_difference
from helpers.runtime import seed_everything
from helpers.seeded import sentence_correctness
from helpers.training import train

pytestmark = pytest.mark.slow  # the real model, three seeds

SEEDS = (0, 1, 2)


def logistic_correctness(model: MultiTaskModel, data) -> dict[str, np.ndarray]:
    """Per task, which test sentences a logistic regression on frozen vectors gets right."""
    from sklearn.linear_model import LogisticRegression

    train_vectors = model.encoder.encode(data["train"]["text"], batch_size=64)
    test_vectors = model.encoder.encode(data["test"]["text"], batch_size=64)
    right = {}
    for task in model.tasks:
        fitted = LogisticRegression(max_iter=2000).fit(train_vectors, data["train"][task.name])
        right[task.name] = fitted.predict(test_vectors) == np.array(data["test"][task.name])
    return right


@pytest.fixture(scope="module")
def fine_tuned_and_baseline():
    data = load_sentences()
    right = {task.name: [] for task in SENTENCE_TASKS}
    for seed in SEEDS:
        seed_everything(seed)
        model = MultiTaskModel(SentenceEncoder.from_pretrained(), SENTENCE_TASKS)
        if seed == SEEDS[0]:
            baseline = logistic_correctness(model, data)
        train(model, data, TrainConfig(seed=seed, progress=False))
        for task, flags in sentence_correctness(model, data, "test").items():
            right[task].append(flags)
    return right, baseline


@pytest.mark.parametrize("task", ["topic", "sentiment"])
def test_defaults_beat_logistic_regression_on_frozen_vectors(fine_tuned_and_baseline, task):
    """Every seed beats the baseline, and so does the mean. On the machine the defaults were
    chosen on, the paired 95 % intervals were topic +0.013 (+0.001 to +0.026) and sentiment
    +0.052 (+0.034 to +0.070): the sentiment interval is asserted; topic's lower end is too
    close to 0 to pin on every CPU, so there every seed must beat it instead (by 1.1 to 1.7
    points, 11 to 17 sentences, there)."""
    right, baseline = fine_tuned_and_baseline
    fine_tuned = np.stack(right[task])
    per_seed, reference = fine_tuned.mean(axis=1), baseline[task].mean()
    difference = paired_difference(fine_tuned, np.tile(baseline[task], (len(SEEDS), 1)))
    print(f"\n{task}: fine-tuned per seed {per_seed.round(4)} vs logistic {reference:.4f}; "
          f"paired difference {difference}")
    assert (per_seed > reference).all(), (per_seed, reference)
    if task == "sentiment":
        assert difference["ci_low"] > 0, difference
