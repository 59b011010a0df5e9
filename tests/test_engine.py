"""The training engine in combinations the notebooks never use (issue 22).

Each test names the finding it covers; each failed on the code before the fix.
"""

import contextlib
import itertools
import math

import pytest
import torch
from datasets import DatasetDict
from transformers import BertConfig, BertModel

import helpers.training.weighting as weighting_module
from helpers import SentenceEncoder, freeze
from helpers.data import SENTENCE_TASKS, TaskSpec
from helpers.lora import add_lora
from helpers.multitask import MultiTaskModel
from helpers.training import TrainConfig, train
from helpers.training.callbacks import GradientConflictProbe, TrainState
from helpers.training.weighting import PCGradWeighting

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
FAST = dict(batch_size=8, progress=False, grad_conflict=False, probe_epochs=0)


@pytest.fixture(scope="module")
def four_layer_dir(tiny_model_dir, tmp_path_factory):
    """The tiny BERT with 4 blocks, so ``bottom:3`` leaves one to train."""
    directory = tmp_path_factory.mktemp("tiny-bert-4")
    config = BertConfig.from_pretrained(tiny_model_dir)
    config.num_hidden_layers = 4
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    SentenceEncoder.from_pretrained(tiny_model_dir).tokenizer.save_pretrained(directory)
    return directory


def model_from(directory, seed=0):
    return MultiTaskModel(SentenceEncoder.from_pretrained(directory, max_length=32),
                          SENTENCE_TASKS, seed=seed)


def per_task(data):
    return {"topic": data.remove_columns("sentiment"),
            "sentiment": data.remove_columns("topic")}


# ---------------------------------------------------------------- 1, 2, 11: PCGrad

def test_pcgrad_gradients_go_through_the_accelerators_backward():
    """Finding 1: two micro-batches of the same data at accumulation 2 (each loss halved by
    the backward, as accelerate does) give exactly the gradients of one at accumulation 1."""
    def step(divisor, repeats):
        shared, head = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.ones(()))
        pcgrad = PCGradWeighting(["a", "b"])
        for _ in range(repeats):
            losses = {"a": torch.dot(torch.tensor([1.0, 0.0]), shared + 1) * head,
                      "b": torch.dot(torch.tensor([-1.0, 1.0]), shared + 1) + head}
            pcgrad.backward(losses, [shared], lambda t, **kw: (t / divisor).backward(**kw))
        return shared.grad, head.grad

    once, twice = step(1, 1), step(2, 2)
    assert torch.allclose(once[0], twice[0]) and torch.allclose(once[1], twice[1])


def test_pcgrad_projects_with_one_data_set_per_task(tiny_model_dir, small_data, monkeypatch):
    """Finding 2: with {task: data set}, every step holds a batch of both tasks, so PCGrad
    projects two gradients at every step instead of falling back to a plain sum."""
    seen = []
    original = weighting_module.project_conflicts

    def spy(gradients, generator):
        seen.append(len(gradients))
        return original(gradients, generator)

    monkeypatch.setattr(weighting_module, "project_conflicts", spy)
    history = train(model_from(tiny_model_dir), per_task(small_data),
                    TrainConfig(epochs=1, loss_weighting="pcgrad", eval_split=None, **FAST))
    assert seen and set(seen) == {2} and len(seen) == len(history.steps) == 3


def test_pcgrad_update_is_the_projected_sum_not_the_plain_sum(tiny_model_dir, small_data):
    """Finding 11: the encoder's gradient after PCGrad's backward equals PCGrad of the two
    task gradients computed by hand (a plain sum differs on this conflicting pair)."""
    from helpers.training.batching import collate_fn

    model = model_from(tiny_model_dir).eval()  # no dropout: the same forward twice
    batch = collate_fn(small_data["train"], model.tasks, model.encoder.tokenize)(list(range(8)))
    labels = batch.pop("labels")
    shared = weighting_module.shared_parameters(model)

    def losses():  # sentiment's loss made to pull against topic's: a known conflict
        found = weighting_module.task_losses(model(**batch), labels)
        return {"topic": found["topic"], "sentiment": found["sentiment"] - 2 * found["topic"]}

    by_task = weighting_module.task_gradients(losses(), shared)
    assert torch.dot(by_task["topic"], by_task["sentiment"]) < 0
    expected = weighting_module.project_conflicts(list(by_task.values()),
                                                  torch.Generator().manual_seed(0))
    PCGradWeighting(model.task_names, seed=0).backward(losses(), shared,
                                                        lambda t, **kw: t.backward(**kw))
    found = torch.cat([p.grad.flatten() for p in shared])
    assert torch.allclose(found, expected, atol=1e-6)
    assert not torch.allclose(found, sum(by_task.values()), atol=1e-6)


