"""The Hugging Face ``Trainer`` arms of ``train_throughput.py``: the library a user would
pick instead, on the same backbone, data, batch size, rates, schedule and fused AdamW.

One task (sentiment) on ``AutoModelForSequenceClassification``, ``DataCollatorWithPadding``;
``sampling`` is the Trainer's ``train_sampling_strategy``: ``"random"`` (its default) or
``"group_by_length"`` (its length-grouped sampler, the setting a speed-minded user picks).
"""

from __future__ import annotations

import math
import tempfile
import time

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)

from helpers import TrainConfig
from helpers.data import SENTENCE_TASKS
from helpers.loading import default_model_path
from helpers.runtime import seed_everything

SENTIMENT = next(task for task in SENTENCE_TASKS if task.name == "sentiment")


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


def _arguments(scratch: str, data, precision: str, seed: int, sampling: str
               ) -> TrainingArguments:
    defaults = TrainConfig()
    return TrainingArguments(
        output_dir=scratch, per_device_train_batch_size=defaults.batch_size,
        num_train_epochs=1, learning_rate=defaults.lr, weight_decay=defaults.weight_decay,
        warmup_steps=int(defaults.warmup_ratio * math.ceil(len(data["train"]) / 32)),
        lr_scheduler_type=defaults.schedule, max_grad_norm=defaults.grad_clip,
        bf16=precision == "bf16", use_cpu=not torch.accelerator.is_available(), seed=seed,
        save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
        dataloader_num_workers=0, train_sampling_strategy=sampling)


def hf_trainer(data, precision: str, seed: int, sampling: str = "random"
               ) -> tuple[float, float]:
    """Seconds for one epoch with ``transformers.Trainer`` (set-up and tokenizing
    included, as for ours) and the test sentiment accuracy after it."""
    seed_everything(seed)
    path = str(default_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(SENTIMENT.labels))

    def tokenized(split: str):
        part = data[split].map(lambda rows: tokenizer(rows["text"], truncation=True),
                               batched=True)
        part = part.map(lambda row: {"labels": SENTIMENT.label_id(row["sentiment"])})
        return part.select_columns(["input_ids", "attention_mask", "labels"])

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        trainer = Trainer(model=model, args=_arguments(scratch, data, precision, seed, sampling),
                          train_dataset=tokenized("train"), processing_class=tokenizer,
                          data_collator=DataCollatorWithPadding(tokenizer),
                          optimizers=(head_and_body_optimizer(model, TrainConfig()), None))
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        seconds = time.perf_counter() - started
        logits = trainer.predict(tokenized("test")).predictions
    accuracy = float(np.mean(logits.argmax(-1) == np.array(tokenized("test")["labels"])))
    return seconds, accuracy
