"""Use a trained run on your own input, or export it.

    python -m experiments.predict --workdir runs/dates "9 May 2018" "the 1st of march 1999"
    python -m experiments.predict --workdir runs/dates "5/9/18" "2010-10-10" --order mdy
    python -m experiments.predict --workdir runs/sentiment "not bad at all, I loved it"
    python -m experiments.predict --workdir runs/speech/bilstm recording.wav --beam 8
    python -m experiments.predict --workdir runs/char_lm "def " --length 200 --temperature 0.8
    python -m experiments.predict --workdir runs/forecasting/lstm_sunspots my_series.csv
    python -m experiments.predict --workdir runs/train digit.png --top_k 3
    python -m experiments.predict --workdir runs/sentiment --export exported/sentiment

What an input is depends on the run's task (``nets.predict``): a text, a date, a prompt, or the
path of a .wav, CSV / text, PNG / JPEG or .npy file. ``--file F`` reads one input per line
(``-`` for standard input). One result per input is printed (a JSON line each with
``--json``); notices (resampled audio, words the model does not know) go to standard error.
The run is loaded read-only (``nets.training.load.load_run``): it may still be training.
Bad input, or a run that cannot be loaded, ends with one line, ``error: ...``, and status 1.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

from nets.predict import InputError, predict
from nets.training.load import RunError, load_run

OPTIONS = {  # the options each task takes from the command line
    "text_classification": (),
    "translation": ("beam", "order"),
    "speech": ("beam",),
    "language_model": ("length", "temperature", "seed"),
    "forecast": (),
    "image": ("top_k",),
    "arrays": (),
}


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m experiments.predict", description=__doc__.splitlines()[0]
    )
    parse.add_argument("inputs", nargs="*", help="texts, or paths of files to read")
    parse.add_argument("--workdir", required=True, help="the run's work directory")
    parse.add_argument("--file", help="read one input per line from this file ('-': stdin)")
    parse.add_argument("--json", action="store_true", help="print one JSON line per input")
    parse.add_argument("--step", type=int, help="the checkpoint's step (default: the latest)")
    parse.add_argument("--beam", type=int, default=0, help="beam width (0: greedy)")
    parse.add_argument(
        "--order",
        choices=("dmy", "mdy"),
        help="dates: 5/9/18 is 5 September (dmy, default) or May 9 (mdy)",
    )
    parse.add_argument("--length", type=int, default=200, help="characters to sample")
    parse.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")
    parse.add_argument("--seed", type=int, default=0, help="sampling seed")
    parse.add_argument("--top_k", type=int, default=5, help="labels shown per image")
    parse.add_argument("--export", metavar="OUT", help="write the jax.export artifact to OUT")
    return parse


def read_inputs(args) -> list[str]:
    inputs = list(args.inputs)
    if args.file:
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"--file {args.file}: cannot be read ({error})") from None
        inputs += [line for line in text.splitlines() if line.strip()]
    return inputs


def check_options(args) -> None:
    if args.beam < 0:
        raise InputError(f"--beam must be >= 0, got {args.beam}")
    if args.length < 1 or args.top_k < 1:
        raise InputError("--length and --top_k must be positive integers")
    if not args.temperature > 0:
        raise InputError(f"--temperature must be > 0, got {args.temperature}")


def line(task: str, record: dict) -> str:
    """One result as a person reads it."""
    if task == "text_classification":
        return f"{record['label']} ({record['probability']:.3f})\t{record['input']}"
    if task == "translation":
        notes = "" if record["ended"] else "  [did not end]"
        if record.get("valid") is False:
            notes += "  [not a calendar date]"
        return f"{record['output']}\t(log p = {record['log_probability']:.3f}){notes}"
    if task == "speech":
        return f"{record['input']}\t{record['transcript']}"
    if task == "language_model":
        return record["output"]
    if task == "forecast":
        values = ", ".join(f"{value:.4g}" for value in record["forecast"])
        return f"{record['input']}\tnext {len(record['forecast'])} {record['step']}s: {values}"
    if task == "image":
        top = ", ".join(f"{t['label']} ({t['probability']:.3f})" for t in record["top"])
        return f"{record['input']}\t{top}"
    return json.dumps(record)


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    logging.getLogger("absl").setLevel(logging.ERROR)  # orbax's notes on a read-only manager
    try:
        check_options(args)
        run = load_run(args.workdir, step=args.step)
        if args.export:
            from nets.export import export_run

            print(f"exported {run.task} model (step {run.step}) to {export_run(run, args.export)}")
            return
        inputs = read_inputs(args)
        if args.order and "order" not in OPTIONS[run.task]:
            raise InputError("--order: this model's inputs have no order of days and months")
        options = {name: getattr(args, name) for name in OPTIONS[run.task]}
        if run.task in ("text_classification", "speech"):
            options["notice"] = lambda text: print(f"notice: {text}", file=sys.stderr)
        records = predict(run, inputs, **options)
    except (RunError, InputError) as error:
        sys.exit(f"error: {error}")
    for record in records:
        print(json.dumps(record) if args.json else line(run.task, record))


if __name__ == "__main__":
    main()
