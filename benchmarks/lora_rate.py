"""Which learning rate for LoRA adapters (notebook 03's LoRA row), chosen on validation.

Same start as every strategy in notebook 03 (heads fitted on cached vectors), same
budget (2 epochs), adapters (rank 8 on query and value) and heads at one rate; seeds 0-2.

    python benchmarks/lora_rate.py

Measured (Intel Xeon, 2 cores, 2026-11-25), validation accuracy, mean of 3 seeds:
lr 1e-3 topic 0.921 / sentiment 0.817; 3e-3 0.924 / 0.824; 1e-2 0.907 / 0.843. Mean
accuracy (the runs' metric) 0.869 / 0.874 / 0.875: no measurable difference between the
rates (every interval overlaps), so notebook 03 keeps its shared head rate, 1e-2, and
LoRA trains with the same config as every other strategy.
"""

from dataclasses import replace

from helpers import (
    MultiTaskModel,
    SentenceEncoder,
    TrainConfig,
    data,
    experiments,
    load_sentences,
    notebook_setup,
    seeded,
)
from helpers.lora import add_lora

RATES = (1e-3, 3e-3, 1e-2)


def main() -> None:
    notebook_setup(0)
    sentences = load_sentences()
    head_fit = TrainConfig(epochs=30, head_lr=1e-2, warmup_ratio=0.0, grad_conflict=False,
                           progress=False)

    def make_model(seed: int) -> MultiTaskModel:
        model = MultiTaskModel(SentenceEncoder.from_pretrained(), data.SENTENCE_TASKS)
        return add_lora(experiments.fit_heads(model, sentences, replace(head_fit, seed=seed)))

    config = TrainConfig(epochs=2, probe_epochs=0, grad_conflict=False, progress=False,
                         eval_split=None)  # last epoch kept; validation is what we score
    runs = {f"lr {rate:g}": ("backbone", replace(config, head_lr=rate)) for rate in RATES}
    results = seeded.run_seeded(make_model, sentences, runs, config, split="validation")
    print(results.summary().round(3).to_string())
    print(results.runs.groupby("run")[["trainable", "seconds"]].mean())


if __name__ == "__main__":
    main()
