"""Sentiment analysis (the lecture's "Think & Apply 2"): which models read negation, contrast and
long reviews?

    python -m experiments.sentiment --workdir runs/sentiment

Trains each model of ``config.compare`` (an LSTM, a tanh RNN, and the bag-of-embeddings baseline
that sees the same words but not their order) on the generated reviews of
``nets.data.reviews`` at each longest filler D of ``config.distances``, with the run driver
(each in --workdir/<model>_d<D>/, checkpointed and resumable), then measures test accuracy at
each D and, within each, against the distance between the deciding clause and the end of the
review. Every model is then scored on the hand-written natural test set (220 ordinary review
sentences, ``nets.data.reviews.natural_reviews``), as a whole and on the sentences where
order decides (a negation, a contrast or a concession), beside VADER (Hutto & Gilbert 2014:
the rule-based analyser built from the same lexicon, compound score > 0 as positive), with the
set's out-of-vocabulary rate, and on the 232 validation sentences the settings were chosen on.
Writes results.json and accuracy_vs_distance.png, and prints the tables with the published IMDB
anchors beside them (another data set: they say what an LSTM reaches on real reviews, not on
these).
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
from nets.data.reviews import (
    CONCESSIONS,
    CONTRASTS,
    max_review_length,
    natural_reviews,
    review_split,
    vocabulary,
)
from nets.data.text import OOV, pad, words
from nets.training.config import validate_training
from nets.training.run_driver import predict, train
from nets.training.workdir import prepare_workdir, run_header

# published IMDB accuracies (%), printed beside ours (DESIGN.md)
ANCHORS = {
    "Maas et al. 2011 (IMDB)": 88.89,
    "Keras 2-layer BiLSTM(64) (IMDB)": 87.8,
    "flax SST-2 BiLSTM example (SST-2)": 85.4,
}
LABELS = {
    "lstm": "LSTM",
    "tanh": "tanh RNN",
    "gru": "GRU",
    "bag_of_embeddings": "bag of embeddings",
}


def model_run(config: ml_collections.ConfigDict, name: str, distance: int):
    """The training config of one compared model at one longest filler: ``config`` with
    ``config.compare[name]`` as its model and 'reviews/<distance>' as its data."""
    return compared_run(config, name, f"reviews/{distance}", ("compare", "distances"))


def by_distance(correct: np.ndarray, distances: np.ndarray, bins: int = 8) -> list[dict]:
    """Accuracy in ``bins`` equal ranges of the distance (words after the deciding clause)."""
    edges = np.linspace(0, distances.max() + 1, bins + 1).astype(int)
    rows = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (distances >= low) & (distances < high)
        if inside.any():
            rows.append(
                {
                    "low": int(low),
                    "high": int(high - 1),
                    "accuracy": float(correct[inside].mean()),
                    "count": int(inside.sum()),
                }
            )
    return rows


def natural_arrays(distance: int, split: str = "test") -> dict:
    """A natural set ('test', or 'validation': the one settings were tuned on) as the models
    read it, with 'order' [N]: the sentence has a negation (VADER's list, or a word ending in
    "n't"), a contrast or a concession."""
    from vaderSentiment.vaderSentiment import NEGATE

    natural = natural_reviews(split)
    ids, lengths = pad(
        [vocabulary().encode(t) for t in natural["texts"]], max_review_length(distance)
    )
    markers = set(NEGATE) | {w for link in CONTRASTS + CONCESSIONS for w in link.split()}
    order = [any(w in markers or w.endswith("n't") for w in words(t)) for t in natural["texts"]]
    return {
        "inputs": ids,
        "lengths": lengths,
        "targets": np.array(natural["labels"], np.int32),
        "order": np.array(order),
    }


def vader_says_positive(texts: list[str]) -> np.ndarray:
    """VADER's compound score > 0, per text."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    return np.array([analyser.polarity_scores(t)["compound"] > 0 for t in texts])


def natural_scores(says_positive: np.ndarray, natural: dict) -> dict[str, float]:
    correct = says_positive == (natural["targets"] == 1)
    return {
        "accuracy": float(correct.mean()),
        "order_decides": float(correct[natural["order"]].mean()),
        "order_free": float(correct[~natural["order"]].mean()),
    }


