"""How much gradient a cell keeps over T steps: ||dL/dh_1|| / ||dL/dh_T|| at initialisation and
after a short training, measured on the adding problem at every length of a sweep. The
vanishing-gradient and long-memory experiments share it.

A decay config is written in the training dialect:

    model      {name, **options}: a many-to-one model (``get_model``), its cell by name
    lengths    the sequence lengths T measured
    seeds      independent initialisations (and measurement batches), all in one program
    measure    {batch_size, dtype}: the batch d loss / d h_t is measured on, in 'float32' or
               'float64' (at T = 1,000 the norms fall below float32's smallest number)
    train      {num_steps (0: at initialisation only), batch_size, length (0: train at each T),
               fast_compile}: the short training, a sweep group on 'adding_problem/t<length>'
    optimizer  the short training's

The parameters do not depend on T, so each seed's network is the same at every length.
"""

from functools import partial

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from nets.data.synthetic import adding_problem
from nets.gradients import hidden_state_gradient_norms
from nets.runtime import fast_compilation
from nets.training import objectives
from nets.training.config import build_optimizer, model_from
from nets.training.state import TrainState
from nets.training.sweep import sweep_group


def geometric_mean(values) -> float:
    """exp(mean(log v)) across seeds (ratios span many decades); 0 if any underflowed to 0."""
    values = np.asarray(values, np.float64)
    return 0.0 if np.any(values <= 0) else float(np.exp(np.mean(np.log(values))))


def seed_keys(seeds: int, stream: int) -> jax.Array:
    """One key per seed for an independent random stream (init, data, training)."""
    return jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), stream))(jnp.arange(seeds))


def gradient_norms(model, params, inputs, targets, dtype) -> dict:
    """Per-step mean norms {component: [seeds, T]} of the MSE's d loss / d h_t, computed in
    ``dtype``; every argument carries a seed axis."""
    cast = partial(jax.tree.map, lambda a: a.astype(dtype))

    def one_seed(params, inputs, targets):
        def loss_fn(predictions):
            return objectives.batch_mean(objectives.mse, predictions, {"targets": targets})

        norms = hidden_state_gradient_norms(model, params, inputs, loss_fn)
        return {name: n.mean for name, n in norms.items()}

    return jax.vmap(one_seed)(cast(params), cast(inputs), cast(targets))


def norm_record(norms: dict) -> dict:
    """Per-step norms and the first-to-last ratio per seed, for each carry component."""
    records = {}
    for name, per_step in norms.items():
        per_step = np.asarray(per_step)
        ratios = per_step[:, 0] / per_step[:, -1]
        records[name] = {
            "per_step": per_step,
            "ratio_first_to_last": ratios,
            "ratio_geometric_mean": geometric_mean(ratios),
        }
    return records


def measured_model(group, where: str = "config"):
    """The model of a model group computing in its inputs' dtype (measure.dtype: float64 where
    the norms underflow float32), whatever computation dtype the group names for training."""
    return model_from({**group, "dtype": None}, 1, f"{where}.model")


def training_group(config, length: int) -> ml_collections.ConfigDict:
    """The short training of a decay config as a sweep group: its model on the adding problem
    at T = ``length``, its optimizer, ``train.num_steps`` steps, no test split."""
    return ml_collections.ConfigDict(
        {
            "model": config.model.copy_and_resolve_references(),
            "data": {"name": f"adding_problem/t{length}", "test_size": 0},
            "optimizer": config.optimizer.copy_and_resolve_references(),
            "num_steps": config.train.num_steps,
            "batch_size": config.train.batch_size,
            "eval_every": config.train.num_steps,
            "seeds": config.seeds,
        }
    )


def decay_across_lengths(config, where: str = "config", progress=None) -> list:
    """One record per T of ``config.lengths`` for the decay config's model, all seeds: 'init'
    (and with training 'trained') {component: norm_record}, 'train_length' and
    'train_loss_last_10' [seeds].

    With ``train.length`` > 0 the model is trained once, at that length, and the trained
    network is measured at every T; with 0 a fresh copy is trained at each T. Training is the
    sweep driver's, from the same initialisation as the measurement. Every T is measured in
    one program: one compilation per cell instead of one per T (on a CPU 9.9 s instead of 24 s
    for the main experiment's six cells at seven lengths).
    """
    model = measured_model(config.model, where)
    optimizer = build_optimizer(config.optimizer, config.train.num_steps, f"{where}.optimizer")
    example = jnp.zeros((config.measure.batch_size, 2, 2), jnp.float32)
    dtype = jnp.dtype(config.measure.dtype)
    lengths = tuple(config.lengths)

    def train(length):
        # The measurements are brief programs, compiled without XLA's costly optimisations
        # (config.fast_compile); the quick profile's training sweep runs long enough for them
        # to pay (config.train.fast_compile False): the first run took 59 s instead of 69 s,
        # and a rerun from the cache 25 s instead of 35 (the cache keeps the longer compile).
        with fast_compilation(config.train.fast_compile):
            result = sweep_group(training_group(config, length), where=where)
        params = {"params": jax.tree.map(lambda a: a[0], result["state"].params)}
        return params, result["train"]["loss"][0, :, -10:].mean(axis=1)  # [seeds]

    @jax.jit
    def measure(params_per_length):  # [the seeds' params measured at T for each T of lengths]
        norms = []
        for params, length in zip(params_per_length, lengths, strict=True):
            data = partial(adding_problem, batch_size=config.measure.batch_size, length=length)
            batch = jax.vmap(data)(seed_keys(config.seeds, 1))
            norms.append(gradient_norms(model, params, batch["inputs"], batch["targets"], dtype))
        return norms

    def initial(seed):  # the sweep driver's initialisation of seed s
        return {"params": TrainState.create(model, optimizer, example, jax.random.key(seed)).params}

    params = jax.jit(jax.vmap(initial))(jnp.arange(config.seeds))
    records = [
        {"length": length, "init": norm_record(norms)}
        for length, norms in zip(lengths, measure([params] * len(lengths)), strict=True)
    ]
    train_each = config.train.num_steps and not config.train.length  # a training per T
    if config.train.num_steps:
        if train_each:
            runs = []
            for length in lengths:
                runs.append(train(length))
                if progress is not None:
                    progress.update()  # the bar moves with each training
        else:
            runs = [train(config.train.length)] * len(lengths)
        trained = measure([trained for trained, _ in runs])
        for record, norms, (_, loss) in zip(records, trained, runs, strict=True):
            record["trained"] = norm_record(norms)
            record["train_length"] = config.train.length or record["length"]
            record["train_loss_last_10"] = np.asarray(loss)
    if progress is not None and not train_each:
        progress.update(len(lengths))
    return records
