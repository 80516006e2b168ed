"""Speech from a second source (espeak-ng), the speech augmentation and the held-out-voice splits,
checked against independent arithmetic: a sine's frequency read from its FFT, an SNR and a
gain measured in decibels, a room's T60 by Schroeder's backward integration."""

import importlib.util

import numpy as np
import pytest

from nets.data import espeak, spoken_digits
from nets.data import speech_augment as augment
from nets.data.augment import augmentation
from nets.data.speech import SAMPLE_RATE

# espeakng-loader has no wheel for Linux on ARM: there the espeak-ng tests cannot run
needs_espeak = pytest.mark.skipif(
    importlib.util.find_spec("espeakng_loader") is None, reason="no espeakng-loader wheel here"
)


@needs_espeak
def test_espeak_speaks_digits_at_8_khz_and_a_fresh_process_repeats_itself():
    voice = espeak.Voice("en-US", "f3", speed=170)
    audio = espeak.speak("4071", voice)
    assert audio.dtype == np.float32 and 0.5 < len(audio) / SAMPLE_RATE < 3.0
    assert 0.01 < np.abs(audio).max() <= 1.0
    # slower speech is longer: espeak-ng's rate is in words per minute
    slow = espeak.speak("4071", espeak.Voice("en-US", "f3", speed=100))
    assert len(slow) > 1.4 * len(audio)
    # the engine's own rate, resampled by 160/441
    raw = espeak.engine_samples("4071", voice)
    assert raw.dtype == np.int16 and abs(len(audio) - len(raw) * 160 / 441) <= 1
    # the engine carries state from one utterance to the next; a fresh process speaking the
    # same list in the same order gives the same samples (how the data sets are made)
    jobs = [("4071", voice), ("93", espeak.Voice("en", "m1")), ("4071", voice)]
    first, second = espeak.speak_fresh(jobs), espeak.speak_fresh(jobs)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(first[0]) == pytest.approx(len(audio), abs=0.05 * len(audio))


@needs_espeak
def test_an_unknown_voice_is_one_line_listing_the_voices():
    with pytest.raises(ValueError, match="no English voice 'en-AU'; the voices are en-US, "):
        espeak.speak("1", espeak.Voice("en-AU"))
    with pytest.raises(ValueError, match=r"no voice variant 'robot9'; the variants are .*f3"):
        espeak.speak("1", espeak.Voice("en-US", "robot9"))
    with pytest.raises(ValueError, match="outside '0123456789'"):
        espeak.speak("4a", espeak.Voice("en-US"))


@needs_espeak
def test_held_out_voices_share_neither_accent_nor_variant_with_training():
    parts = {split: espeak.split_voices(split) for split in ("train", "validation", "test")}
    for a, b in (("train", "test"), ("train", "validation"), ("validation", "test")):
        assert not set(parts[a][0]) & set(parts[b][0])
        assert not set(parts[a][1]) & set(parts[b][1])
    assert sorted(sum((list(p[0]) for p in parts.values()), [])) == sorted(espeak.LANGUAGES)
    assert len(espeak.variants()) == sum(len(p[1]) for p in parts.values()) > 100
    rng = np.random.default_rng(0)
    for _ in range(50):
        voice = espeak.random_voice("test", rng)
        assert voice.language in parts["test"][0] and voice.variant in parts["test"][1]
        assert espeak.SPEED[0] <= voice.speed <= espeak.SPEED[1]


def _peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)[np.argmax(spectrum)])


def test_speed_perturbation_scales_time_and_frequency():
    tone = np.sin(2 * np.pi * 500 * np.arange(SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32)
    for factor in (0.9, 1.1):
        fast = augment.speed_perturbation(tone, factor)
        assert len(fast) == pytest.approx(SAMPLE_RATE / factor, abs=2)
        assert _peak_hz(fast) == pytest.approx(500 * factor, abs=3)


def test_gain_noise_and_reverberation_have_the_asked_level_and_decay():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(40_000).astype(np.float32) * 0.1

    def db(x):
        return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2))

    assert db(augment.gain(audio, 6.0)) - db(audio) == pytest.approx(6.0, abs=1e-3)
    noisy = augment.add_noise(audio, 10.0, np.random.default_rng(1))
    assert db(audio) - db(noisy - audio) == pytest.approx(10.0, abs=0.2)
    # T60 by Schroeder's backward integration of the impulse response's energy: the time
    # the decay curve takes from -5 dB to -35 dB, times two (the T30 estimate)
    for t60 in (0.2, 0.5):
        response = augment.room_impulse_response(t60, np.random.default_rng(2))[1:]
        decay = 10 * np.log10(np.cumsum(response[::-1] ** 2)[::-1] / np.sum(response**2))
        times = np.arange(len(decay)) / SAMPLE_RATE
        start, stop = times[np.argmax(decay <= -5)], times[np.argmax(decay <= -35)]
        assert 2 * (stop - start) == pytest.approx(t60, rel=0.1)
    wet = augment.reverberate(audio, 0.3, np.random.default_rng(3))
    assert len(wet) == len(audio) and db(wet) == pytest.approx(db(audio), abs=1e-3)


