"""A trained run in a user's hands: load_run, experiments.predict on one's own input (equal to
the evaluation that wrote results.json), the jax.export artifact read back without nets, and
bad input refused in one line."""

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from scipy.io import wavfile

from experiments import predict as predict_cli
from experiments import train as train_cli
from experiments.configs import char_lm, dates, forecasting, lenet5_digits, sentiment, speech
from experiments.translation import decode as decode_translations
from nets.data import batches, prepare, registry, tfds_reader
from nets.data.digits import load_digits
from nets.data.reviews import SPLIT_SEEDS, SPLIT_SIZES, generate_reviews
from nets.data.series import load_series, origins
from nets.data.speech import utterances
from nets.data.speech_augment import coloured_noise
from nets.data.text import OOV, PAD
from nets.data.translation import decode_targets, written_dates
from nets.models.ctc import greedy_decode
from nets.predict import is_calendar_date
from nets.training.load import RunError, load_run
from nets.training.run_driver import predict as evaluation_outputs
from nets.training.state import TrainState
from nets.training.workdir import exclusive

CONFIGS = {
    "dates": dates,
    "sentiment": sentiment,
    "speech": speech,
    "char_lm": char_lm,
    "forecasting": forecasting,
    "lenet5": lenet5_digits,
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny trained run of each application, its data prepared in a folder that is then
    deleted: every run must load and predict without its data."""
    root = tmp_path_factory.mktemp("runs")
    data_dir = root / "tensorflow_datasets"
    workdirs = {}
    for name, module in CONFIGS.items():
        config = module.get_config("tiny")
        config.data.data_dir = str(data_dir)
        config.parallel = "shard_map"
        workdirs[name] = root / name
        train_cli.run(config, str(workdirs[name]))
    shutil.rmtree(data_dir, ignore_errors=True)
    return workdirs


def predicted(capsys, workdir, *arguments) -> list[dict]:
    """experiments.predict's JSON lines."""
    capsys.readouterr()
    predict_cli.main(["--workdir", str(workdir), "--json", *map(str, arguments)])
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def state_of(run) -> TrainState:
    """The loaded variables as a state for the run driver's own prediction (its evaluation)."""
    return TrainState(
        step=np.int32(run.step), params=run.variables["params"],
        batch_stats=run.variables.get("batch_stats", {}), opt_state=(), rng=np.zeros(2),
        carry=(), model=run.model, tx=None,
    )  # fmt: skip


def results(workdir) -> dict:
    return json.loads((Path(workdir) / "results.json").read_text())


@pytest.mark.slow
def test_a_copied_run_loads_read_only_while_locked(runs, tmp_path):
    copy = tmp_path / "elsewhere"
    shutil.copytree(runs["lenet5"], copy)
    with exclusive(copy):  # as if it were still training
        run = load_run(copy)
        assert (copy / ".lock").exists()
    assert run.step == 6 and run.task == "image" and run.pipeline["labels"][3] == "3"
    original = load_run(runs["lenet5"])
    for a, b in zip(
        jax.tree.leaves(run.variables), jax.tree.leaves(original.variables), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert load_run(copy, step=3).step == 3
    with pytest.raises(RunError, match=r"no checkpoint at step 5; it has \[3, 6\]"):
        load_run(copy, step=5)


@pytest.mark.slow
def test_images_predict_as_the_evaluation_scored_them(runs, tmp_path, capsys):
    run = load_run(runs["lenet5"])
    test = load_digits()["test"]
    paths = []
    for index, image in enumerate(test["inputs"]):  # pixel values 0..255, as a user has them
        paths.append(tmp_path / f"{index}.npy")
        np.save(paths[-1], image[..., 0] * 255)
    records = predicted(capsys, runs["lenet5"], *paths, "--top_k", "10")
    logits = evaluation_outputs(state_of(run), test)
    probabilities = np.asarray(jax.nn.softmax(logits))
    for record, p in zip(records, probabilities, strict=True):
        assert [t["label"] for t in record["top"]] == [str(k) for k in np.argsort(-p)]
        np.testing.assert_allclose([t["probability"] for t in record["top"]], np.sort(p)[::-1],
                                   atol=1e-5)  # fmt: skip
    accuracy = np.mean(
        [int(r["top"][0]["label"]) == y for r, y in zip(records, test["targets"], strict=True)]
    )
    assert accuracy == pytest.approx(results(runs["lenet5"])["test"]["accuracy"], abs=1e-6)


@pytest.mark.slow
def test_reviews_predict_as_the_evaluation_scored_them(runs, capsys, tmp_path):
    run = load_run(runs["sentiment"])
    name = run.config.data.name
    test = registry.load_split(name, "test")
    distance, seed = registry.variant(name, 0), SPLIT_SEEDS["test"]
    texts = generate_reviews(SPLIT_SIZES["test"], distance, seed, split="test")
    (tmp_path / "reviews.txt").write_text("\n".join(texts["texts"]))
    records = predicted(capsys, runs["sentiment"], "--file", tmp_path / "reviews.txt")
    positive = 1 / (1 + np.exp(-np.asarray(evaluation_outputs(state_of(run), test))[:, 0]))
    said = np.array([r["probability"] if r["label"] == "positive" else 1 - r["probability"]
                     for r in records])  # fmt: skip
    np.testing.assert_allclose(said, positive, atol=1e-5)
    accuracy = np.mean(
        [(r["label"] == "positive") == y for r, y in zip(records, test["targets"], strict=True)]
    )
    assert accuracy == pytest.approx(results(runs["sentiment"])["test"]["accuracy"], abs=1e-6)


@pytest.mark.slow
def test_dates_translate_as_the_evaluation_decodes_them(runs, capsys):
    run = load_run(runs["dates"])
    written = written_dates("test", 40)
    arrays = batches.take(registry.load_split("dates", "test"), slice(40))
    for beam in (0, 2):
        kwargs = dict(beam_width=beam, alpha=0.6) if beam else {}
        outputs = decode_targets(decode_translations(state_of(run), arrays, 11, **kwargs))
        records = []
        for order in ("dmy", "mdy"):  # each order's dates, read with --order
            texts = [text for text, o, _ in written if o == order]
            by_order = predicted(capsys, runs["dates"], *texts, "--beam", beam, "--order", order)
            records += [r | {"order": order} for r in by_order]
        rows = [i for order in ("dmy", "mdy") for i, w in enumerate(written) if w[1] == order]
        assert [r["output"] for r in records] == [outputs[i] for i in rows]
        assert all(r["log_probability"] <= 0 for r in records)
        assert all(r["valid"] == (r["ended"] and is_calendar_date(r["output"])) for r in records)


@pytest.mark.slow
def test_log_probability_is_the_sum_over_the_output_tokens(runs):
    from nets.predict import _sequence_log_probability, translate

    run = load_run(runs["dates"])
    [record] = translate(run, ["9 May 2018"])
    vocabulary = run.pipeline["vocabulary"]["tokens"]
    ids = ([vocabulary.index(c) + 2 for c in record["output"]] + [3])[:11]  # with END, if any
    read = run.pipeline["order_marks"]["dmy"] + "9 May 2018"  # day first: the default order
    source = np.array([[vocabulary.index(c) + 2 for c in read] + [0] * 21])
    tokens = np.array([ids + [0] * (11 - len(ids))])
    by_hand = 0.0  # teacher forcing, one token at a time, in numpy
    inputs = np.array([[2] + [i if i != 3 else 0 for i in ids[:-1]] + [0] * (11 - len(ids))])
    logits = np.asarray(run.model.apply(run.variables, {"source": source, "decoder_inputs": inputs},
                                        seq_lengths=np.array([11])))  # fmt: skip
    for t, token in enumerate(ids):
        row = logits[0, t].astype(np.float64)
        by_hand += row[token] - np.log(np.sum(np.exp(row - row.max()))) - row.max()
    score = _sequence_log_probability(run.model, run.variables, source, np.array([11]), tokens,
                                      2, 3)  # fmt: skip
    assert float(score[0]) == pytest.approx(by_hand, abs=1e-4)
    assert record["log_probability"] == pytest.approx(by_hand, abs=1e-4)


def test_calendar_dates():
    assert is_calendar_date("2021-12-14") and is_calendar_date("2024-02-29")
    for text in ("2021-14-12", "2023-02-29", "2021-1-12", "20211214", "2021-12-14x"):
        assert not is_calendar_date(text)


@pytest.mark.slow
def test_speech_transcribes_as_the_evaluation_decodes_at_any_rate(runs, tmp_path, capsys):
    from scipy import signal

    run = load_run(runs["speech"])
    name = run.config.data.name
    test = registry.load_split(name, "test")
    spoken = utterances("test", len(test["targets"]))
    paths = []
    for index, utterance in enumerate(spoken):
        paths.append(tmp_path / f"{index}.wav")
        wavfile.write(paths[-1], 8000, utterance.audio.astype(np.float32))
    expected = greedy_decode(*evaluation_outputs(state_of(run), test))
    alphabet = run.pipeline["alphabet"]
    records = predicted(capsys, runs["speech"], *paths)
    assert [r["transcript"] for r in records] == [
        "".join(alphabet[k - 1] for k in labels) for labels in expected
    ]
    # recordings of one duration in whole seconds share their programs: the second compiles none
    from nets.predict import transcribe
    from nets.runtime import compiling

    first, second = (tmp_path / f"same_second_{n}.wav" for n in (0, 1))
    for path, samples in ((first, 8000 - 37), (second, 8000 - 1234)):
        wavfile.write(path, 8000, spoken[0].audio[:samples].astype(np.float32))
    transcribe(run, [str(first)])
    before = compiling()["programs"]
    transcribe(run, [str(second)])
    assert compiling()["programs"] == before
    # 22,050 Hz stereo int16: mixed down and resampled, each with a notice
    audio = signal.resample_poly(spoken[0].audio, 441, 160)
    wavfile.write(
        tmp_path / "cd.wav", 22050, (np.stack([audio, audio], 1) * 2**14).astype(np.int16)
    )
    capsys.readouterr()
    predict_cli.main(["--workdir", str(runs["speech"]), str(tmp_path / "cd.wav"), "--beam", "3"])
    err = capsys.readouterr().err
    assert "2 channels mixed down to one" in err and "resampled from 22050 Hz to 8000 Hz" in err
    # silence, a whisper of noise below -60 dBFS, and steady noise (white at -20 dBFS, brown):
    # no speech, whatever the model would say
    rng = np.random.default_rng(0)
    quiet = rng.standard_normal(4000) * 10 ** (-65 / 20) / 4
    assert np.abs(quiet).max() < 10 ** (-60 / 20) < 20 * np.abs(quiet).max()
    clips = {
        "silence": np.zeros(4000),
        "quiet": quiet,
        "white": rng.standard_normal(8000) * 0.1,
        "brown": coloured_noise("brown", 12000, rng) * 0.1,
    }
    for name, clip in clips.items():
        wavfile.write(tmp_path / f"{name}.wav", 8000, clip.astype(np.float32))
    capsys.readouterr()
    predict_cli.main(["--workdir", str(runs["speech"]), "--json",
                      *(str(tmp_path / f"{name}.wav") for name in clips)])  # fmt: skip
    out, err = capsys.readouterr()
    assert [json.loads(line)["transcript"] for line in out.splitlines()] == [""] * 4
    assert err.count("silent (peak below -60 dBFS): no speech") == 2
    assert err.count("steady noise (its loud frames rise") == 2


@pytest.mark.slow
def test_forecasts_are_the_evaluation_outputs_in_the_series_units(runs, tmp_path, capsys):
    run = load_run(runs["forecasting"])
    facts, name = run.pipeline, run.config.data.name
    values = load_series(name.partition("/")[0])
    test = registry.load_split(name, "test")
    starts = origins(len(values), "test", facts["window"], facts["horizon"])[:3]
    paths = []
    for origin in starts:
        paths.append(tmp_path / f"{origin}.csv")
        rows = [f"{k},{float(v)!r}" for k, v in enumerate(values[:origin])]
        paths[-1].write_text("\n".join(["t,value", *rows]))
    records = predicted(capsys, runs["forecasting"], *paths)
    outputs = np.asarray(evaluation_outputs(state_of(run), test))[:3]
    expected = values[starts - 1][:, None] + outputs * facts["std"]
    np.testing.assert_allclose([r["forecast"] for r in records], expected, rtol=1e-5)


@pytest.mark.slow
def test_samples_never_hold_padding_or_the_unknown_token(runs, capsys):
    [record] = predicted(capsys, runs["char_lm"], "def ", "--length", 3000, "--temperature", 50)
    assert record["output"].startswith("def ") and len(record["output"]) == 3004
    assert "<oov>" not in record["output"] and "<pad>" not in record["output"]
    from nets.models.sampling import generate

    run = load_run(runs["char_lm"])
    prompt = np.array([[5, 6, 7]])
    key = jax.random.key(0)
    free = np.asarray(generate(run.model, run.variables, prompt, 3000, temperature=50.0, key=key))
    banned = np.asarray(generate(run.model, run.variables, prompt, 3000, temperature=50.0,
                                 key=key, never=(PAD, OOV)))  # fmt: skip
    assert np.isin(free, (PAD, OOV)).sum() > 10  # nearly uniform over 99 tokens: ~60 expected
    assert not np.isin(banned, (PAD, OOV)).any()


@pytest.mark.slow
def test_the_exported_model_runs_without_nets_and_gives_the_same_outputs(runs, tmp_path):
    from nets.predict import apply

    cases = {}
    for name in ("dates", "sentiment", "speech", "char_lm", "forecasting", "lenet5"):
        run = load_run(runs[name])
        out = tmp_path / name
        predict_cli.main(["--workdir", str(runs[name]), "--export", str(out)])
        signature = json.loads((out / "signature.json").read_text())
        assert signature["arguments"][0]["shape"][0] == "b"  # a symbolic batch
        batch = 3
        if name == "dates":
            from nets.predict import _translation_sources

            dates = ["9 May 2018", "1/2/03", "20180509"]
            source, lengths = _translation_sources(run, dates, "mdy")
            arguments = [source, lengths]
            facts = run.pipeline
            from nets.models.decoding import greedy_decode as greedy

            expected = [greedy(run.model, run.variables, source, lengths,
                               max_length=facts["max_length"], start=2, end=3, pad=0)]  # fmt: skip
        else:
            inputs = run.example_inputs(batch)
            inputs = (
                np.random.default_rng(0).integers(2, 90, inputs.shape).astype(inputs.dtype)
                if inputs.dtype.kind == "i"
                # fmt: skip
                else np.random.default_rng(0).normal(size=inputs.shape).astype(inputs.dtype)
            )
            if name in ("speech", "char_lm"):  # another length than training's: symbolic time
                inputs = inputs[:, : inputs.shape[1] - 3]
            lengths = np.array([inputs.shape[1], 5, 2][:batch], np.int32)
            arguments = [inputs, lengths] if run.pipeline["example"]["lengths"] else [inputs]
            expected = jax.tree.leaves(apply(run, *arguments))
        for k, argument in enumerate(arguments):
            np.save(out / f"argument{k}.npy", argument)
        cases[name] = [np.asarray(e) for e in expected]
    reader = """
import json, sys
from pathlib import Path
import numpy as np
from jax import export
for folder in sorted(Path(sys.argv[1]).iterdir()):
    exported = export.deserialize(bytearray((folder / "model.jax").read_bytes()))
    count = len(json.loads((folder / "signature.json").read_text())["arguments"])
    arguments = [np.load(folder / f"argument{k}.npy") for k in range(count)]
    outputs = exported.call(*arguments)
    outputs = outputs if isinstance(outputs, tuple | list) else [outputs]
    for k, value in enumerate(outputs):
        np.save(folder / f"result{k}.npy", np.asarray(value))
assert not any(name == "nets" or name.startswith("nets.") for name in sys.modules)
print("read back without nets")
"""
    done = subprocess.run([sys.executable, "-c", reader, str(tmp_path)], capture_output=True,
                          text=True, cwd="/", timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name, expected in cases.items():
        for k, value in enumerate(expected):
            got = np.load(tmp_path / name / f"result{k}.npy")
            np.testing.assert_allclose(got, value, atol=1e-5, err_msg=name)


@pytest.mark.parametrize(
    ("run_name", "make", "message"),
    [
        ("sentiment", lambda d: ["   "], "input 1 is empty"),
        ("sentiment", lambda d: ["zzzz qqqq"], None),  # words, all unknown
        ("dates", lambda d: ["9 May 2018 \u00e9t\u00e9"], "characters the model does not know"),
        ("dates", lambda d: ["9" * 40], "has 40 characters; the model reads at most 31"),
        ("dates", lambda d: ["5/9/18", "--order", "ymd"], None),  # argparse: usage, status 2
        ("dates", lambda d: ["5/9/18\x05"], re.escape("does not know: ['\\x05']")),
        ("sentiment", lambda d: ["good", "--order", "mdy"], "have no order of days and months"),
        ("speech", lambda d: [d / "missing.wav"], "not a readable .wav file"),
        ("speech", lambda d: [d / "empty.wav"], "the file has no samples"),
        ("speech", lambda d: [d / "short.wav"], "is shorter than one 25 ms analysis window"),
        ("speech", lambda d: [d / "text.wav"], "not a readable .wav file"),
        ("forecasting", lambda d: [d / "bad.csv"], "line 3: 'abc' is not a number"),
        ("forecasting", lambda d: [d / "gap.csv"], "gap.csv line 2: the value is missing"),
        ("forecasting", lambda d: [d / "nan.csv"], "line 2: 'nan' is not a finite number"),
        ("forecasting", lambda d: [d / "short.csv"], "the model reads the last"),
        ("lenet5", lambda d: [d / "cube.npy"], r"got shape \(2, 2, 2, 2\) \(4 axes\)"),
        ("lenet5", lambda d: [d / "text.wav"], "not a readable image"),
    ],
)
@pytest.mark.slow
def test_bad_input_is_one_line(runs, tmp_path, capsys, run_name, make, message):
    wavfile.write(tmp_path / "empty.wav", 8000, np.zeros(0, np.int16))
    wavfile.write(tmp_path / "short.wav", 8000, np.zeros(150, np.int16))
    (tmp_path / "text.wav").write_text("not audio")
    (tmp_path / "bad.csv").write_text("value\n1.0\nabc\n")
    (tmp_path / "gap.csv").write_text("0,1.0\n1,\n2,3.0\n")
    (tmp_path / "nan.csv").write_text("1.0\nnan\n")
    (tmp_path / "short.csv").write_text("1\n2\n3\n")
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2, 2)))
    arguments = ["--workdir", str(runs[run_name]), *map(str, make(tmp_path))]
    if message is None and "--order" in arguments:
        with pytest.raises(SystemExit) as stopped:
            predict_cli.main(arguments)
        assert stopped.value.code == 2 and "invalid choice: 'ymd'" in capsys.readouterr().err
        return
    if message is None:
        predict_cli.main(arguments)
        assert "none of its words is in the model's vocabulary" in capsys.readouterr().err
        return
    with pytest.raises(SystemExit, match=message) as stopped:
        predict_cli.main(arguments)
    assert str(stopped.value).startswith("error: ") and "\n" not in str(stopped.value)


