"""Speech recognition that transfers: the speech config's bidirectional LSTM recogniser trained on
spoken digits from two sources, the project's synthesiser and espeak-ng, with waveform
augmentation and SpecAugment, and tested on voices of each source that training never heard
(``nets.data.spoken_digits``).

    python -m experiments.train --config experiments/configs/speech_sources.py --workdir runs/asr
    python -m experiments.speech_sources --workdir runs/speech_sources   # the transfer matrix

The speech_sources experiment also trains the same recogniser on each source alone
(``config.sources``) and tests all three on each held-out source: the transfer matrix.
Profiles: 'quick' (default, about 15 minutes for one recogniser on a 2-core CPU), 'full',
'tiny' (the tests).
"""

import ml_collections

from experiments.configs import shrink_for_tests, speech


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = speech.get_config(profile)
    config.data.name = "spoken_digits/12000"
    config.data.augment = "specaugment"  # per example and step, seeded like the image recipes
    # validation digit error (espeak-ng / synthetic, beam) at 3,000 steps and 1e-3: 10.0% /
    # 0.51%; at 4,000 steps and 2e-3: 5.6% / 0.44%
    config.optimizer.learning_rate = 2e-3
    config.num_steps = 4000
    config.eval_every = 1000
    config.checkpoint_every = 1000
    del config.compare  # the architectures are compared by the speech experiment
    # the transfer matrix's other rows: the same recogniser trained on one source alone
    config.sources = ml_collections.ConfigDict(
        {"synthetic": "synthetic_digits/12000", "espeak": "espeak_digits/12000"}
    )
    # the single-source rows' steps: half, to keep the quick profile near 45 minutes on 2 cores
    # (they learn one source: their own held-out voices are not what they are compared on)
    config.source_steps = 2000
    config.test_size = 600  # utterances per held-out source
    config.test_snr_db = 20.0  # the held-out sources again with white noise at this SNR
    config.user_files = 60  # held-out espeak-ng .wav files transcribed as experiments.predict does
    if profile == "full":
        config.data.name = "spoken_digits/40000"
        config.sources = {"synthetic": "synthetic_digits/40000", "espeak": "espeak_digits/40000"}
        config.test_size = 2000
        config.source_steps = config.num_steps
    elif profile == "tiny":  # the speech config's tiny sizes: its quick schedule was set above
        shrink_for_tests(config, batch_size=8, eval_batch_size=8, eval_every=2)
        config.model.update(num_layers=1, hidden_size=4, front_end_features=4)
        config.data.name = "spoken_digits/24"
        config.sources = {"espeak": "espeak_digits/24"}
        config.test_size = 8
        config.source_steps = config.num_steps
        config.user_files = 2
    return config