def accuracy_figure(results: dict, distances: list[int]):
    """Left: test accuracy against the longest filler D the model was trained and tested with.
    Right: at the largest D, accuracy against each review's own distance."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, runs in results.items():
        label = LABELS.get(name, name)
        left.plot(distances, [100 * runs[str(d)]["accuracy"] for d in distances], "o-", label=label)
        rows = runs[str(distances[-1])]["by_distance"]
        middles = [(r["low"] + r["high"]) / 2 for r in rows]
        right.plot(middles, [100 * r["accuracy"] for r in rows], "o-", label=label)
    left.set_xlabel("longest filler after the deciding clause, D (words)")
    right.set_xlabel(f"words after the deciding clause (reviews with D = {distances[-1]})")
    for ax in (left, right):
        ax.axhline(50, color="grey", linestyle=":", label="chance")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(40, 102)
        ax.grid(alpha=0.3)
    left.legend()
    figure.suptitle("sentiment of generated reviews: who reads negation and contrast, how far")
    return figure


def validate(config: ml_collections.ConfigDict) -> None:
    if not config.get("compare"):
        raise ValueError("config.compare names no model to train")
    if not config.get("distances"):
        raise ValueError("empty sweep: config.distances needs at least one longest filler")
    for distance in config.distances:
        check_positive("config.distances entry", distance)
    for name in config.compare:  # every model and option is known before anything is trained
        validate_training(model_run(config, name, config.distances[0]), jax.device_count())


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    start = time.perf_counter()
    workdir = prepare_workdir(workdir)
    distances = list(config.distances)
    results = {name: {} for name in config.compare}
    for distance in distances:
        test = review_split("test", distance)
        natural = {split: natural_arrays(distance, split) for split in ("test", "validation")}
        for name in config.compare:
            print(f"training {LABELS.get(name, name)} with D = {distance}", file=sys.stderr)
            outcome = train(model_run(config, name, distance), workdir / f"{name}_d{distance}")
            says_positive = predict(outcome["state"], test)[:, 0] > 0  # logit > 0
            correct = says_positive == (test["targets"] == 1)
            scores = {
                split: natural_scores(predict(outcome["state"], arrays)[:, 0] > 0, arrays)
                for split, arrays in natural.items()
            }
            results[name][str(distance)] = {
                "accuracy": float(correct.mean()),
                "by_distance": by_distance(correct, test["distances"]),
                "natural": scores["test"],
                "natural_validation": scores["validation"],
                "steps_per_s": outcome["steps_per_s"],
            }
    print(f"\ntest accuracy (%) on {len(test['targets'])} generated reviews, by longest filler D")
    print(f"  {'model':<20}" + "".join(f"{f'D={d}':>8}" for d in distances))
    for name, runs in results.items():
        cells = "".join(f"{100 * runs[str(d)]['accuracy']:8.1f}" for d in distances)
        print(f"  {LABELS.get(name, name):<20}{cells}")
    natural = {split: natural_arrays(distances[0], split) for split in ("test", "validation")}
    vader, vader_validation = (
        natural_scores(vader_says_positive(natural_reviews(split)["texts"]), arrays)
        for split, arrays in natural.items()
    )
    tuning, natural = natural["validation"], natural["test"]
    unknown = float(np.mean(natural["inputs"][natural["inputs"] > 0] == OOV))
    count, ordered = len(natural["targets"]), int(natural["order"].sum())
    print(f"\nnatural test set: {count} hand-written sentences, {100 * unknown:.1f}% of their "
          f"tokens out of vocabulary; accuracy (%) overall, where order decides ({ordered}: "
          f"a negation, contrast or concession) and elsewhere ({count - ordered}); and on the "
          f"{len(tuning['targets'])} validation sentences settings were chosen on")  # fmt: skip
    print(f"  {'model':<26}{'all':>8}{'order':>8}{'other':>8}{'valid.':>8}")
    rows = [(f"{LABELS.get(n, n)}, D={d}", r[str(d)]["natural"], r[str(d)]["natural_validation"])
            for n, r in results.items() for d in distances]  # fmt: skip
    for label, row, valid in [*rows, ("VADER (rules, same lexicon)", vader, vader_validation)]:
        cells = "".join(f"{100 * row[k]:8.1f}" for k in ("accuracy", "order_decides", "order_free"))
        print(f"  {label:<26}{cells}{100 * valid['accuracy']:8.1f}")
    for label, value in ANCHORS.items():
        print(f"  published: {label:<36} {value:5.2f}")
    summary = {
        **run_header("sentiment", config, start),
        "models": results,
        "natural": {"vader": vader, "vader_validation": vader_validation,
                    "out_of_vocabulary": unknown, "sentences": count, "order_decides": ordered},
        "anchors": ANCHORS,
    }  # fmt: skip
    save_run(workdir, summary, {"accuracy_vs_distance.png": accuracy_figure(results, distances)})
    return summary


if __name__ == "__main__":
    cli.main(run, str(Path(__file__).parent / "configs" / "sentiment.py"), "runs/sentiment")
