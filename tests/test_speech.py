"""Speech recognition: log-mel features against librosa, CTC's loss against a brute-force sum
over alignments, greedy and prefix beam decoding, padding, the synthesiser, bad input, and the
experiment end to end on the Free Spoken Digit Dataset under mock_data."""

import itertools
import json

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import tensorflow_datasets as tfds
from scipy import signal
from scipy.io import wavfile

from experiments import speech as experiment
from experiments.configs import speech as speech_config
from nets.audio import energy_rise_db, frame_count, log_mel_spectrogram
from nets.cnn import conv_output_size
from nets.cnn.layers import subsampled_lengths
from nets.data import registry, speech
from nets.data.fsdd import read_recording
from nets.data.prepare import main as prepare
from nets.data.speech_augment import COLOURS, add_noise, coloured_noise
from nets.metrics import label_error_rate, sequence_scores
from nets.models import get_model
from nets.models.ctc import beam_decode, beam_search, collapse, greedy_decode, logaddexp
from nets.predict import SPEECH_RISE_DB
from nets.training.objectives import ctc


def brute_force(log_probs: np.ndarray) -> dict[tuple, float]:
    """p(labelling) of every labelling: the sum over all symbol paths that collapse to it."""
    time, symbols = log_probs.shape
    totals: dict[tuple, float] = {}
    for path in itertools.product(range(symbols), repeat=time):
        merged = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
        labelling = tuple(s for s in merged if s != 0)
        p = np.exp(sum(log_probs[t, s] for t, s in enumerate(path)))
        totals[labelling] = totals.get(labelling, 0.0) + p
    return totals


def test_features_equal_librosa_normalised_per_band_and_padding_changes_nothing():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((2, 4000)).astype(np.float32)
    lengths = np.array([4000, 3000])
    features, frames = log_mel_spectrogram(audio, lengths, sample_rate=8000, mels=40)
    assert features.shape == (2, 1 + (4000 - 200) // 80, 40)  # 25 ms windows, 10 ms hop
    assert frames.tolist() == [
        conv_output_size(int(n), 200, stride=80, exact=False) for n in lengths
    ]
    for row, n in enumerate(lengths):  # the same as the utterance alone, zero after its end
        mel = librosa.feature.melspectrogram(
            y=audio[row, :n], sr=8000, n_fft=200, hop_length=80, center=False, n_mels=40
        ).T
        log_mel = np.log(mel + 1e-6)
        expected = (log_mel - log_mel.mean(0)) / np.sqrt(log_mel.var(0) + 1e-5)
        np.testing.assert_allclose(features[row, : frames[row]], expected, atol=2e-4)
        assert not np.any(features[row, frames[row] :])
    assert frame_count(np.array([199, 200, 279, 280]), 200, 80).tolist() == [0, 1, 1, 2]


def test_energy_rise_is_a_step_in_level_and_steady_noise_of_any_colour_stays_below_speech():
    rng = np.random.default_rng(0)
    quiet, loud = rng.standard_normal(8000), 10 * rng.standard_normal(8000)
    # a noise that steps up 20 dB (10x the amplitude) halfway: its loud frames rise 20 dB
    # (plus the 95th and 10th percentiles' spread over the frames, about a decibel)
    step = energy_rise_db(np.concatenate([quiet, loud]), 8000)
    assert 20 < step < 23 and energy_rise_db(np.concatenate([quiet, quiet]), 8000) < 4
    assert energy_rise_db(1e-3 * np.concatenate([quiet, loud]), 8000) == pytest.approx(step)
    for colour, seconds in itertools.product(COLOURS, [0.3, 1, 3]):
        noise = coloured_noise(colour, int(8000 * seconds), rng)
        assert energy_rise_db(noise, 8000) < SPEECH_RISE_DB, (colour, seconds)
    for k, colour in enumerate(COLOURS):  # power ~ 1/f^k: a line of slope -k on log-log axes
        frequency, power = signal.welch(coloured_noise(colour, 80_000, rng), 8000, nperseg=1024)
        slope = np.polyfit(np.log(frequency[2:]), np.log(power[2:]), 1)[0]
        assert slope == pytest.approx(-k, abs=0.1), colour
    for index, utterance in enumerate(speech.utterances("test", 20)):  # held-out speakers
        noisy = add_noise(utterance.audio, 10.0, np.random.default_rng(index))
        assert energy_rise_db(utterance.audio, 8000) > SPEECH_RISE_DB + 2
        assert energy_rise_db(noisy, 8000) > SPEECH_RISE_DB, index
    with pytest.raises(ValueError, match="at least 200"):
        energy_rise_db(np.zeros(100), 8000)


def test_ctc_loss_is_minus_log_of_the_sum_over_alignments_and_ignores_padded_frames():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 6, 3)).astype(np.float32)  # blank + 2 labels, 6 frames
    lengths = np.array([5, 4, 5])
    targets = np.array([[1, 2, 0], [1, 1, 0], [2, 1, 2]])  # "1 1" needs a blank between
    mask = targets > 0
    loss = ctc((jnp.asarray(logits), jnp.asarray(lengths)), {"targets": targets, "mask": mask})
    for row in range(3):
        log_probs = np.asarray(jax.nn.log_softmax(logits[row, : lengths[row]]))
        p = brute_force(log_probs).get(tuple(targets[row][mask[row]]), 0.0)
        assert float(loss["loss"][row]) * mask[row].sum() == pytest.approx(-np.log(p), rel=1e-4)
    garbage = logits.copy()
    garbage[0, 5:] = 100.0  # beyond the first utterance's 5 frames
    again = ctc((jnp.asarray(garbage), jnp.asarray(lengths)), {"targets": targets, "mask": mask})
    np.testing.assert_allclose(again["loss"], loss["loss"], rtol=1e-6)
    # the blank (0) or an id past the logits as a real label: refused, or NaN where traced
    outputs = (jnp.asarray(logits), jnp.asarray(lengths))
    for bad, shown in ((0, "0 to 2"), (3, "0 to 3")):
        wrong = targets.copy()
        wrong[2, 1] = bad
        with pytest.raises(
            ValueError,
            match=rf"CTC labels \(blank is 0\) must lie in \[1, 2\], got values from {shown}",
        ):
            ctc(outputs, {"targets": wrong, "mask": mask})
        traced = jax.jit(ctc)(outputs, {"targets": wrong, "mask": mask})["loss"]
        assert np.isnan(traced[2]) and np.allclose(traced[:2], loss["loss"][:2])


