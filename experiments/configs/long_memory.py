"""How far back can each cell learn? Forget-gate initialisation, clipping, and memory length.

    python -m experiments.long_memory --workdir runs/long_memory
    python -m experiments.long_memory --workdir runs/long_memory_full \
        --config experiments/configs/long_memory.py:full

Parts (``--config.parts``): 'forget_gate' (gradient ratios at initialisation for each forget /
update-gate initialisation), 'adding' (the longest adding-problem T each variant solves in a
fixed step budget), 'clipping' (a tanh RNN with W_h = sigma Q, sigma > 1, trained with and
without gradient clipping), 'copy' (the copy task at long delays) and 'pixels' (scikit-learn's
8x8 digits read one pixel per step, plain and permuted). Variants: 'tanh', 'irnn', 'gru',
'gru_b1' (update-gate bias 1), 'lstm_b0', 'lstm_b1', 'lstm_b3' (forget bias 0, 1, 3; 1 is the
LSTM's default), 'lstm_chrono' (chrono initialisation with T_max = the part's longest T), 'exprnn'
(orthogonal W_h) and 'lru_ring' (the LRU with 1 - 10 / T_max <= |lambda| <= 1 - 0.1 / T_max).

Profiles: 'quick' (default; one seed, short lengths and budgets: about 10 minutes on a 2-core
CPU), 'memory' (the headline grid: every cell at T up to 1,000 in one budget per task; hours on
a 2-core CPU, one part at a time), 'full' (three seeds, longer T and budgets: sized for an
accelerator), 'tiny' (the tests).
"""

import ml_collections

from experiments.configs import model_config, new_config, optimizer_config, sweep_config


def group(**fields) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(fields)


