"""Speech recognition beyond one's own generator: a recogniser trained on two sources of spoken
digits, tested on voices of each that it never heard, and the transfer matrix.

    python -m experiments.speech_sources --workdir runs/speech_sources

Trains ``config.model`` (the speech config's bidirectional LSTM) with the run driver on
``config.data.name`` (both sources, ``nets.data.spoken_digits``: the project's synthesiser and
espeak-ng, with waveform augmentation and SpecAugment) in --workdir/both/, and the same
recogniser on each source alone (``config.sources``, for ``config.source_steps`` steps) in
--workdir/<source>/. Each is tested
greedily and with CTC prefix beam search on ``config.test_size`` utterances of each source's
held-out voices (accents, variants and speakers never heard in training or validation), clean
and with white noise at ``config.test_snr_db``:

- **digit error rate**: substitutions + insertions + deletions over the true digits;
- **exact utterances**: the fraction decoded without an error.

Then ``config.user_files`` held-out espeak-ng utterances are written as .wav files at the
engine's own 22,050 Hz and transcribed by ``nets.predict.transcribe`` from the saved run
(what ``python -m experiments.predict`` does), so the numbers a user gets are measured too,
and so are a second of silence and of white, pink and brown noise (no speech: nothing heard).
Writes results.json and transfer.png (the matrix) and prints the tables with the speech
experiment's published anchor beside them.
"""

import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
from scipy.io import wavfile

from experiments import cli
from experiments.configs import without
from experiments.configs.speech import ANCHORS
from experiments.plotting import plt, save_run
from nets.checks import check_positive
from nets.data.espeak import ENGINE_RATE
from nets.data.speech import references
from nets.data.speech_augment import COLOURS, coloured_noise
from nets.data.spoken_digits import SOURCES, SPLIT_SEEDS, spoken_digits_split
from nets.metrics import label_error_rate, sequence_scores
from nets.models.ctc import beam_decode, greedy_decode
from nets.training.config import validate_training
from nets.training.run_driver import predict, train
from nets.training.workdir import prepare_workdir, run_header

EXPERIMENT_FIELDS = (
    "sources", "source_steps", "test_size", "test_snr_db", "user_files", "beam_width",
)  # fmt: skip


def model_run(config: ml_collections.ConfigDict, data: str) -> ml_collections.ConfigDict:
    """The training config of the recogniser on data set ``data`` (``config.source_steps``
    steps for a single source)."""
    single = without(config, *EXPERIMENT_FIELDS)
    single.data.name = data
    if data != config.data.name:
        single.num_steps = config.source_steps
    return single


def trainings(config: ml_collections.ConfigDict) -> dict[str, str]:
    """Row name -> training data set: both sources, then each alone."""
    return {"both": config.data.name, **config.sources.to_dict()}


def test_sets(config: ml_collections.ConfigDict) -> dict[str, dict]:
    """Column name -> held-out arrays: each source clean, then with noise."""
    tests = {}
    for snr in (None, config.test_snr_db):
        for source in SOURCES:
            name = source if snr is None else f"{source} + {snr:g} dB noise"
            tests[name] = spoken_digits_split("test", config.test_size, (source,), snr_db=snr)
    return tests


def validate(config: ml_collections.ConfigDict) -> None:
    check_positive("config.test_size", config.test_size)
    check_positive("config.beam_width", config.beam_width)
    check_positive("config.user_files", config.user_files)
    check_positive("config.source_steps", config.source_steps)
    for data in trainings(config).values():  # every data set is known before training
        validate_training(model_run(config, data), jax.device_count())


def user_files(workdir: Path, count: int) -> tuple[list[str], list[str]]:
    """``count`` held-out espeak-ng utterances written as 16-bit .wav at 22,050 Hz: (paths,
    transcripts)."""
    from nets.data.espeak import engine_samples, random_voice
    from nets.data.speech import ALPHABET, MAX_DIGITS

    folder = workdir / "user_files"
    folder.mkdir(exist_ok=True)
    paths, truths = [], []
    for index in range(count):
        rng = np.random.default_rng([SPLIT_SEEDS["test"], 7, index])
        digits = "".join(rng.choice(list(ALPHABET), rng.integers(1, MAX_DIGITS + 1)))
        voice = random_voice("test", rng)
        samples = engine_samples(digits, voice)
        path = folder / f"{index:03d}_{voice.name}_{digits}.wav"
        wavfile.write(path, ENGINE_RATE, samples)
        paths.append(str(path))
        truths.append(digits)
    return paths, truths


