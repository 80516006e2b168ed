"""The vanishing-gradient experiment end to end on a tiny config, and its bad-input handling."""

import json

import numpy as np
import pytest

from experiments import vanishing_gradients
from experiments.configs.vanishing_gradients import get_config

FIGURES = ("gradient_decay.png", "decay_ratio_vs_length.png", "spectral_norm.png")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vg")
    vanishing_gradients.run(get_config("tiny"), str(workdir))
    return workdir, json.loads((workdir / "results.json").read_text())


@pytest.mark.slow
def test_writes_results_and_three_figures(tiny_run):
    workdir, results = tiny_run
    for name in FIGURES:
        assert (workdir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in workdir.iterdir()) == sorted((*FIGURES, "results.json"))
    assert results["environment"]["jax"] and results["settings"]["profile"] == "tiny"
    config = get_config("tiny")
    assert {(r["cell"], r["length"]) for r in results["sweep"]} == {
        (c, t) for c in config.cells for t in config.lengths
    }


@pytest.mark.slow
def test_recorded_ratios_follow_from_recorded_norms(tiny_run):
    _, results = tiny_run
    for record in results["sweep"]:
        components = {"lstm": {"c", "h"}, "lru": {"x"}}.get(record["cell"], {"h"})
        for stage in ("init", "trained"):
            assert set(record[stage]) == components
            for norms in record[stage].values():
                per_step = np.asarray(norms["per_step"])
                assert per_step.shape == (2, record["length"])  # [seeds, T]
                np.testing.assert_allclose(
                    norms["ratio_first_to_last"], per_step[:, 0] / per_step[:, -1], rtol=1e-12
                )
                expected = np.exp(np.mean(np.log(per_step[:, 0] / per_step[:, -1])))
                np.testing.assert_allclose(norms["ratio_geometric_mean"], expected, rtol=1e-9)
        assert np.all(np.isfinite(record["train_loss_last_10"]))


@pytest.mark.slow
def test_spectral_sweep_obeys_the_pascanu_bound_below_one(tiny_run):
    _, results = tiny_run
    (small,) = [r for r in results["spectral"] if r["sigma"] == 0.5]
    per_step = np.asarray(small["h"]["per_step"])  # [seeds, T]
    k = np.arange(per_step.shape[1])[::-1]
    assert np.all(per_step <= 0.5**k * per_step[:, -1:] * (1 + 1e-9))
    (large,) = [r for r in results["spectral"] if r["sigma"] == 1.5]
    assert np.all(large["h"]["ratio_first_to_last"] > small["h"]["ratio_first_to_last"])


def test_fast_compilation_is_scoped_to_its_block():
    import jax

    from nets.runtime import fast_compilation

    before = jax.config.read("jax_disable_most_optimizations")
    with fast_compilation(not before):
        assert jax.config.read("jax_disable_most_optimizations") == (not before)
    assert jax.config.read("jax_disable_most_optimizations") == before


def test_the_norms_are_computed_in_the_measure_dtype_whatever_the_model_computes_in():
    """float64 measurements stay float64 although a config's model names float32 for training:
    a tanh RNN with W_h = 0.2 Q keeps about 0.2^k of the gradient, below float32's smallest
    number (1e-45) after 70 steps and far above float64's."""
    import jax

    from experiments.configs import vary
    from nets.training.gradient_decay import decay_across_lengths

    config = vary(get_config("tiny"), model__cell="tanh", model__recurrent_scale=0.2)
    config.update(dict(lengths=(80,), seeds=1))
    config.train.num_steps = 0
    assert config.model.dtype == "float32"
    with jax.enable_x64(True):
        (record,) = decay_across_lengths(config)
    per_step = record["init"]["h"]["per_step"]
    assert per_step.dtype == np.float64 and 0 < per_step[0, 0] < 1e-45