def test_greedy_decoding_collapses_repeats_and_drops_blanks():
    paths = jnp.array([[0, 3, 3, 0, 3, 1, 1, 0], [2, 2, 2, 0, 0, 4, 4, 4]])
    labels, counts = collapse(paths, jnp.array([8, 5]))  # the second row's last 3 frames unread
    assert counts.tolist() == [3, 1]
    assert labels[0, :3].tolist() == [3, 3, 1] and labels[1, :1].tolist() == [2]
    logits = jax.nn.one_hot(paths, 5) * 10
    assert greedy_decode(logits, jnp.array([8, 8])) == [[3, 3, 1], [2, 4]]
    decoded = {
        "targets": np.array([[3, 3, 1], [2, 4, 0]]),
        "mask": np.array([[1, 1, 1], [1, 1, 0]]),
    }
    accuracy = ctc((logits, jnp.array([8, 5])), decoded)["accuracy"]
    assert accuracy.tolist() == [1.0, 0.0]  # the second row's last frames decode a 4


def test_prefix_beam_search_finds_the_most_probable_labelling():
    rng = np.random.default_rng(2)
    for _ in range(3):
        log_probs = np.asarray(jax.nn.log_softmax(rng.normal(size=(5, 3)) * 2))
        totals = brute_force(log_probs)
        assert tuple(beam_search(log_probs, beam_width=100)) == max(totals, key=totals.get)
    # one best path spells "", but "1" has more probability summed over its alignments
    two_frames = np.log(np.array([[0.4, 0.3, 0.3], [0.4, 0.3, 0.3]]))
    assert greedy_decode(jnp.asarray(two_frames)[None], jnp.array([2])) == [[]]
    assert beam_search(two_frames, beam_width=4) in ([1], [2])


def test_the_beam_search_log_sum_is_numpys_to_the_bit():
    """The beam search sums probabilities with Python floats; the sums must be NumPy's, bit
    for bit, or a tie between two prefixes could fall the other way."""
    rng = np.random.default_rng(4)
    pairs = rng.normal(size=(20_000, 2)) * rng.choice([1e-3, 1.0, 30.0, 800.0], (20_000, 1))
    special = [(-np.inf, -np.inf), (-np.inf, -3.5), (2.0, 2.0), (-745.0, 0.0), (0.0, -1e300)]
    for a, b in [*pairs.tolist(), *special]:
        assert logaddexp(a, b) == np.logaddexp(a, b) == logaddexp(b, a)


def test_label_error_rate_counts_edits_over_true_labels():
    truth, decoded = [[1, 2, 3], [4, 4]], [[1, 3], [4, 4, 5]]  # a deletion, an insertion
    assert label_error_rate(truth, decoded) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="2 true sequences but 1"):
        label_error_rate(truth, decoded[:1])
    assert sequence_scores(decoded, truth) == {"error_rate": pytest.approx(0.4), "exact": 0.0}
    assert sequence_scores([[1, 2, 3], [4, 5]], truth) == {"error_rate": 0.2, "exact": 0.5}