def transfer_figure(results: dict, columns: list[str]):
    rows = list(results)
    matrix = np.array([[100 * results[r][c]["beam"]["error_rate"] for c in columns] for r in rows])
    figure, ax = plt.subplots(figsize=(1.9 * len(columns) + 2, 0.7 * len(rows) + 1.8))
    ax.imshow(np.minimum(matrix, 50), cmap="Reds", vmin=0, vmax=50, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            ax.text(j, i, f"{matrix[i, j]:.1f}", ha="center", va="center", fontsize=10)
    ax.set_xticks(range(len(columns)), [f"held-out {c}" for c in columns], fontsize=8)
    ax.set_yticks(range(len(rows)), [f"trained on {r}" for r in rows], fontsize=9)
    ax.set_title("digit error rate (%), beam search: who transfers to voices never heard")
    return figure


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config)
    start = time.perf_counter()
    workdir = prepare_workdir(workdir)
    tests = test_sets(config)
    truths = {name: references(arrays) for name, arrays in tests.items()}
    results, states = {}, {}
    for row, data in trainings(config).items():
        print(f"training the recogniser on {data}", file=sys.stderr)
        outcome = train(model_run(config, data), workdir / row)
        states[row] = outcome["state"]
        results[row] = {"data": data, "steps_per_s": outcome["steps_per_s"]}
        for column, arrays in tests.items():
            logits, lengths = predict(outcome["state"], arrays, config.eval_batch_size)
            label = f"{row} on {column}"
            results[row][column] = {
                "greedy": sequence_scores(greedy_decode(logits, lengths), truths[column]),
                "beam": sequence_scores(
                    beam_decode(logits, lengths, config.beam_width, label), truths[column]
                ),
            }
    from nets.predict import transcribe
    from nets.training.load import load_run

    paths, spoken = user_files(workdir, config.user_files)
    loaded = load_run(workdir / "both")
    heard = {}
    for beam in (0, config.beam_width):
        records = transcribe(loaded, paths, beam=beam, notice=lambda text: None)
        decoded = [[int(c) + 1 for c in r["transcript"]] for r in records]
        truth = [[int(c) + 1 for c in digits] for digits in spoken]
        heard["beam" if beam else "greedy"] = {
            "error_rate": label_error_rate(truth, decoded),
            "exact": float(
                np.mean([r["transcript"] == s for r, s in zip(records, spoken, strict=True)])
            ),
        }
    rng = np.random.default_rng(0)
    quiet = {  # no speech at all, 1 s at about -40 dBFS: the recogniser should hear nothing
        "silence.wav": np.zeros(ENGINE_RATE, np.int16),
        **{f"{colour}_noise.wav": (coloured_noise(colour, ENGINE_RATE, rng) * 300).astype(np.int16)
           for colour in COLOURS},
    }  # fmt: skip
    for name, samples in quiet.items():
        wavfile.write(workdir / "user_files" / name, ENGINE_RATE, samples)
    records = transcribe(loaded, [str(workdir / "user_files" / n) for n in quiet], notice=print)
    no_speech = {name: r["transcript"] for name, r in zip(quiet, records, strict=True)}
    columns = list(tests)
    width = config.beam_width
    print(f"\ndigit error rate (%), greedy / beam {width}, on {config.test_size} utterances of "
          "each source's held-out voices")  # fmt: skip
    print(f"  {'trained on':<28}" + "".join(f"{c:>26}" for c in columns))
    for row, cells in results.items():
        text = ""
        for column in columns:
            greedy, beam = cells[column]["greedy"], cells[column]["beam"]
            text += f"{100 * greedy['error_rate']:>14.2f} /{100 * beam['error_rate']:>6.2f}"
            text += f" {100 * beam['exact']:>3.0f}%"
        name = f"{row} ({cells['data']})"
        print(f"  {name:<28}{text}")
    print("  (the last figure of each cell: utterances decoded exactly, beam search)")
    print(f"\nheld-out espeak-ng .wav files at 22,050 Hz through nets.predict.transcribe "
          f"({len(paths)} files): greedy {100 * heard['greedy']['error_rate']:.2f}%, "
          f"beam {100 * heard['beam']['error_rate']:.2f}% digit error, "
          f"{100 * heard['beam']['exact']:.0f}% exact")  # fmt: skip
    print(f"no speech: {', '.join(f'{n} -> {t!r}' for n, t in no_speech.items())}")
    for text, value in ANCHORS.items():
        print(f"  published: {text:<64} {value:5.2f}")
    summary = {
        **run_header("speech_sources", config, start),
        "models": results,
        "user_files": heard,
        "no_speech": no_speech,
        "anchors": ANCHORS,
    }
    save_run(workdir, summary, {"transfer.png": transfer_figure(results, columns)})
    return summary


if __name__ == "__main__":
    cli.main(
        run, str(Path(__file__).parent / "configs" / "speech_sources.py"), "runs/speech_sources"
    )