@needs_espeak
def test_waveform_augmentation_is_a_function_of_its_seed():
    audio = espeak.speak("12", espeak.Voice("en"))
    first = augment.augment_waveform(audio, np.random.default_rng(5))
    np.testing.assert_array_equal(first, augment.augment_waveform(audio, np.random.default_rng(5)))
    assert 0.85 < len(audio) / len(first) < 1.15
    assert not np.array_equal(first, augment.augment_waveform(audio, np.random.default_rng(6)))


def test_spec_augment_masks_only_the_real_frames():
    features = np.ones((50, 40), np.float32)
    frames = 30
    masked = [
        augment.spec_augment(features, frames, np.random.default_rng(seed)) for seed in range(200)
    ]
    for m in masked:
        assert (m[frames:] == 1).all()  # the padding is left as it was (the model ignores it)
        rows = (m[:frames] == 0).all(axis=1)  # time masks: whole frames
        columns = (m[:frames] == 0).all(axis=0)  # frequency masks: whole bands
        assert rows.sum() <= 2 * min(10, frames // 10) and columns.sum() <= 2 * 8
        zeros = m[:frames] == 0
        assert (zeros == (rows[:, None] | columns[None, :])).all()  # nothing else is masked
    assert np.mean([(m == 0).any() for m in masked]) > 0.9
    assert (features == 1).all()  # a copy: the cached split is never written
    recipe = augmentation("specaugment")
    example = {"inputs": features, "lengths": np.int32(frames), "targets": np.zeros(3)}
    np.testing.assert_array_equal(
        recipe(example, np.random.default_rng(7))["inputs"],
        augment.spec_augment(features, frames, np.random.default_rng(7)),
    )


@needs_espeak
def test_spoken_digit_splits_mix_sources_and_hold_out_voices():
    arrays = spoken_digits.spoken_digits_split("validation", 6, ("synthetic", "espeak", "espeak"))
    np.testing.assert_array_equal(arrays["source"], [0, 1, 1, 0, 1, 1])
    for key in ("inputs", "lengths", "targets", "mask"):
        assert len(arrays[key]) == 6
    # utterance i's words depend on (split, source, i) only: the same digits in another mix
    alone = spoken_digits.spoken_digits_split("validation", 3, ("espeak",))
    np.testing.assert_array_equal(alone["targets"][1], arrays["targets"][1])
    # and a split is the same on every run: generated again, uncached, the same features
    again = spoken_digits.spoken_digits_split.__wrapped__("validation", 3, ("espeak",))
    for key, value in alone.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)
    # the synthetic speakers of the three splits are disjoint, and the test ones are
    # digit_speech's held-out speakers
    ranges = [set(r) for r in spoken_digits.SYNTHETIC_SPEAKERS.values()]
    assert not (ranges[0] & ranges[1] or ranges[0] & ranges[2] or ranges[1] & ranges[2])
    assert ranges[2] == set(range(40, 50))
    with pytest.raises(ValueError, match=r"sources \['festival'\]: choose one or more of"):
        spoken_digits.spoken_digits_split("test", 2, ("festival",))
    with pytest.raises(ValueError, match="split 'dev'"):
        spoken_digits.spoken_digits_split("dev", 2)


@pytest.mark.slow
@needs_espeak
def test_the_transfer_experiment_scores_every_row_on_every_held_out_source(tmp_path):
    from experiments import speech_sources
    from experiments.configs import speech_sources as speech_sources_config

    config = speech_sources_config.get_config("tiny")
    results = speech_sources.run(config, str(tmp_path))
    columns = ["synthetic", "espeak", "synthetic + 20 dB noise", "espeak + 20 dB noise"]
    assert list(results["models"]) == ["both", *config.sources]
    for row in results["models"].values():
        for column in columns:
            for decoding in ("greedy", "beam"):
                cell = row[column][decoding]
                assert 0 <= cell["exact"] <= 1 and cell["error_rate"] >= 0
                # an exact utterance has no error: the rate is 0 only if every one is exact
                assert (cell["error_rate"] == 0) == (cell["exact"] == 1)
    # silence and steady noise are refused before the model: nothing heard, trained or not
    quiet = ["silence.wav", "white_noise.wav", "pink_noise.wav", "brown_noise.wav"]
    assert results["no_speech"] == dict.fromkeys(quiet, "")
    files = sorted((tmp_path / "user_files").glob("0*.wav"))
    assert len(files) == config.user_files
    assert {f.name.split("_")[1].split("+")[0] for f in files} <= set(
        espeak.SPLIT_LANGUAGES["test"]
    )
    assert (tmp_path / "transfer.png").stat().st_size > 10_000
