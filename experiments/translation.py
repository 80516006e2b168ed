"""Machine translation with an encoder-decoder: does attention remove the fixed-size bottleneck?

    python -m experiments.translation --workdir runs/translation

Trains each model of ``config.compare`` (the encoder-decoder with additive attention and the
one without) with the run driver (each in --workdir/<model>_<data>/, checkpointed and
resumable) on two generated tasks (``nets.data.translation``):

- **dates** into ISO form, on held-out days: exact-sequence accuracy with greedy decoding and
  with beam search, and the attention weights of a few test dates (a heat map);
- **reversal** of digit strings of 1..L digits: exact-sequence accuracy against the source's
  length, in the spirit of Bahdanau et al.'s BLEU-against-length figure: without attention
  every digit must pass through the encoder's final state, so the accuracy falls with L.

Writes results.json, accuracy_vs_length.png and attention.png, and prints the table with the
published anchors beside it (other tasks: they say what such models reach, not on these).
"""

import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import cli
from experiments.configs import compared_run
from experiments.plotting import plt, save_run
from nets.checks import check_positive
from nets.data.batches import eval_batches, take
from nets.data.registry import load_split
from nets.data.text import PAD
from nets.data.translation import END_ID, ORDER_MARKS, START_ID, decode_targets
from nets.models.decoding import beam_search, greedy_decode
from nets.models.seq2seq import EncoderDecoder
from nets.training.config import validate_training
from nets.training.run_driver import train
from nets.training.workdir import prepare_workdir, run_header

# published results (%), printed beside ours (DESIGN.md)
ANCHORS = {
    "flax seq2seq example, 3-digit addition after 5,000 steps": 100.0,
    "Keras addition RNN example, 3-digit addition": 99.0,
}
LABELS = {"attention": "with attention", "no_attention": "without attention"}
EXPERIMENT_FIELDS = ("compare", "length_task", "beam_width", "alpha", "heatmaps")


def model_run(config: ml_collections.ConfigDict, name: str, data: str):
    """The training config of one compared model on one data set."""
    return compared_run(config, name, data, EXPERIMENT_FIELDS)


def decode(state, arrays: dict, max_length: int, beam_width: int = 0, alpha: float = 0.0):
    """[N, max_length] output tokens for every source of ``arrays``: greedy decoding, or beam
    search with ``beam_width`` > 0."""
    rows = []
    for batch in eval_batches(arrays, 500):
        source, lengths = batch["inputs"]["source"], batch["lengths"]
        kwargs = dict(max_length=max_length, start=START_ID, end=END_ID, pad=PAD)
        if beam_width:
            tokens, _ = beam_search(
                state.model, state.variables, source, lengths, beam_width=beam_width,
                alpha=alpha, **kwargs,
            )  # fmt: skip
        else:
            tokens = greedy_decode(state.model, state.variables, source, lengths, **kwargs)
        rows.append(np.asarray(tokens))
    return np.concatenate(rows)[: len(arrays["targets"])]


def exact(state, arrays: dict, **kwargs) -> np.ndarray:
    """[N] booleans: the decoded output equals the target string exactly (its END included:
    an output that does not stop is wrong)."""
    max_length = arrays["targets"].shape[1]
    outputs = decode(state, arrays, max_length, **kwargs)
    ended = (outputs == END_ID).any(axis=1)
    return ended & (
        np.array(decode_targets(outputs)) == np.array(decode_targets(arrays["targets"]))
    )


def by_length(correct: np.ndarray, lengths: np.ndarray) -> dict[str, float]:
    """Exact-match accuracy per source length."""
    return {str(n): float(correct[lengths == n].mean()) for n in np.unique(lengths)}


def attention_weights(state, arrays: dict, count: int) -> list[dict]:
    """The first ``count`` test examples with the attention weights [T, S] the decoder gives
    its own greedy output (read back with teacher forcing)."""
    batch = take(arrays, slice(count))
    source, lengths = batch["inputs"]["source"], batch["lengths"]
    outputs = greedy_decode(
        state.model, state.variables, source, lengths,
        max_length=arrays["targets"].shape[1], start=START_ID, end=END_ID, pad=PAD,
    )  # fmt: skip
    inputs = np.concatenate([np.full((count, 1), START_ID), np.asarray(outputs)[:, :-1]], 1)
    memory, carry = state.model.apply(
        state.variables, source, lengths, method=EncoderDecoder.encode
    )
    _, _, weights = state.model.apply(
        state.variables, memory, carry, inputs, method=EncoderDecoder.decode
    )
    examples = []
    for row, text in enumerate(decode_targets(source)):
        output = decode_targets(outputs[row : row + 1])[0]
        steps = min(len(output) + 1, weights.shape[1])  # its END too, if it stopped
        matrix = np.asarray(weights[row, :steps, : len(text)])
        examples.append({"source": text, "output": output, "weights": matrix.tolist()})
    return examples


