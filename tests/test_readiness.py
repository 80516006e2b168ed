"""Accelerator readiness, checked on the CPU: the drivers' steady state reads nothing back and
compiles nothing new, a profile of chosen steps can be read back, and the GPU check's dry run
works end to end."""

import gzip
import json
import subprocess
import warnings
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

from experiments.configs import dates, mnist1d_cnn, mnist1d_gru, speech
from experiments.translation import model_run
from nets.data import registry
from nets.models import get_model
from nets.training import run_driver
from nets.training.objectives import get_objective
from nets.training.parallel import DataParallel
from nets.training.profiling import PROFILE_DIR
from nets.training.steady import Compilations, RecompilationWarning
from nets.training.sweep import evaluate_on, sample_rows, sweep

ROOT = Path(__file__).resolve().parents[1]


def seq2seq_config(profile):
    config = dates.get_config(profile)
    return model_run(config, "attention", config.data.name)


# a CNN, a recurrent network (a bidirectional GRU, through pmap) and a sequence-to-sequence model
RUNS = {
    "cnn": (mnist1d_cnn.get_config, {}),
    "recurrent": (mnist1d_gru.get_config, {"parallel": "pmap"}),
    "seq2seq": (seq2seq_config, {}),
}


def tiny_run(kind, data_dir, **fields):
    get_config, overrides = RUNS[kind]
    config = get_config("tiny")
    config.data.data_dir = data_dir
    config.update(dict(log_every=2, eval_every=2, checkpoint_every=2, eval_batch_size=24))
    config.update({**overrides, **fields})
    return config


