"""Speech recognition with CTC: audio of spoken digit strings in, the digits out.

    python -m experiments.speech --workdir runs/speech

Trains each recogniser of ``config.compare`` (a bidirectional LSTM, a unidirectional LSTM and a
tanh RNN, each behind the same convolutional front end) with the run driver (each in
--workdir/<model>/, checkpointed and resumable) on the generated spoken digits
(``nets.data.speech``; held-out speakers in the test split), then decodes the test split
greedily and with CTC prefix beam search and scores both:

- **digit error rate**: edit distance (substitutions + insertions + deletions) between the
  decoded and the true digit strings, summed, over the true digits' count;
- **exact utterances**: the fraction decoded without any error.

Writes results.json, learning_curves.png (training loss, and the test split's CTC loss and
exact-utterance rate at each evaluation) and utterance.png (one test utterance's log-mel
spectrogram with its words, and the BiLSTM's per-frame label probabilities: CTC's spikes),
and prints the table with a published CTC result beside it (TIMIT phonemes: another task).
"""

import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np

from experiments import cli
from experiments.configs import compared_run
from experiments.configs.speech import ANCHORS
from experiments.plotting import plt, save_run
from nets.audio import log_mel_spectrogram
from nets.checks import check_positive
from nets.data.registry import load_split
from nets.data.speech import MELS, SAMPLE_RATE, decode, references, utterances
from nets.metrics import sequence_scores
from nets.models.ctc import beam_decode, greedy_decode
from nets.training.config import validate_training
from nets.training.run_driver import metrics_rows, predict, train
from nets.training.workdir import prepare_workdir, run_header

# published label error rates (%), printed beside ours (Graves et al. 2006, Table 1: a
# BLSTM trained with CTC on TIMIT phonemes)
LABELS = {"bilstm": "bidirectional LSTM", "lstm": "LSTM", "tanh": "tanh RNN", "gru": "GRU"}
EXPERIMENT_FIELDS = ("compare", "beam_width")


def model_run(config: ml_collections.ConfigDict, name: str):
    """The training config of one compared recogniser."""
    return compared_run(config, name, config.data.name, EXPERIMENT_FIELDS)


def learning_figure(curves: dict):
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, rows in curves.items():
        label = LABELS.get(name, name)
        trained = [r for r in rows if "loss" in r]
        (line,) = left.plot([r["step"] for r in trained], [r["loss"] for r in trained])
        colour = line.get_color()
        tested = [r for r in rows if "test_loss" in r]
        steps = [r["step"] for r in tested]
        left.plot(steps, [r["test_loss"] for r in tested], "o", color=colour)
        right.plot(steps, [100 * r["test_accuracy"] for r in tested], "o-", color=colour,
                   label=label)  # fmt: skip
    left.set_yscale("log")
    left.set_ylabel("CTC loss per digit (line: training, dots: test)")
    right.set_ylabel("test utterances decoded exactly, greedy (%)")
    for ax in (left, right):
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    right.legend()
    figure.suptitle("recognising spoken digit strings with CTC")
    return figure


def utterance_figure(state, label: str):
    """The first test utterance: its log-mel spectrogram with the words it was synthesised
    with, and ``state``'s per-frame probabilities of each digit and of the blank."""
    spoken = utterances("test", 1)[0]
    features, frames = log_mel_spectrogram(spoken.audio[None], sample_rate=SAMPLE_RATE, mels=MELS)
    logits, lengths = jax.jit(state.model.apply)(state.variables, features, frames)
    probabilities = np.asarray(jax.nn.softmax(logits[0, : lengths[0]], axis=-1))
    output = decode(greedy_decode(logits, lengths)[0])
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    seconds = spoken.duration
    top.imshow(np.asarray(features[0, : frames[0]]).T, origin="lower", aspect="auto",
               extent=(0, seconds, 0, MELS), cmap="magma")  # fmt: skip
    for (start, end), digit in zip(spoken.words, spoken.transcript, strict=True):
        top.axvspan(start, end, ymin=0.92, ymax=1.0, color="white", alpha=0.6)
        top.text((start + end) / 2, MELS * 0.93, digit, ha="center", fontsize=11)
    top.set_ylabel("mel band")
    top.set_title(f"test utterance {spoken.transcript!r}, heard as {output!r} ({label})")
    times = (np.arange(len(probabilities)) + 0.5) * seconds / len(probabilities)
    bottom.plot(times, probabilities[:, 0], color="lightgrey", label="blank")
    for digit in range(1, probabilities.shape[1]):
        bottom.plot(times, probabilities[:, digit], label=decode([digit]))
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("p(symbol | frame)")
    bottom.legend(ncol=11, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return figure


def validate(config: ml_collections.ConfigDict) -> None:
    if not config.get("compare"):
        raise ValueError("config.compare names no recogniser to train")
    check_positive("config.beam_width", config.beam_width)
    for name in config.compare:  # every model and option is known before anything is trained
        validate_training(model_run(config, name), jax.device_count())


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    start = time.perf_counter()
    workdir = prepare_workdir(workdir)
    test = load_split(config.data.name, "test")
    truth = references(test)
    results, curves, states = {}, {}, {}
    for name in config.compare:
        label = LABELS.get(name, name)
        print(f"training the {label} recogniser on {config.data.name}", file=sys.stderr)
        outcome = train(model_run(config, name), workdir / name)
        states[name] = state = outcome["state"]
        logits, lengths = predict(state, test, config.eval_batch_size)
        results[name] = {
            "greedy": sequence_scores(greedy_decode(logits, lengths), truth),
            "beam": sequence_scores(beam_decode(logits, lengths, config.beam_width, label), truth),
            "parameters": sum(x.size for x in jax.tree.leaves(state.params)),
            "steps_per_s": outcome["steps_per_s"],
        }
        curves[name] = metrics_rows(workdir / name)
    print(f"\ndigit error rate (%) on {len(truth)} test utterances of held-out speakers")
    width = config.beam_width
    print(f"  {'model':<22}{'params':>9}{'greedy':>9}{f'beam {width}':>9}{'exact':>8}")
    for name, row in results.items():
        cells = f"{100 * row['greedy']['error_rate']:9.2f}{100 * row['beam']['error_rate']:9.2f}"
        exact = 100 * row["beam"]["exact"]
        print(f"  {LABELS.get(name, name):<22}{row['parameters']:>9,}{cells}{exact:8.1f}")
    for text, value in ANCHORS.items():
        print(f"  published: {text:<64} {value:5.2f}")
    first = next(iter(states))
    summary = {**run_header("speech", config, start), "models": results, "anchors": ANCHORS}
    figures = {
        "learning_curves.png": learning_figure(curves),
        "utterance.png": utterance_figure(states[first], LABELS.get(first, first)),
    }
    save_run(workdir, summary, figures)
    return summary


if __name__ == "__main__":
    cli.main(run, str(Path(__file__).parent / "configs" / "speech.py"), "runs/speech")