def test_pcgrad_counts_the_projection_as_shared(tiny_model_dir, small_data):
    """Finding 2: with the encoder frozen, the projection is what the tasks share."""
    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, max_length=32),
                           SENTENCE_TASKS, projection_dim=8, seed=0)
    assert weighting_module.shared_parameters(freeze(model, "backbone")) == \
        list(model.projection.parameters())
    plain = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS)
    with pytest.raises(ValueError, match="nothing shared is trainable"):
        train(freeze(plain, "backbone"), small_data,
              TrainConfig(epochs=1, loss_weighting="pcgrad", **FAST))


# ---------------------------------------------------------------- 3: seeding

def test_a_seeded_model_is_the_same_whatever_ran_before(tiny_model_dir):
    torch.randn(1)
    first = model_from(tiny_model_dir, seed=3).heads.state_dict()
    torch.randn(5)
    second = model_from(tiny_model_dir, seed=3).heads.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    state = torch.random.get_rng_state()
    model_from(tiny_model_dir, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator untouched


def test_seeded_lora_adapters_are_the_same_whatever_ran_before(tiny_model_dir):
    adapters = []
    for warmup in (1, 5):
        torch.randn(warmup)
        model = add_lora(model_from(tiny_model_dir), rank=2, seed=1)
        adapters.append({n: p.detach().clone() for n, p in model.named_parameters()
                         if "lora_A" in n})
    assert all(torch.equal(adapters[0][n], adapters[1][n]) for n in adapters[0])


# ---------------------------------------------------------------- 4, 7: probes

def test_the_heads_first_phase_logs_nothing_to_the_runs_tracker(tiny_model_dir, small_data,
                                                                tmp_path):
    from tests.test_tracking import read_scalars

    config = TrainConfig(epochs=1, log_with="tensorboard", logging_dir=str(tmp_path),
                         batch_size=8, progress=False, grad_conflict=False, probe_epochs=2)
    history = train(model_from(tiny_model_dir), small_data, config)
    steps = [step for step, _ in read_scalars(tmp_path)["train/loss"]]
    assert steps == [row["step"] for row in history.steps] == [1, 2, 3]


def test_gradient_conflict_reports_every_pair_of_three_tasks(tiny_model_dir, small_data):
    form = TaskSpec("form", ("short", "long"))
    data = small_data.map(lambda row: {"form": "short" if len(row["text"]) < 60 else "long"})
    model = model_from(tiny_model_dir).add_task(form)
    from helpers.training.batching import collate_fn

    collate = collate_fn(data["train"], model.tasks, model.encoder.tokenize)
    batch = collate(list(range(8)))
    probe = GradientConflictProbe({t: [batch] for t in model.task_names})
    state = TrainState(model, TrainConfig(**FAST), None, None)
    state.record = {}
    probe.on_epoch_end(state)
    pairs = {k for k in state.record if k.startswith("grad_conflict/")}
    assert pairs == {"grad_conflict/topic~sentiment", "grad_conflict/topic~form",
                     "grad_conflict/sentiment~form"}
    assert state.record["grad_conflict"] == pytest.approx(
        sum(state.record[p] for p in pairs) / 3)


# ---------------------------------------------------------------- 5: LoRA save and load

def test_a_lora_model_saves_loads_and_predicts_the_same(tiny_model_dir, tmp_path):
    model = add_lora(model_from(tiny_model_dir), rank=2, seed=0)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.1)  # an update that changes the output
    sentences = ["The match went to penalties.", "Lovely pasta."]
    before = model.eval().predict_probs(sentences)
    model.save(tmp_path / "lora")
    loaded = MultiTaskModel.load(tmp_path / "lora")
    after = loaded.predict_probs(sentences)
    assert all(torch.equal(before[t], after[t]) for t in before)
    assert loaded.lora_settings == {"rank": 2, "alpha": 16, "dropout": 0.1,
                                    "targets": ["query", "value"]}