def test_the_batch_beam_decoder_searches_each_utterance_over_its_own_frames_only():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 6, 3)).astype(np.float32) * 2
    lengths = np.array([6, 4])
    log_probs = np.asarray(jax.nn.log_softmax(logits, axis=-1))
    expected = [beam_search(log_probs[0], 5), beam_search(log_probs[1, :4], 5)]
    assert beam_decode(logits, lengths, 5) == expected
    assert beam_decode(logits, lengths, 5, progress="test") == expected
    arrays = {"targets": np.array([[3, 1, 0], [2, 0, 0]]), "mask": np.array([[1, 1, 0], [1, 0, 0]])}
    assert speech.references({**arrays, "mask": arrays["mask"].astype(bool)}) == [[3, 1], [2]]


@pytest.fixture(scope="module")
def recogniser():
    model = get_model(
        "ctc", num_outputs=11, cell="lstm", hidden_size=4, bidirectional=True,
        front_end_features=3, subsample=4,
    )  # fmt: skip
    variables = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 40, 5)))
    return model, variables


def test_padded_frames_change_neither_the_loss_nor_its_gradients(recogniser):
    model, variables = recogniser
    rng = np.random.default_rng(3)
    lengths = [40, 27]
    features = rng.normal(size=(2, 40, 5)).astype(np.float32)
    features[1, 27:] = rng.normal(size=(13, 5))  # padding that is not even zero
    targets, mask = np.array([[3, 1], [5, 0]]), np.array([[1, 1], [1, 0]])

    @jax.jit
    def loss_and_grad(variables, x, n, y, m):
        def loss(v):
            return jnp.sum(ctc(model.apply(v, x, n), {"targets": y, "mask": m})["loss"])

        return jax.value_and_grad(loss)(variables)

    together, grads = loss_and_grad(variables, features, np.array(lengths), targets, mask)
    alone = [
        loss_and_grad(
            variables, features[i : i + 1, :n], np.array([n]), targets[i : i + 1], mask[i : i + 1]
        )  # fmt: skip
        for i, n in enumerate(lengths)
    ]
    assert float(together) == pytest.approx(float(alone[0][0] + alone[1][0]), rel=1e-5)
    summed = jax.tree.map(jnp.add, alone[0][1], alone[1][1])
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(summed), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_subsampled_lengths_follow_the_output_size_formula(recogniser):
    model, variables = recogniser
    for frames in (1, 2, 3, 8, 9, 40, 41):
        once = conv_output_size(frames, 3, padding=1, stride=2, exact=False)
        twice = conv_output_size(once, 3, padding=1, stride=2, exact=False)
        assert int(subsampled_lengths(frames, 4)) == twice
        shape = jax.eval_shape(model.apply, variables, jnp.zeros((1, frames, 5)))
        assert shape[0].shape == (1, twice, 11)
    with pytest.raises(ValueError, match="subsample must be 1, 2 or 4"):
        get_model("ctc", num_outputs=11, subsample=3).init(jax.random.key(0), jnp.zeros((1, 8, 5)))


