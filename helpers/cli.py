"""``sentence-mtl``: encode sentences, predict with a saved model, or train, from the shell.

Also ``python -m helpers``. ``sentence-mtl train`` is ``python -m helpers.train``. Errors
print one line naming the problem and exit with status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .runtime import quiet_libraries

EXAMPLES = {
    "encode": 'sentence-mtl encode "The striker scored twice." --output vectors.npy',
    "predict": 'sentence-mtl predict "The soup was cold." --task sentiment',
    "train": "sentence-mtl train --config configs/example.json",
    "export": "sentence-mtl export --model runs/latest/model --to sentence-transformers st/",
}


def read_sentences(given: Sequence[str], file: str | None) -> list[str]:
    """Sentences from the command line, then one per line of ``file``; none is an error."""
    sentences = list(given)
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise ValueError(f"no file at {file!r}")
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                raise ValueError(f"{file}: line {number} is empty; write one sentence per line")
            sentences.append(line.strip())
    if not sentences:
        raise ValueError("no sentences: give them as arguments or with --file")
    return sentences


def encode(args: argparse.Namespace) -> int:
    from .encoder import SentenceEncoder

    sentences = read_sentences(args.sentences, args.file)
    encoder = SentenceEncoder.from_pretrained(args.model, args.pooling, args.layer)
    vectors = encoder.encode(sentences, batch_size=args.batch_size, dim=args.dim)  # (n, dim)
    for sentence, vector in zip(sentences, vectors, strict=True):
        first = " ".join(f"{value:+.4f}" for value in vector[:5])
        print(f"{sentence!r}: shape {vector.shape}, norm {np.linalg.norm(vector):.3f}, "
              f"first values {first} …")
    if args.output:
        np.save(args.output, vectors)
        print(f"wrote {vectors.shape} float32 to {args.output}")
    return 0


def _saved_model(path: str) -> str:
    """``path`` if it is a directory (``MultiTaskModel.load`` names what else is wrong)."""
    if not Path(path).is_dir():
        raise ValueError(f"no saved model directory at {path!r}")
    return path


def predict(args: argparse.Namespace) -> int:
    sentences = read_sentences(args.sentences, args.file)
    if args.model is None:
        from .default_model import default_model

        folder = default_model(retrain=args.retrain)
    elif args.retrain:
        raise ValueError("--retrain rebuilds the default model; it cannot retrain --model")
    else:
        folder = _saved_model(args.model)
    from .multitask import MultiTaskModel

    model = MultiTaskModel.load(folder)
    if args.task is not None and args.task not in model.task_names:
        raise ValueError(f"unknown task {args.task!r}; this model's tasks are "
                         f"{', '.join(model.task_names)}")
    results = [{task: answer for task, answer in result.items()
                if args.task in (None, task)} for result in model.predict(sentences)]
    if args.json:
        print(json.dumps([{"text": s, **r} for s, r in zip(sentences, results, strict=True)],
                         indent=2))
        return 0
    for sentence, result in zip(sentences, results, strict=True):
        answers = ", ".join(f"{task}: {a['label']} ({a['probs'][a['label']]:.2f})"
                            for task, a in result.items())
        print(f"{sentence!r}: {answers}")
    return 0


def export(args: argparse.Namespace) -> int:
    from .export import export_sentence_transformer
    from .multitask import MultiTaskModel

    model = MultiTaskModel.load(_saved_model(args.model))
    written = export_sentence_transformer(model, args.output, projection=not args.no_projection)
    print(f"wrote a sentence-transformers model to {written}: "
          f"SentenceTransformer({str(written)!r}).encode([...])")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .train import command

    return command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentence-mtl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run, summary in (("encode", encode, "sentence vectors"),
                               ("predict", predict, "labels and probabilities per task"),
                               ("train", _train, "train a multi-task model from a JSON config"),
                               ("export", export, "write a saved model in another library's "
                                                  "format")):
        command = commands.add_parser(name, help=summary, description=summary,
                                      epilog=f"example: {EXAMPLES[name]}")
        command.set_defaults(run=run)
        if name in ("encode", "predict"):
            command.add_argument("sentences", nargs="*", help="sentences to process")
            command.add_argument("--file", help="a text file, one sentence per line")
    encode_command, predict_command, train_command, export_command = commands.choices.values()
    encode_command.add_argument("--model", help="hub name or local path (default: packaged "
                                                "all-MiniLM-L6-v2)")
    encode_command.add_argument("--pooling", help="mean | cls | max (default: a "
                                "sentence-transformers directory's own, else mean)")
    encode_command.add_argument("--layer", type=int, default=-1,
                                help="hidden state to pool: 0 embeddings … L; -1 the last")
    encode_command.add_argument("--batch-size", type=int, default=32)
    encode_command.add_argument("--dim", type=int, help="keep the first DIM coordinates "
                                "(Matryoshka-style truncation, re-normalised)")
    encode_command.add_argument("--output", help="write the vectors to this .npy file")
    predict_command.add_argument("--model", help="a directory written by MultiTaskModel.save "
                                 "(default: the default model, built once into your cache)")
    predict_command.add_argument("--task", help="print this task only (e.g. topic)")
    predict_command.add_argument("--retrain", action="store_true",
                                 help="build the default model again")
    predict_command.add_argument("--json", action="store_true", help="machine-readable output")
    export_command.add_argument("--model", required=True,
                                help="a directory written by MultiTaskModel.save")
    export_command.add_argument("--to", required=True, choices=["sentence-transformers"],
                                help="the format to write")
    export_command.add_argument("output", help="the directory to write")
    export_command.add_argument("--no-projection", action="store_true",
                                help="leave the learned projection out")
    add_train_arguments(train_command)
    return parser


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``sentence-mtl train`` and ``python -m helpers.train`` (one parser;
    here, so that parsing any subcommand imports nothing of the training code)."""
    parser.add_argument("--config", required=True, help="JSON file (see configs/example.json)")
    parser.add_argument("--output-dir", help="overrides the config's output_dir")
    parser.add_argument("--resume-from", help="the train.checkpoint_dir of an interrupted run "
                        "(saved every train.save_every updates): go on from there")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; on a bad input print one line to stderr and return 2."""
    args = build_parser().parse_args(argv)
    quiet_libraries()  # a command owns its process: keep its output to the result
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as error:
        print(f"sentence-mtl {args.command}: error: {error}", file=sys.stderr)
        return 2
