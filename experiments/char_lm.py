"""A character-level language model against the n-gram baselines it must beat.

    python -m experiments.char_lm --workdir runs/char_lm

On the pydoc corpus (``nets.data.corpus``, split by documents) this fits the baselines (the
add-one unigram and interpolated Kneser–Ney n-grams of ``config.ngram_orders``, ``nets.ngram``),
trains the LSTM of ``config`` with the run driver (checkpointed, resumable, in
--workdir/model/), and scores everything in bits per character on the same test text. The
LSTM reads the whole test text as one sequence, carrying its state from the first character to
the last, as the n-grams do (``test bpc``); the run driver's own score of independent
windows, each starting from a zero state, is reported beside it. Writes results.json,
learning_curves.png (train and validation bpc, with the best n-gram) and samples.txt (the
prompt continued at each temperature), and prints a table with the published anchors.
"""

import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import cli
from experiments.configs import without
from experiments.plotting import plt, save_run
from nets.checks import check_positive
from nets.data.corpus import pydoc_text
from nets.data.text import CHARACTERS
from nets.models.sampling import check_temperature
from nets.ngram import KneserNey, unigram_bits
from nets.predict import sample_text
from nets.training.config import validate_training
from nets.training.run_driver import metrics_rows, train
from nets.training.workdir import prepare_workdir, run_header, write_outputs

# published character-level results, printed beside ours (DESIGN.md); other corpora
ANCHORS = {
    "Karpathy et al. 2015, LSTM, War and Peace (bpc)": 1.077,
    "Karpathy et al. 2015, 20-gram, War and Peace (bpc)": 1.195,
    "nanoGPT char transformer, tiny_shakespeare val (bpc; 1.47 nats)": 1.47 / math.log(2),
}
LN2 = math.log(2)


def training_part(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The run driver's config: ``config`` without this experiment's own groups."""
    return without(config, "ngram_orders", "sample")


def validate(config: ml_collections.ConfigDict) -> None:
    if not config.data.name.startswith("pydoc_chars"):
        raise ValueError(f"config.data.name must be pydoc_chars[/L], got {config.data.name!r}")
    if not config.ngram_orders:
        raise ValueError("empty sweep: config.ngram_orders needs at least one order")
    for order in config.ngram_orders:
        check_positive("config.ngram_orders entry", order)
    check_positive("config.sample.length", config.sample.length)
    for temperature in config.sample.temperatures:
        check_temperature("config.sample.temperatures entry", temperature)
    validate_training(training_part(config), jax.device_count())


def ngram_baselines(ids: dict[str, np.ndarray], orders) -> dict:
    """bpc of the unigram and each Kneser–Ney order on validation and test; the best order is
    chosen on validation."""
    size = len(CHARACTERS)
    rows = [
        {
            "model": "unigram (add-one)",
            "validation": unigram_bits(ids["train"], ids["validation"], size),
            "test": unigram_bits(ids["train"], ids["test"], size),
        }
    ]
    for order in orders:
        model = KneserNey.fit(ids["train"], order, size)
        rows.append(
            {
                "model": f"{order}-gram Kneser-Ney",
                "order": order,
                "validation": model.bits_per_token(ids["validation"]),
                "test": model.bits_per_token(ids["test"]),
            }
        )
    best = min(rows[1:], key=lambda row: row["validation"]) if len(rows) > 1 else rows[0]
    return {"rows": rows, "best": best}


def whole_text_bits(state, ids: np.ndarray) -> float:
    """bpc of the model reading ``ids`` as one sequence from a zero state: the mean of
    -log2 P(x_{t+1} | x_1..x_t) over every character after the first."""
    logits = jax.jit(lambda x: state.model.apply(state.variables, x))(jnp.asarray(ids[None, :-1]))
    log_p = jax.nn.log_softmax(logits[0], axis=-1)
    nats = -jnp.take_along_axis(log_p, jnp.asarray(ids[1:, None]), axis=-1).mean()
    return float(nats) / LN2


def curves_figure(rows: list[dict], best: dict, unigram: float):
    figure, ax = plt.subplots(figsize=(6.5, 4))
    steps = [row["step"] for row in rows]
    ax.plot(steps, [row["loss"] / LN2 for row in rows], label="LSTM, training (interval mean)")
    evaluated = [row for row in rows if "validation_loss" in row]
    ax.plot(
        [row["step"] for row in evaluated],
        [row["validation_loss"] / LN2 for row in evaluated],
        "o-",
        label="LSTM, validation",
    )
    ax.axhline(best["validation"], color="tab:red", linestyle="--", label=f"{best['model']}")
    ax.axhline(unigram, color="grey", linestyle=":", label="unigram")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.set_ylim(top=min(unigram + 0.5, max(row["loss"] / LN2 for row in rows)))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("character language model on pydoc text")
    return figure


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    start = time.perf_counter()
    workdir = prepare_workdir(workdir)
    text = pydoc_text()
    ids = {split: CHARACTERS.encode(part) for split, part in text.items()}
    print("fitting the n-gram baselines", file=sys.stderr)
    baselines = ngram_baselines(ids, config.ngram_orders)
    print("training the LSTM", file=sys.stderr)
    outcome = train(training_part(config), workdir / "model")
    state = outcome["state"]
    lstm = {
        "test": whole_text_bits(state, ids["test"]),
        "validation": whole_text_bits(state, ids["validation"]),
        "test_windows": outcome["test"]["loss"] / LN2,
        "steps_per_s": outcome["steps_per_s"],
    }
    samples = {
        str(t): sample_text(
            state.model,
            state.variables,
            CHARACTERS,
            config.sample.prompt,
            config.sample.length,
            temperature=t,
            key=jax.random.key(config.sample.seed),
        )
        for t in config.sample.temperatures
    }
    best = baselines["best"]
    gain = 1 - lstm["test"] / best["test"]
    print(f"\nbits per character on the pydoc test text ({len(ids['test']):,} characters)")
    for row in baselines["rows"]:
        print(f"  {row['model']:<28} validation {row['validation']:.3f}  test {row['test']:.3f}")
    print(
        f"  {'LSTM (whole text)':<28} validation {lstm['validation']:.3f}  test {lstm['test']:.3f}"
        f"   ({100 * gain:.1f}% below the best n-gram, {best['model']})"
    )
    print(f"  {'LSTM (independent windows)':<28} {'':<17} test {lstm['test_windows']:.3f}")
    for label, value in ANCHORS.items():
        print(f"  published: {label:<64} {value:.3f}")
    for temperature, sample in samples.items():
        print(f"\n--- sample at temperature {temperature} ---\n{sample}")
    rows = metrics_rows(workdir / "model")
    figure = curves_figure(rows, best, baselines["rows"][0]["validation"])
    samples_text = "".join(f"--- temperature {t} ---\n{s}\n\n" for t, s in samples.items())
    write_outputs(workdir, {"samples.txt": samples_text.encode()})
    summary = {
        **run_header("char_lm", config, start),
        "baselines": baselines,
        "lstm": lstm,
        "gain_over_best_ngram": gain,
        "samples": samples,
        "anchors": ANCHORS,
    }
    save_run(workdir, summary, {"learning_curves.png": figure})
    return summary


if __name__ == "__main__":
    cli.main(run, str(Path(__file__).parent / "configs" / "char_lm.py"), "runs/char_lm")