def length_figure(results: dict, task: str):
    figure, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, runs in results.items():
        curve = runs[task]["by_length"]
        lengths = [int(n) for n in curve]
        ax.plot(lengths, [100 * curve[str(n)] for n in lengths], "o-", label=LABELS.get(name, name))
    ax.set_xlabel("source length (digits)")
    ax.set_ylabel("exact-sequence accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{task}: the fixed-size context vector against attention")
    return figure


def attention_figure(examples: list[dict]):
    figure, axes = plt.subplots(1, len(examples), figsize=(4.2 * len(examples), 3.2))
    for ax, example in zip(np.atleast_1d(axes), examples, strict=True):
        weights = np.array(example["weights"])
        ax.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
        names = {mark: order for order, mark in ORDER_MARKS.items()}  # the unprintable marks
        source = [names.get(c, c) for c in example["source"]]
        ax.set_xticks(range(len(source)), source, fontsize=7)
        labels = [*example["output"], "END"][: len(weights)]
        ax.set_yticks(range(len(weights)), labels, fontsize=7)
        ax.set_xlabel("source character")
    np.atleast_1d(axes)[0].set_ylabel("output character")
    figure.suptitle("attention weights a_tj on held-out dates (darker = more weight)")
    return figure


def validate(config: ml_collections.ConfigDict) -> None:
    if "attention" not in config.get("compare", {}):
        raise ValueError("config.compare needs an 'attention' model (for the heat map)")
    check_positive("config.beam_width", config.beam_width)
    check_positive("config.heatmaps", config.heatmaps)
    for name in config.compare:  # every model and option is known before anything is trained
        for data in (config.data.name, config.length_task):
            validate_training(model_run(config, name, data), jax.device_count())


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    start = time.perf_counter()
    workdir = prepare_workdir(workdir)
    dates, task = config.data.name, config.length_task
    tests = {data: load_split(data, "test") for data in (dates, task)}
    results = {name: {} for name in config.compare}
    states = {}
    for data in (dates, task):
        for name in config.compare:
            print(f"training {LABELS.get(name, name)} on {data}", file=sys.stderr)
            folder = f"{name}_{data.replace('/', '')}"
            outcome = train(model_run(config, name, data), workdir / folder)
            states[name, data] = state = outcome["state"]
            greedy = exact(state, tests[data])
            results[name][data] = {
                "greedy": float(greedy.mean()),
                "by_length": by_length(greedy, tests[data]["lengths"]),
                "steps_per_s": outcome["steps_per_s"],
            }
    for name in config.compare:  # beam search where it matters: the dates
        beam = exact(states[name, dates], tests[dates], beam_width=config.beam_width,
                     alpha=config.alpha)  # fmt: skip
        results[name][dates]["beam"] = float(beam.mean())
    examples = attention_weights(states["attention", dates], tests[dates], config.heatmaps)
    size = len(tests[dates]["targets"])
    print(f"\nexact-sequence accuracy (%) on {size} held-out dates, and on {task} (greedy)")
    print(f"  {'model':<20}{'greedy':>8}{f'beam {config.beam_width}':>8}{task:>14}")
    for name, runs in results.items():
        cells = f"{100 * runs[dates]['greedy']:8.1f}{100 * runs[dates]['beam']:8.1f}"
        print(f"  {LABELS.get(name, name):<20}{cells}{100 * runs[task]['greedy']:14.1f}")
    for label, value in ANCHORS.items():
        print(f"  published: {label:<58} {value:5.1f}")
    summary = {
        **run_header("translation", config, start),
        "models": results,
        "attention_examples": examples,
        "anchors": ANCHORS,
    }
    figures = {
        "accuracy_vs_length.png": length_figure(results, task),
        "attention.png": attention_figure(examples),
    }
    save_run(workdir, summary, figures)
    return summary


if __name__ == "__main__":
    cli.main(run, str(Path(__file__).parent / "configs" / "dates.py"), "runs/translation")
