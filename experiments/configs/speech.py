"""Speech recognition with CTC on generated spoken digit strings (``nets.data.speech``): log-mel
features -> a convolutional front end that subsamples time by 4 -> a 2-layer bidirectional
LSTM -> per-frame logits over the 10 digits and the blank, trained with ``optax.ctc_loss``.

    python -m experiments.train --config experiments/configs/speech.py --workdir runs/ctc
    python -m experiments.speech --workdir runs/speech   # BiLSTM, LSTM, tanh RNN; beam search

The speech experiment trains ``config.compare``'s recognisers on the same utterances and
reports each one's digit error rate with greedy and beam decoding. 'digit_speech/N' generates
N training utterances; 'free_spoken_digit' reads the Free Spoken Digit Dataset once prepared
(``python -m nets.data.prepare free_spoken_digit``). Profiles: 'quick' (default, about 10 minutes
for the BiLSTM on a 2-core CPU), 'full', 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import model_config, shrink_for_tests, training_config

# the published digit/phoneme error rates printed beside ours (%)
ANCHORS = {
    "Graves et al. 2006, BLSTM-CTC on TIMIT phonemes, best path": 31.47,
    "Graves et al. 2006, BLSTM-CTC on TIMIT phonemes, prefix search": 30.51,
}


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    recurrent = dict(num_layers=2, hidden_size=128, subsample=4, front_end_features=64)
    config = training_config(profile, "digit_speech", "ctc", cell="lstm", bidirectional=True)
    config.model.update(recurrent)
    # at 2e-3 (2,400 steps) the unidirectional LSTM stalls at 0.8 nats per digit (20.7% digit
    # error; seeds 0 and 1), while the BiLSTM reaches 0.51% and a 128-unit tanh RNN 1.23%; at
    # 1e-3 the LSTM reaches 96% of training utterances by step 700. One rate for all: 1e-3
    config.optimizer.learning_rate = 1e-3
    config.optimizer.schedule = "cosine"
    config.optimizer.clip_norm = 1.0
    config.batch_size = 32
    # a batch of 32 is 362 of the split's 484 frames long on average (digit_speech/6000): cut
    # to a multiple of 64 frames, this experiment ran about 14% faster (scripts/README.md)
    config.data.trim_to = 64
    config.num_steps = 2000
    config.log_every = 100
    config.eval_every = 500
    config.checkpoint_every = 500
    config.eval_batch_size = 200
    config.compare = ml_collections.ConfigDict(
        {
            "bilstm": config.model,
            "lstm": model_config("ctc", cell="lstm", **recurrent),
            # 256 units: about the LSTM's parameters (a tanh cell has a quarter of its weights)
            "tanh": model_config("ctc", cell="tanh", **{**recurrent, "hidden_size": 256}),
        }
    )
    config.beam_width = 8  # CTC prefix beam search
    if profile == "full":
        config.data.name = "digit_speech/20000"
        config.num_steps = 10_000
    elif profile == "tiny":
        shrink_for_tests(config, batch_size=8, eval_batch_size=8)
        config.data.name = "digit_speech/24"
        config.beam_width = 2
        for name in ("lstm", "tanh"):  # the BiLSTM's code path with other cells
            del config.compare[name]
        for model in config.compare.values():
            model.update(num_layers=1, hidden_size=4, front_end_features=4)
    return config