def test_a_lora_runs_best_checkpoint_loads(tiny_model_dir, small_data, tmp_path):
    model = add_lora(model_from(tiny_model_dir), rank=2, seed=0)
    train(model, small_data, TrainConfig(epochs=2, checkpoint_dir=str(tmp_path), **FAST))
    best = MultiTaskModel.load(tmp_path / "best")
    sentences = ["Rates went up again."]
    assert torch.equal(best.predict_probs(sentences)["topic"],
                       model.predict_probs(sentences)["topic"])


def test_freezing_cannot_thaw_the_weights_under_lora_adapters(tiny_model_dir):
    model = add_lora(model_from(tiny_model_dir), rank=2)
    for strategy in ("none", "bottom:1", "embeddings"):
        with pytest.raises(ValueError, match="under its LoRA adapters"):
            freeze(model, strategy)
    assert not any(p.requires_grad for n, p in model.named_parameters() if ".base_layer." in n)


# ---------------------------------------------------------------- 9: train/eval mode

def test_predicting_mid_training_keeps_a_frozen_encoder_in_eval_mode(tiny_model_dir):
    model = model_from(tiny_model_dir)
    model.train()
    model.encoder.eval()  # as training keeps a frozen encoder: no dropout where nothing learns
    model.predict(["Lovely pasta."])
    assert model.training and not model.encoder.training
    assert model.heads.training


def test_an_error_inside_encode_gives_the_mode_back(tiny_model_dir, monkeypatch):
    model = model_from(tiny_model_dir).train()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(model.encoder, "pooled", broken)
    with pytest.raises(RuntimeError, match="boom"):
        model.predict(["Lovely pasta."])
    assert model.training and model.encoder.training


# ---------------------------------------------------------------- 10: saves

def test_a_crash_while_replacing_a_checkpoint_leaves_one_complete(tiny_model_dir, tmp_path,
                                                                   monkeypatch):
    """At every instant either the old or the new checkpoint is complete: a crash at the
    first rename (the old code moved the old one away there) still leaves one."""
    from pathlib import Path

    model = model_from(tiny_model_dir)
    model.save(tmp_path / "ckpt")
    calls = []
    rename = Path.rename

    def crash_on_second(self, target):
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt("power cut")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", crash_on_second)
    with contextlib.suppress(KeyboardInterrupt):
        model.save(tmp_path / "ckpt")
    monkeypatch.undo()
    MultiTaskModel.load(tmp_path / "ckpt")  # complete, old or new


def test_a_truncated_weights_file_is_named_with_the_fix(tiny_model_dir, tmp_path):
    model_from(tiny_model_dir).save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"model\.safetensors.*truncated.*save the model again"):
        MultiTaskModel.load(tmp_path / "m")


# ---------------------------------------------------------------- 8: fp16 skipped steps

def test_the_schedule_waits_when_the_scaler_skips_a_step(tiny_model_dir, small_data,
                                                         monkeypatch):
    from accelerate import Accelerator

    monkeypatch.setattr(Accelerator, "optimizer_step_was_skipped", property(lambda self: True))
    history = train(model_from(tiny_model_dir), small_data,
                    TrainConfig(epochs=1, warmup_ratio=0.0, **FAST))
    rates = [row["lr/layer.2"] for row in history.steps]
    assert rates == [pytest.approx(1e-4)] * 3  # never decayed: no update was made


# ---------------------------------------------------------------- 6: every combination

COMBINATIONS = list(itertools.product(("fixed", "uncertainty", "pcgrad"), ("one", "per task"),
                                      (1, 2), ("none", "bottom:3", "lora")))


@pytest.mark.parametrize(("weighting", "sources", "accumulation", "freezing"), COMBINATIONS,
                         ids=["-".join(map(str, c)).replace(" ", "_") for c in COMBINATIONS])
