"""Fine-tuning throughput: random vs length-grouped batches vs the Hugging Face Trainer.

Run by hand: ``python benchmarks/train_throughput.py``. One fine-tuning epoch of the
packaged all-MiniLM-L6-v2 over the training split of data/sentences.csv (735 sentences),
batch size 32, the TrainConfig defaults (learning rates, warm-up, schedule, weight decay;
no heads-first phase, which the Trainer does not have), fp32 unless ``--precision`` says
otherwise. Arms, in one run, best of ``--repeats``:

- ``random``: our ``train()`` with plainly shuffled batches (both task heads);
- ``grouped``: our ``train()`` with batches of similar token count (the default);
- ``Trainer``: ``transformers.Trainer`` on ``AutoModelForSequenceClassification`` (the
  same backbone, data, batch size, rates, schedule and fused AdamW; one task, sentiment;
  its default random batches and ``DataCollatorWithPadding``), for reference.

Each arm is timed from the call to the end of training (set-up, tokenizing and the epoch),
and its sentiment accuracy on the test split (1,028 sentences) is printed with a 95 %
interval, to show the speed is not bought with accuracy. The last line reads
``grouped vs random: X.XXx; grouped vs Trainer: Y.YYx``.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)

from helpers import MultiTaskModel, SentenceEncoder, TrainConfig, load_sentences  # noqa: E402
from helpers.data import SENTENCE_TASKS  # noqa: E402
from helpers.loading import default_model_path  # noqa: E402
from helpers.precision import training_precision  # noqa: E402
from helpers.runtime import notebook_setup  # noqa: E402
from helpers.training import split_metrics, train  # noqa: E402
from helpers.training.mixture import padding_share, training_loader  # noqa: E402

SENTIMENT = next(task for task in SENTENCE_TASKS if task.name == "sentiment")


def ours(data, batching: str, precision: str, seed: int) -> tuple[float, float]:
    """Seconds for one epoch of ``train()`` and the test sentiment accuracy after it."""
    notebook_setup(seed)
    model = MultiTaskModel(SentenceEncoder.from_pretrained(), SENTENCE_TASKS)
    config = TrainConfig(epochs=1, batching=batching, mixed_precision=precision, seed=seed,
                         probe_epochs=0, eval_split=None, grad_conflict=False, progress=False)
    started = time.perf_counter()
    train(model, data, config)
    seconds = time.perf_counter() - started
    return seconds, split_metrics(model, data, "test")["test/sentiment/accuracy"]


def head_and_body_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with our two rates: ``head_lr`` for the new classifier, ``lr`` for the rest
    (weight decay on matrices only, as ours), so both sides train the same way."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, parameter in model.named_parameters():
        groups.setdefault((name.startswith("classifier"), parameter.dim() >= 2),
                          []).append(parameter)
    return torch.optim.AdamW([
        {"params": params, "lr": config.head_lr if head else config.lr,
         "weight_decay": config.weight_decay if matrix else 0.0}
        for (head, matrix), params in groups.items()], fused=True)


def hf_trainer(data, precision: str, seed: int) -> tuple[float, float]:
    """The same epoch with ``transformers.Trainer`` on one task (sentiment)."""
    notebook_setup(seed)
    path, defaults = str(default_model_path()), TrainConfig()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(SENTIMENT.labels))

    def tokenized(split: str):
        part = data[split].map(lambda rows: tokenizer(rows["text"], truncation=True),
                               batched=True)
        part = part.map(lambda row: {"labels": SENTIMENT.label_id(row["sentiment"])})
        return part.select_columns(["input_ids", "attention_mask", "labels"])

    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch, per_device_train_batch_size=defaults.batch_size,
            num_train_epochs=1, learning_rate=defaults.lr, weight_decay=defaults.weight_decay,
            warmup_steps=int(defaults.warmup_ratio * math.ceil(len(data["train"]) / 32)),
            lr_scheduler_type=defaults.schedule, max_grad_norm=defaults.grad_clip,
            bf16=precision == "bf16", use_cpu=not torch.accelerator.is_available(), seed=seed,
            save_strategy="no", logging_strategy="no", report_to="none",
            disable_tqdm=True, dataloader_num_workers=0)
        started = time.perf_counter()
        trainer = Trainer(model=model, args=args, train_dataset=tokenized("train"),
                          data_collator=DataCollatorWithPadding(tokenizer),
                          optimizers=(head_and_body_optimizer(model, defaults), None))
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        seconds = time.perf_counter() - started
        logits = trainer.predict(tokenized("test")).predictions
    accuracy = float(np.mean(logits.argmax(-1) == np.array(tokenized("test")["labels"])))
    return seconds, accuracy


def interval(accuracy: float, n: int) -> str:
    half = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n)
    return f"{accuracy:.3f} (95 % CI {accuracy - half:.3f}-{accuracy + half:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", default="no", help="no | bf16 | auto")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    notebook_setup(0, threads=args.threads)
    precision = training_precision(args.precision)
    data = load_sentences()
    rows, tests = len(data["train"]), len(data["test"])
    lengths = SentenceEncoder.from_pretrained().token_counts(data["train"]["text"])
    for batching in ("random", "grouped"):
        batches = training_loader(lengths, list, 32, 0, batching).batch_sampler
        print(f"{batching} batches: {padding_share(lengths, batches):.1%} of tokens are padding")
    print(f"{rows} training sentences, batch size 32, precision {precision!r}, "
          f"{torch.get_num_threads()} threads, CPU {torch.backends.cpu.get_cpu_capability()}")
    arms = {"random": lambda: ours(data, "random", precision, 0),
            "grouped": lambda: ours(data, "grouped", precision, 0),
            "Trainer": lambda: hf_trainer(data, precision, 0)}
    rates = {}
    for name, run in arms.items():
        results = [run() for _ in range(args.repeats)]
        seconds = min(s for s, _ in results)
        rates[name] = rows / seconds
        print(f"{name:>8}: {rates[name]:6.1f} sentences/s ({seconds:.1f} s), "
              f"test sentiment accuracy {interval(results[0][1], tests)}")
    print(f"grouped vs random: {rates['grouped'] / rates['random']:.2f}x; "
          f"grouped vs Trainer: {rates['grouped'] / rates['Trainer']:.2f}x")


if __name__ == "__main__":
    main()