def test_the_synthesiser_is_deterministic_and_its_words_are_where_it_says():
    voice = speech.speakers()[0]
    first = speech.synthesise("3007", voice, np.random.default_rng(5))
    again = speech.synthesise("3007", voice, np.random.default_rng(5))
    np.testing.assert_array_equal(first.audio, again.audio)
    assert first.duration == len(first.audio) / speech.SAMPLE_RATE
    starts, ends = np.array(first.words).T
    assert 0 < starts[0] and np.all(starts < ends) and np.all(ends[:-1] < starts[1:])
    assert ends[-1] < first.duration
    time = np.arange(len(first.audio)) / speech.SAMPLE_RATE
    inside = np.any((time[:, None] >= starts) & (time[:, None] < ends), axis=1)
    power = first.audio.astype(np.float64) ** 2
    assert power[inside].mean() > 2 * power[~inside].mean()  # speech over background noise
    other = speech.synthesise("3007", voice, np.random.default_rng(6))
    assert len(other.audio) != len(first.audio)  # the variation comes from the generator
    test_voices = speech.speakers()[-speech.TEST_SPEAKERS :]
    assert not set(test_voices) & set(speech.speakers()[: -speech.TEST_SPEAKERS])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: speech.encode(""), "empty transcription"),
        (lambda: speech.encode("4a"), r"outside '0123456789': \['a'\]"),
        (lambda: speech.speech_arrays([np.zeros(800)], ["1"], 16000), "16000 Hz: expected 8000"),
        (lambda: speech.speech_arrays([np.zeros(800)], ["12345"], 8000), "CTC needs 5"),
        (lambda: log_mel_spectrogram(np.zeros((1, 800, 2)), sample_rate=8000), "mono"),
        (lambda: log_mel_spectrogram(np.zeros((1, 100)), sample_rate=8000), "shorter than one"),
        (
            lambda: log_mel_spectrogram(np.array([[0.0] * 399 + [np.nan]] * 2), sample_rate=8000),
            r"audio rows \[0, 1\] have NaN or infinite",
        ),
        (
            lambda: log_mel_spectrogram(np.zeros((1, 400)), [401], sample_rate=8000),
            r"lengths must be in 0..400 \(the audio's samples\), got \[401\]",
        ),
        (lambda: speech.speech_arrays([np.zeros((800, 2))], ["1"], 8000), "expected mono"),
        (lambda: speech.speech_arrays([np.zeros(800)], ["1", "2"], 8000), "1 utterances and 2"),
        (lambda: speech.fsdd_test_recording("jackson.wav"), "<digit>_<speaker>_<n>.wav"),
    ],
)
def test_bad_audio_and_transcriptions_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_traced_lengths_past_the_audio_count_only_the_frames_it_has():
    audio = np.random.default_rng(0).standard_normal((1, 400)).astype(np.float32)
    traced = jax.jit(lambda n: log_mel_spectrogram(audio, n, sample_rate=8000))
    features, frames = traced(jnp.array([4000]))
    assert frames.tolist() == [1 + (400 - 200) // 80]
    np.testing.assert_array_equal(features, log_mel_spectrogram(audio, sample_rate=8000)[0])


def fsdd_records(count: int = 12) -> list[dict]:
    """Stand-ins for the Free Spoken Digit Dataset's records: synthesised digits as 16-bit
    audio, named as FSDD names its files (recordings 0-4 are its test set)."""
    rng = np.random.default_rng(7)
    voice = speech.speakers()[1]
    records = []
    for index in range(count):
        digit = index % 10
        audio = speech.synthesise(str(digit), voice, rng).audio
        records.append(
            {
                "audio": (np.clip(audio, -1, 1) * 32767).astype(np.int64),
                "label": digit,
                "audio/filename": f"{digit}_george_{index % 8}.wav".encode(),
            }
        )
    return records


@pytest.mark.slow
def test_the_experiment_trains_on_free_spoken_digit_under_mock_data(tmp_path):
    records = fsdd_records(24)
    config = speech_config.get_config("tiny")
    config.batch_size = 8  # of 9 training recordings
    config.data.name, config.data.data_dir = "free_spoken_digit/3", str(tmp_path / "data")
    with tfds.testing.mock_data(as_data_source_fn=lambda *args, **kwargs: records):
        test = registry.load_split("free_spoken_digit/1", "test", config.data.data_dir)
        results = experiment.run(config, str(tmp_path / "run"))
    truth = [speech.decode(row[m]) for row, m in zip(test["targets"], test["mask"], strict=True)]
    assert truth == [str(i % 10) for i in range(24) if i % 8 < 5]  # isolated, FSDD's test set
    assert list(results["models"]) == ["bilstm"]  # the tiny profile trains one model
    for row in results["models"].values():
        for decoding in ("greedy", "beam"):
            assert 0 <= row[decoding]["exact"] <= 1 and row[decoding]["error_rate"] >= 0
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["anchors"] == experiment.ANCHORS
    assert (tmp_path / "run" / "learning_curves.png").exists()
    assert (tmp_path / "run" / "utterance.png").exists()


def test_recordings_are_prepared_without_tensorflow_and_bad_ones_refused(tmp_path):
    recordings = tmp_path / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for record in fsdd_records(8):
        name = record["audio/filename"].decode()
        wavfile.write(recordings / name, 8000, record["audio"].astype(np.int16))
    data_dir = str(tmp_path / "data")
    prepare(["free_spoken_digit", "--data_dir", data_dir, "--manual_dir", str(tmp_path / "fsdd")])
    test = registry.load_split("free_spoken_digit/1", "test", data_dir)
    assert test["targets"][:, 0].tolist() == [1, 2, 3, 4, 5]  # "0".."4": recordings 0-4
    wavfile.write(tmp_path / "fast.wav", 16000, np.zeros(1600, np.int16))
    with pytest.raises(ValueError, match="fast.wav: audio at 16000 Hz: expected 8000"):
        read_recording(tmp_path / "fast.wav")
    wavfile.write(tmp_path / "stereo.wav", 8000, np.zeros((800, 2), np.int16))
    with pytest.raises(ValueError, match="stereo.wav: 2 channels; expected mono"):
        read_recording(tmp_path / "stereo.wav")
