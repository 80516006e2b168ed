"""The RNN applications end to end on tiny configs: sentiment analysis and the character language
model (offline), their real-data configs under ``tfds.testing.mock_data``, and a language-model
run resumed after a SIGTERM."""

import json
import math
import os
import signal

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import char_lm, sentiment
from experiments.configs import char_lm as char_lm_config
from experiments.configs import imdb_lstm, shakespeare_char
from experiments.configs import sentiment as sentiment_config
from nets.data import registry
from nets.data.reviews import natural_reviews
from nets.data.text import CHARACTERS
from nets.training.checkpoint import Checkpoints
from nets.training.preemption import Preempted
from nets.training.run_driver import train


@pytest.mark.slow
def test_sentiment_compares_the_models_by_distance(tmp_path):
    config = sentiment_config.get_config("tiny")
    results = sentiment.run(config, str(tmp_path))
    assert set(results["models"]) == {"lstm", "bag_of_embeddings"}  # the tiny profile's two
    for name, runs in results["models"].items():
        (run,) = runs.values()  # one longest filler in the tiny profile
        rows = run["by_distance"]
        assert sum(r["count"] for r in rows) == 2000  # every test review in one bin
        weighted = sum(r["accuracy"] * r["count"] for r in rows) / 2000
        assert math.isclose(weighted, run["accuracy"], rel_tol=1e-9)
        assert (tmp_path / f"{name}_d6" / "checkpoints").is_dir()
        # the natural set: the accuracy is the two subsets' weighted mean
        natural, ordered = run["natural"], results["natural"]["order_decides"]
        count = results["natural"]["sentences"]
        weighted = natural["order_decides"] * ordered + natural["order_free"] * (count - ordered)
        assert math.isclose(weighted / count, natural["accuracy"], rel_tol=1e-9)
    # VADER's accuracy, recomputed from its compound scores
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser, natural = SentimentIntensityAnalyzer(), natural_reviews("test")
    correct = [(analyser.polarity_scores(t)["compound"] > 0) == bool(y)
               for t, y in zip(natural["texts"], natural["labels"], strict=True)]  # fmt: skip
    assert results["natural"]["vader"]["accuracy"] == pytest.approx(np.mean(correct))
    assert results["natural"]["sentences"] == 220 and 0 < results["natural"]["order_decides"] < 220
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["anchors"]["Maas et al. 2011 (IMDB)"] == 88.89
    assert (tmp_path / "accuracy_vs_distance.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def language_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("char_lm")
    return workdir, char_lm.run(char_lm_config.get_config("tiny"), str(workdir))


@pytest.mark.slow
def test_char_lm_scores_the_lstm_beside_the_ngrams_and_samples(language_run):
    workdir, results = language_run
    rows = results["baselines"]["rows"]
    assert [row["model"] for row in rows] == [
        "unigram (add-one)",
        "2-gram Kneser-Ney",
        "3-gram Kneser-Ney",
    ]
    # on real English each order of context lowers the bits per character
    assert rows[0]["test"] > rows[1]["test"] > rows[2]["test"]
    assert results["baselines"]["best"]["order"] == 3
    lstm = results["lstm"]
    assert 0 < lstm["test"] < 1.2 * math.log2(len(CHARACTERS))  # near uniform after 4 steps
    assert math.isclose(results["gain_over_best_ngram"], 1 - lstm["test"] / rows[2]["test"])
    samples = (workdir / "samples.txt").read_text()
    for temperature in (0.5, 0.8, 1.0):
        assert f"--- temperature {temperature} ---\nThe " in samples
    logged = [json.loads(line) for line in (workdir / "model" / "metrics.jsonl").open()]
    assert [row["step"] for row in logged if "validation_loss" in row] == [2, 4]
    assert (workdir / "learning_curves.png").stat().st_size > 10_000


def test_a_stateful_language_model_resumes_after_sigterm_with_its_carry(language_run, tmp_path):
    """Truncated BPTT with the carry passed between chunks (the char_lm config): SIGTERM at step
    3 saves that step, with the carry and the stream position; the rerun ends where the
    experiment's uninterrupted run ended, parameters and carry bit for bit."""
    workdir, _ = language_run
    config = char_lm.training_part(char_lm_config.get_config("tiny"))
    assert config.stateful

    def on_step(step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Preempted, match="SIGTERM at step 3"):
        train(config, tmp_path, on_step=on_step)
    resumed = train(config, tmp_path)
    assert resumed["resumed_from_step"] == 3
    template = jax.device_get(resumed["state"])
    straight, _ = Checkpoints(workdir / "model" / "checkpoints", 3).restore_latest(template)
    assert np.abs(jax.tree.leaves(straight.carry)[0]).max() > 0  # a carry was passed on
    leaves = [jax.tree.leaves((s.params, s.carry)) for s in (straight, resumed["state"])]
    for x, y in zip(*leaves, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_imdb_trains_and_tiny_shakespeare_reads_under_mock_data(tmp_path):
    data_dir = str(tmp_path / "data")
    with tfds.testing.mock_data(num_examples=16):
        config = imdb_lstm.get_config("tiny")
        config.data.data_dir = data_dir
        results = train(config, tmp_path / "imdb")  # the loop: train.py's figures are tested
        assert int(results["state"].step) == 4 and np.isfinite(results["test"]["loss"])
        # the character path is the pydoc model's, trained above; here its tfds reading
        shakespeare = shakespeare_char.get_config("tiny")
        arrays = registry.load_split(shakespeare.data.name, "validation", data_dir)
    np.testing.assert_array_equal(arrays["inputs"][1:, 0], arrays["targets"][:-1, -1])
    vocabulary = tmp_path / "data" / "imdb_reviews" / "vocabulary.json"
    assert json.loads(vocabulary.read_text())["level"] == "word"