def sweep_part(seeds, data, model, test_size=0, **fields) -> ml_collections.ConfigDict:
    """A part trained by the sweep driver: a sweep group in the training dialect
    (``nets.training.config.build_sweep``), its model options and own fields set."""
    model_options = fields.pop("model_options", {})
    part = sweep_config(data, model, test_size, **model_options)
    part.seeds = seeds
    part.update(fields)
    return part


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = new_config(profile, own=("memory",))
    config.parts = ("forget_gate", "adding", "clipping", "copy", "pixels")
    # one field for every part: --config.seeds=3 changes them all
    seeds = ml_collections.FieldReference(1)
    config.seeds = seeds
    # d loss / d h_t in one backward pass at initialisation (float64: it underflows float32)
    config.forget_gate = group(
        variants=("lstm_b0", "lstm_b1", "lstm_b3", "lstm_chrono", "gru", "gru_b1"),
        lengths=(10, 30, 100, 300, 1000),
        seeds=seeds,
        model=model_config("many_to_one", hidden_size=32),  # model.cell: each variant's
        measure=group(batch_size=32, dtype="float64"),
        train=group(num_steps=0, batch_size=32, length=0),  # at initialisation only
        optimizer=optimizer_config(),
    )
    # each variant at each T: model.cell and its options and the data set 'adding_problem/t<T>'
    config.adding = sweep_part(
        seeds,
        "adding_problem/t50",
        "many_to_one",
        test_size=500,
        model_options={"hidden_size": 32},
        variants=(
            *("tanh", "irnn", "gru", "lstm_b0", "lstm_b1", "lstm_b3", "lstm_chrono"),
            *("exprnn", "lru_ring"),
        ),
        lengths=(50, 100, 200),
        optimizer=optimizer_config(learning_rate=1e-2, clip_norm=1.0),
        batch_size=32,
        num_steps=600,
        eval_every=100,
        solved_mse=0.01,
    )
    # Pascanu et al. 2013: clip at a threshold near the typical gradient norm. The typical norm
    # is the median of the unclipped run's norms (its mean is the spikes' own size). The tanh
    # RNN's W_h = sigma Q: sigma is model.recurrent_scale.
    config.clipping = sweep_part(
        3,  # spikes come at different steps in different runs; three runs show them
        "adding_problem/t50",
        "many_to_one",
        test_size=500,
        model_options={"cell": "tanh", "hidden_size": 32, "recurrent_scale": 2.0},
        optimizer=optimizer_config(name="sgd", learning_rate=0.03, momentum=0.0),
        threshold_factor=1.0,
        spike_window=20,  # a spike: a loss twice the median of the 20 steps before it
        batch_size=32,
        num_steps=400,
        eval_every=50,
    )
    # each cell at each delay T: the data set 'copy_task/t<T>'
    config.copy = sweep_part(
        seeds,
        "copy_task/t100",
        "many_to_many",
        test_size=500,
        model_options={"hidden_size": 64},
        variants=("tanh", "irnn", "lstm_b1", "gru", "exprnn", "lru_ring"),
        lengths=(100, 200),
        optimizer=optimizer_config(learning_rate=1e-3, clip_norm=1.0),
        batch_size=32,
        num_steps=600,
        eval_every=100,
        solved_recall=0.99,  # solved: at least 99% of the recalled symbols right
    )
    # each cell on 'digits8_pixels' and 'digits8_pixels_permuted' ('digits32_pixels': T = 1,024)
    config.pixels = sweep_part(
        seeds,
        "digits8_pixels",
        "many_to_one",
        model_options={"hidden_size": 64},
        variants=("tanh", "irnn", "lstm_b1", "gru", "exprnn", "lru_ring"),
        optimizer=optimizer_config(learning_rate=1e-3, clip_norm=1.0),
        batch_size=64,
        num_steps=1000,
        eval_every=100,
        metric="accuracy",
        solved_accuracy=0.9,
    )
    if profile == "memory":
        # the headline grid: every cell at long T, one budget per task (copy at T = 1,000 is
        # solved by the LRU in it: 3,500 steps, 15 minutes on 2 cores); run a part at a time
        # on a CPU (--config.parts='("copy",)'), the whole on an accelerator
        everyone = ("tanh", "irnn", "lstm_b1", "lstm_chrono", "gru", "exprnn", "lru_ring")
        budget = dict(variants=everyone, num_steps=3500, eval_every=500)
        schedule = optimizer_config(learning_rate=3e-3, clip_norm=1.0, schedule="cosine")
        # the adding problem at 1,500 steps: 3,500 for every cell at three T is about an hour
        config.adding.update(lengths=(200, 500, 1000), optimizer=schedule, **budget)
        config.adding.num_steps = 1500
        config.copy.update(lengths=(100, 200, 500, 1000), optimizer=schedule, **budget)
        # 32x32 digits (T = 1,024), 600 steps of 32: 13 epochs of the 1,437 training digits
        config.pixels.update(optimizer=schedule, **budget)
        config.pixels.update(num_steps=600, eval_every=200, batch_size=32)
        config.pixels.data.name = "digits32_pixels"
    elif profile == "full":
        seeds.set(3)
        config.adding.update(lengths=(50, 100, 200, 400, 800), num_steps=10_000, eval_every=500)
        config.adding.model.hidden_size = 128
        config.clipping.num_steps = 2000
        config.copy.update(num_steps=20_000, eval_every=1000)
        config.pixels.update(num_steps=10_000, eval_every=500)
        for part in ("copy", "pixels"):
            config[part].model.hidden_size = 128
    elif profile == "tiny":
        config.forget_gate.update(variants=("lstm_b1", "lstm_chrono"), lengths=(12,))
        config.forget_gate.measure.batch_size = 4
        config.adding.update(variants=("tanh", "lstm_chrono"), lengths=(6,), num_steps=4)
        config.adding.update(eval_every=2, batch_size=8)
        config.clipping.update(num_steps=6, eval_every=3, batch_size=8, spike_window=2, seeds=2)
        config.clipping.data.name = "adding_problem/t8"
        config.copy.update(variants=("lstm_b1",), lengths=(5,), num_steps=4, eval_every=2)
        config.pixels.update(variants=("tanh",), num_steps=4, eval_every=2, batch_size=8)
        config.copy.batch_size = 8
        for part in ("adding", "clipping", "copy"):
            config[part].data.test_size = 16
        for part in ("forget_gate", "adding", "clipping", "copy", "pixels"):
            config[part].model.hidden_size = 8
    return config