def test_every_combination_trains_and_its_schedule_ends_at_zero(
        four_layer_dir, small_data, weighting, sources, accumulation, freezing):
    """Finding 6 (and the issue's grid): 2 epochs; the number of updates is the one the
    schedule was built for, so a linear schedule ends exactly at 0."""
    rows = small_data["train"].select(range(16))
    data = DatasetDict({"train": rows}) if sources == "one" else per_task(rows)
    model = model_from(four_layer_dir)
    model = add_lora(model, rank=2, seed=0) if freezing == "lora" else freeze(model, freezing)
    config = TrainConfig(epochs=2, loss_weighting=weighting, grad_accumulation=accumulation,
                         eval_split=None, warmup_ratio=0.0, **FAST)
    history = train(model, data, config)
    steps = 2 if sources == "one" or weighting == "pcgrad" else 4  # batches of 8 per epoch
    assert len(history.steps) == 2 * math.ceil(steps / accumulation)
    assert history.steps[-1]["lr/head:topic"] == 0.0
    assert all(math.isfinite(row["train/loss"]) for row in history.steps)


# ---------------------------------------------------------------- 3: fresh processes

RECIPE = """
import hashlib, sys, torch
torch.randn(int(sys.argv[1]))  # other random work first
from helpers import MultiTaskModel, SentenceEncoder, TrainConfig, load_sentences, training
from helpers.data import SENTENCE_TASKS
data = load_sentences()
data = type(data)({"train": data["train"].select(range(24)),
                   "validation": data["validation"].select(range(12))})
model = MultiTaskModel(SentenceEncoder.from_pretrained(), SENTENCE_TASKS, seed=0)
training.train(model, data, TrainConfig(epochs=1, seed=0, probe_epochs=2, progress=False))
digest = hashlib.sha256()
for name, tensor in sorted(model.state_dict().items()):
    digest.update(name.encode()); digest.update(tensor.numpy().tobytes())
print(digest.hexdigest())
"""


@pytest.mark.slow
def test_the_readme_recipe_gives_identical_weights_in_fresh_processes():
    """Finding 3: the same seeds give bit-identical trained weights in two new processes,
    whatever random work ran before the recipe."""
    import subprocess
    import sys

    digests = [subprocess.run([sys.executable, "-c", RECIPE, str(k)], capture_output=True,
                              text=True, check=True, cwd=REPO).stdout.split()[-1]
               for k in (1, 5)]
    assert digests[0] == digests[1]


@pytest.mark.parametrize("sampling", ["proportional", "round_robin"])
def test_uneven_sources_with_accumulation_keep_the_planned_updates(tiny_model_dir, small_data,
                                                                   sampling):
    """Finding 6: a small source that ends (and restarts) mid-update does not add or drop
    updates: 16 batches per epoch at accumulation 3 are 6 updates, and the rate reaches 0
    exactly at the last one."""
    rows = small_data["train"]
    data = {"topic": rows.remove_columns("sentiment").select(range(8)),  # 4 batches of 2
            "sentiment": rows.remove_columns("topic")}  # 12 batches of 2
    config = TrainConfig(epochs=2, grad_accumulation=3, eval_split=None, sampling=sampling,
                         warmup_ratio=0.0, **{**FAST, "batch_size": 2})
    history = train(model_from(tiny_model_dir), data, config)
    assert len(history.steps) == 2 * math.ceil(16 / 3)
    rates = [row["lr/head:topic"] for row in history.steps]
    assert rates[-1] == 0.0 and all(r > 0 for r in rates[:-1])


# ---------------------------------------------------------------- 10: resume