@pytest.mark.slow
def test_a_run_that_cannot_be_loaded_says_why(runs, tmp_path):
    with pytest.raises(SystemExit, match="is not a directory"):
        predict_cli.main(["--workdir", str(tmp_path / "none"), "x"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="config.json is missing: not a training run's"):
        predict_cli.main(["--workdir", str(tmp_path / "empty"), "x"])
    young = tmp_path / "young"
    shutil.copytree(runs["sentiment"], young)
    shutil.rmtree(young / "checkpoints")
    with pytest.raises(SystemExit, match="has no checkpoint yet"):
        predict_cli.main(["--workdir", str(young), "x"])
    other = tmp_path / "other"
    shutil.copytree(runs["sentiment"], other)
    config = json.loads((other / "config.json").read_text())
    config["model"]["hidden_size"] += 1
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit, match="does not fit the model its config builds") as stopped:
        predict_cli.main(["--workdir", str(other), "x"])
    assert "['params']" in str(stopped.value) and "\n" not in str(stopped.value)
    config["model"]["name"] = "no_such_model"
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit, match="no longer builds a model: unknown model 'no_such_model'"):
        predict_cli.main(["--workdir", str(other), "x"])


def test_prepare_fails_fast_offline_and_leaves_nothing(tmp_path, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(socket.socket, "connect", unreachable)
    data_dir = tmp_path / "data"
    start = time.perf_counter()
    with pytest.raises(SystemExit) as stopped:
        prepare.main(["cifar10", "--data_dir", str(data_dir)])
    assert time.perf_counter() - start < 10
    message = str(stopped.value)
    assert message == (
        f"error: cannot download {prepare.DOWNLOAD_URLS['cifar10']}: [Errno 101] Network is "
        "unreachable; prepare it on a machine with network access, or pass --manual_dir"
    )
    assert not data_dir.exists() or not any(data_dir.rglob("*"))
    assert set(prepare.DOWNLOAD_URLS) == set(tfds_reader.DOWNLOADED)