@pytest.mark.slow
@pytest.mark.parametrize("kind", RUNS)
def test_steady_steps_read_nothing_back_and_compile_nothing_new(kind, tmp_path, data_dir):
    """Steps run under jax.transfer_guard_device_to_host('disallow') (the loop would raise); a
    run stopped at step 4 and resumed to 8 compiles only in each process's first interval
    (its first steps and evaluation); evaluating splits whose last batch is filled
    differently compiles nothing after that."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecompilationWarning)
        run_driver.train(tiny_run(kind, data_dir, num_steps=4), tmp_path)
        # (a cosine schedule's rates change with num_steps: resumed anyway, as a user may)
        outcome = run_driver.train(
            tiny_run(kind, data_dir, num_steps=8, resume_anyway=True), tmp_path
        )
    assert outcome["resumed_from_step"] == 4
    rows = run_driver.metrics_rows(tmp_path)
    assert [r["step"] for r in rows] == [2, 4, 6, 8]
    compiled = [r["compilations"] for r in rows]
    assert compiled[0] > 0 and compiled[2] > 0  # the two processes' first steps and evaluation
    assert compiled[1] == compiled[3] == 0, compiled
    assert all("validation_loss" in r or "test_loss" in r for r in rows)
    config = tiny_run(kind, data_dir)
    test = registry.load_split(config.data.name, "test", data_dir)
    loss_fn = get_objective(registry.dataset_spec(config.data.name).loss)
    with Compilations() as later:
        for rows_kept in (5, 24, 29):  # last batch 5 of 24, full, 5 again after a full one
            part = jax.tree.map(lambda a, n=rows_kept: a[:n], test)
            run_driver.evaluate(outcome["state"], part, loss_fn, config.eval_batch_size)
    assert later.programs == []


def test_a_step_that_reads_its_loss_back_is_stopped(tmp_path, data_dir, monkeypatch):
    """What a per-step progress bar printing the loss would do: the guard names it."""
    stepped = DataParallel.step

    def reading_back(self, state, batch):
        state, metrics = stepped(self, state, batch)
        float(metrics["loss"])
        return state, metrics

    monkeypatch.setattr(DataParallel, "step", reading_back)
    with pytest.raises(Exception, match="[Dd]isallowed device-to-host transfer"):
        run_driver.train(tiny_run("cnn", data_dir), tmp_path)


def test_a_batch_of_another_shape_mid_run_is_a_recompilation_warning(
    tmp_path, data_dir, monkeypatch
):
    put = DataParallel.put_batch
    calls = []

    def shrinking(self, batch):
        calls.append(1)
        if len(calls) == 3:  # step 3 gets half a batch: a new shape, so a new program
            batch = jax.tree.map(lambda a: a[: len(a) // 2], batch)
        return put(self, batch)

    monkeypatch.setattr(DataParallel, "put_batch", shrinking)
    with pytest.warns(RecompilationWarning, match="step 3 compiled jit"):
        run_driver.train(tiny_run("cnn", data_dir), tmp_path)


def sweep_models():
    """(model, example input, training set, test set) of a CNN, an LSTM and a seq2seq model."""
    rng = np.random.default_rng(0)
    images = rng.normal(size=(32, 40)).astype(np.float32)
    sequences = rng.normal(size=(32, 6, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 32)
    source = rng.integers(1, 7, (32, 5))
    target = rng.integers(1, 7, (32, 4))
    return {
        "cnn": (get_model("mnist1d_cnn", 3), {"inputs": images, "targets": labels}),
        "recurrent": (
            get_model("many_to_one", 3, cell="lstm", hidden_size=8),
            {"inputs": sequences, "targets": labels},
        ),
        "seq2seq": (
            get_model(
                "attention_encoder_decoder", 7, num_tokens=7, hidden_size=8, embedding_size=4
            ),
            {"inputs": {"source": source, "decoder_inputs": target}, "targets": target},
        ),
    }


@pytest.mark.parametrize("kind", ["cnn", "recurrent", "seq2seq"])
def test_sweep_blocks_read_nothing_back_and_compile_once(kind):
    model, data = sweep_models()[kind]
    loss_fn = get_objective("cross_entropy")
    example = jax.tree.map(lambda a: a[:2], data["inputs"])
    with warnings.catch_warnings(), Compilations() as compiled:
        warnings.simplefilter("error", RecompilationWarning)
        result = sweep(
            model,
            loss_fn,
            optax.adam(1e-2),
            sample_rows(8),
            jax.tree.map(lambda a: a[None], data),
            evaluate_on(data, loss_fn),
            example_input=example,
            seeds=2,
            num_steps=6,
            eval_every=2,
        )
    blocks = [name for name in compiled.programs if "run_steps" in name]
    assert len(blocks) == 1, compiled.programs  # three blocks, one compilation
    assert result["metric"].shape == (1, 2, 4)
    assert np.all(result["metric"][..., -1] < result["metric"][..., 0])  # it learned


def test_profile_steps_writes_a_trace_of_exactly_those_steps(tmp_path, data_dir):
    run_driver.train(tiny_run("cnn", data_dir, num_steps=6, profile_steps="3:5"), tmp_path)
    runs = list((tmp_path / PROFILE_DIR / "plugins" / "profile").iterdir())
    assert len(runs) == 1
    assert list(runs[0].glob("*.xplane.pb"))  # what TensorBoard's profile plugin reads
    events = json.loads(gzip.open(runs[0] / "perfetto_trace.json.gz").read())["traceEvents"]
    steps = {int(e["args"]["step_num"]) for e in events if e.get("name") == "train"}
    assert steps == {3, 4}
    modules = {e["args"].get("hlo_module") for e in events if isinstance(e.get("args"), dict)}
    assert "jit_train_step" in modules  # the device work of the traced steps is inside


@pytest.mark.slow
def test_the_gpu_check_runs_end_to_end_on_the_cpu(tmp_path):
    """scripts/gpu_check.sh --dry-run: the same stages at tiny sizes; every stage reports."""
    done = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    versions = (tmp_path / "versions.txt").read_text()
    assert "backend cpu" in versions and f"jax {jax.__version__}" in versions
    assert " passed" in (tmp_path / "tests.txt").read_text()
    bench = json.loads((tmp_path / "bench.json").read_text())["results"]
    assert bench and all(np.isfinite(row["ours_ms"]) and row["ours_ms"] > 0 for row in bench)
    sweep_result = json.loads((tmp_path / "vanishing_gradients" / "results.json").read_text())
    assert sweep_result["sweep"]
    assert "exit status 0" in done.stdout


def speech_run(trim_to: int):
    config = speech.get_config("tiny")  # 24 spoken digit strings of different lengths
    config.update(dict(log_every=2, eval_every=0, checkpoint_every=6, num_steps=6))
    config.data.trim_to = trim_to
    return config


def test_batches_trimmed_to_new_lengths_compile_without_warning_and_others_still_warn(
    tmp_path, data_dir, monkeypatch
):
    with warnings.catch_warnings(), Compilations() as compiled:
        warnings.simplefilter("error", RecompilationWarning)
        run_driver.train(speech_run(trim_to=16), tmp_path / "trimmed")
    steps = [name for name in compiled.programs if "train_step" in name]
    assert len(steps) >= 2, compiled.programs  # utterances cut to at least two lengths
    put = DataParallel.put_batch
    calls = []

    def doubling(self, batch):  # step 5 gets twice the batch: a length already seen, a new shape
        calls.append(1)
        twice = jax.tree.map(lambda a: np.concatenate([a, a]), batch)
        return put(self, twice if len(calls) == 5 else batch)

    monkeypatch.setattr(DataParallel, "put_batch", doubling)
    with pytest.warns(RecompilationWarning, match="step 5 compiled jit"):
        run_driver.train(speech_run(trim_to=1000), tmp_path / "doubled")  # never cut
    config = tiny_run("cnn", data_dir)
    config.data.trim_to = 4
    with pytest.raises(ValueError, match="trim_to cuts padded sequences .* has no padded"):
        run_driver.train(config, tmp_path / "cnn")