def test_a_run_resumed_mid_epoch_ends_with_the_same_weights(tiny_model_dir, small_data,
                                                            tmp_path):
    """Saved after every update, stopped mid-epoch, resumed into a differently built model:
    the same final weights and history as the run that was never stopped."""
    from helpers.training import Callback

    class Stop(Callback):
        def on_step_end(self, state):
            if state.step == 4:  # epoch 2 of 3 updates each
                raise KeyboardInterrupt

    def run(folder, callbacks=(), resume=None, seed=0):
        model = freeze(model_from(tiny_model_dir, seed=seed), "gradual:2")
        from helpers.experiments import unfreezing_callbacks

        config = TrainConfig(epochs=3, checkpoint_dir=str(folder), save_every=1,
                             loss_weighting="uncertainty", grad_accumulation=2,
                             **{**FAST, "probe_epochs": 2})
        history = train(model, small_data, config,
                        [*unfreezing_callbacks(model, "gradual:2"), *callbacks], resume)
        return model, history

    whole, history = run(tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "stopped", [Stop()])
    resumed, again = run(tmp_path / "stopped", resume=str(tmp_path / "stopped"), seed=7)
    assert all(torch.equal(value, resumed.state_dict()[name])
               for name, value in whole.state_dict().items())
    assert again.steps == history.steps and again.epochs == history.epochs


def test_resuming_needs_a_saved_state_and_the_same_settings(tiny_model_dir, small_data,
                                                            tmp_path):
    config = TrainConfig(epochs=1, checkpoint_dir=str(tmp_path), save_every=1, **FAST)
    with pytest.raises(ValueError, match="holds no saved training state"):
        train(model_from(tiny_model_dir), small_data, config, resume_from=str(tmp_path))
    train(model_from(tiny_model_dir), small_data, config)
    other = TrainConfig(epochs=1, checkpoint_dir=str(tmp_path), save_every=1, lr=3e-4, **FAST)
    with pytest.raises(ValueError, match=r"other settings: \['lr'\]"):
        train(model_from(tiny_model_dir), small_data, other, resume_from=str(tmp_path))
    with pytest.raises(ValueError, match="save_every=2 saves the training state under "
                                         "checkpoint_dir, which is not set"):
        TrainConfig(save_every=2)


@pytest.mark.slow
def test_a_killed_command_line_run_resumes_to_the_same_weights(tiny_model_dir, tmp_path):
    """A real SIGKILL mid-epoch to ``sentence-mtl train``, then ``--resume-from``: the same
    saved weights as an uninterrupted run (one CPU)."""
    import json
    import signal
    import subprocess
    import sys
    import time

    import pandas as pd
    from safetensors.torch import load_file

    rows = pd.read_csv(REPO / "data" / "sentences.csv").groupby("split").head(60)
    rows.to_csv(tmp_path / "rows.csv", index=False)

    def config(name):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({
            "model": str(tiny_model_dir), "data": str(tmp_path / "rows.csv"),
            "output_dir": str(tmp_path / name), "train": {
                "epochs": 4, "batch_size": 4, "probe_epochs": 2, "progress": False,
                "checkpoint_dir": str(tmp_path / name / "checkpoints"), "save_every": 1}}))
        return str(path)

    command = [sys.executable, "-m", "helpers", "train", "--config"]
    subprocess.run([*command, config("whole")], check=True, cwd=REPO, capture_output=True)
    stopped = subprocess.Popen([*command, config("stopped")], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "stopped" / "checkpoints" / "state"
    deadline = time.monotonic() + 300
    while not (state / "custom_checkpoint_2.pkl").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # somewhere in the middle of an epoch
    stopped.send_signal(signal.SIGKILL)
    stopped.wait()
    assert not (tmp_path / "stopped" / "model").exists()  # it really was cut short
    subprocess.run([*command, config("stopped"), "--resume-from",
                    str(tmp_path / "stopped" / "checkpoints")], check=True, cwd=REPO,
                   capture_output=True)
    whole = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    resumed = load_file(tmp_path / "stopped" / "model" / "model.safetensors")
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)


# ---------------------------------------------------------------- 12: the layer numbering

def test_stack_wide_parameters_follow_the_top_used_layer_and_unknown_names_fail():
    from helpers.components import component_of

    bias = "encoder.backbone.encoder.relative_attention_bias.weight"
    assert component_of(bias, 12) == "layer.12"
    assert component_of(bias, 12, top_layer=10) == "layer.10"  # pooled at layer 10: trained
    with pytest.raises(ValueError, match="'encoder.backbone.mystery.weight' is neither"):
        component_of("encoder.backbone.mystery.weight", 12)
