"""Synthetic sequence tasks that test long-range memory, generated on the fly with jax.random.

Adding problem (Hochreiter and Schmidhuber 1997; the uRNN paper's form): channel 0 holds values
u_t ~ U(0, 1), channel 1 marks exactly two steps, one in each half of the sequence; the target
is the sum of the two marked values. Predicting 1 always gives MSE Var(u_a + u_b) = 2/12 = 1/6.

Copy task (Arjovsky et al. 2016): 10 symbols from {1..8}, then T - 1 blanks (0), the delimiter 9,
and 10 more blanks; the target is T + 10 blanks, then the 10 symbols. A model that outputs the
blank until the delimiter and then guesses uniformly among 8 symbols scores the memoryless
baseline cross-entropy 10 ln 8 / (T + 20).

Noisy sine: forecast the next value of a sine of random frequency and phase seen through noise,
the regression on which the losses are compared; ``with_outliers`` corrupts a fraction of its
training targets.

The adding problem and the copy task are registered data sets ('adding_problem/t100',
'copy_task/t1000': ``Generated``): the run driver reads the records a builder prepared from
them, a sweep draws fresh batches from keys.
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nets.checks import check_positive

ADDING_BASELINE_MSE = 1 / 6
COPY_SYMBOLS, COPY_ALPHABET, COPY_BLANK, COPY_DELIMITER = 10, 8, 0, 9


def adding_problem(key: jax.Array, batch_size: int, length: int, dtype=jnp.float32):
    """A batch of the adding problem: {'inputs': [batch, length, 2], 'targets': [batch]}."""
    check_positive("batch_size", batch_size)
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"adding problem length must be an integer >= 2, got {length!r}")
    key_values, key_first, key_second = jax.random.split(key, 3)
    values = jax.random.uniform(key_values, (batch_size, length), dtype)
    half = length // 2
    first = jax.random.randint(key_first, (batch_size,), 0, half)
    second = jax.random.randint(key_second, (batch_size,), half, length)
    markers = jax.nn.one_hot(first, length, dtype=dtype) + jax.nn.one_hot(
        second, length, dtype=dtype
    )
    return {
        "inputs": jnp.stack([values, markers], axis=-1),
        "targets": jnp.sum(values * markers, axis=1),
    }


def copy_task(key: jax.Array, batch_size: int, delay: int):
    """A batch of the copy task with ``delay`` = T: {'inputs', 'targets'}, integers
    [batch, T + 20] each."""
    check_positive("batch_size", batch_size)
    check_positive("copy task delay", delay)
    symbols = jax.random.randint(key, (batch_size, COPY_SYMBOLS), 1, COPY_ALPHABET + 1)
    blanks = lambda n: jnp.full((batch_size, n), COPY_BLANK)  # noqa: E731
    delimiter = jnp.full((batch_size, 1), COPY_DELIMITER)
    inputs = jnp.concatenate([symbols, blanks(delay - 1), delimiter, blanks(COPY_SYMBOLS)], 1)
    targets = jnp.concatenate([blanks(delay + COPY_SYMBOLS), symbols], axis=1)
    return {"inputs": inputs, "targets": targets}


def copy_recall(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """The fraction of the 10 recalled symbols (the targets' last 10 steps) that the argmax of
    ``logits`` [batch, T + 20, 10] gets right: 1/8 by guessing, 1 when the task is solved."""
    recalled = jnp.argmax(logits[:, -COPY_SYMBOLS:], axis=-1)
    return jnp.mean(recalled == targets[:, -COPY_SYMBOLS:])


def copy_task_baseline(delay: int) -> float:
    """The memoryless cross-entropy per step, 10 ln 8 / (T + 20)."""
    return COPY_SYMBOLS * math.log(COPY_ALPHABET) / (delay + 2 * COPY_SYMBOLS)


def noisy_sine(size: int, window: int, noise: float, seed: int, clean_targets: bool) -> dict:
    """{'inputs': ``window`` steps of a noisy sine [size, window, 1], 'targets': the next value
    [size]} (noiseless if ``clean_targets``). Frequency (0.02 to 0.1 cycles per step) and phase
    vary per example; the noise is Gaussian with standard deviation ``noise``."""
    rng = np.random.default_rng(seed)
    steps = np.arange(window + 1)
    frequency = rng.uniform(0.02, 0.1, size=(size, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(size, 1))
    signal = np.sin(2 * np.pi * frequency * steps + phase)
    noisy = signal + noise * rng.normal(size=signal.shape)
    targets = signal[:, -1] if clean_targets else noisy[:, -1]
    return {"inputs": noisy[:, :-1, None].astype(np.float32), "targets": targets.astype(np.float32)}


def with_outliers(targets: np.ndarray, fraction: float, scale: float, seed: int) -> np.ndarray:
    """``targets`` with ``fraction`` of them replaced by values of size scale/2 to scale and a
    random sign."""
    rng = np.random.default_rng(seed)
    corrupted = targets.copy()
    chosen = rng.choice(len(targets), size=int(round(fraction * len(targets))), replace=False)
    sign = rng.choice((-1.0, 1.0), size=len(chosen))
    corrupted[chosen] = sign * rng.uniform(0.5, 1.0, size=len(chosen)) * scale
    return corrupted


NOISY_SINE = {"window": 20, "noise": 0.1, "train_size": 2000, "test_size": 1000, "scale": 10.0}


def noisy_sine_split(name: str, split: str, data_dir=None) -> dict[str, np.ndarray]:
    """The registered noisy sine, 'noisy_sine/P' with P% of its training targets replaced by
    outliers of size 5 to 10 (``with_outliers``; 'noisy_sine': none): ``NOISY_SINE``'s window,
    noise and sizes; the test targets are the clean sine's. Made in memory."""
    del data_dir
    _, _, percent = name.partition("/")
    if percent and (not percent.isdigit() or not 0 < int(percent) < 100):
        raise ValueError(f"dataset {name!r}: the part after '/' is the outliers' percentage, 1-99")
    window, noise = NOISY_SINE["window"], NOISY_SINE["noise"]
    if split == "test":
        return noisy_sine(NOISY_SINE["test_size"], window, noise, seed=1, clean_targets=True)
    train = noisy_sine(NOISY_SINE["train_size"], window, noise, seed=0, clean_targets=False)
    fraction = int(percent or 0) / 100
    targets = with_outliers(train["targets"], fraction, NOISY_SINE["scale"], seed=2)
    return {"inputs": train["inputs"], "targets": targets}


@dataclasses.dataclass(frozen=True)
class Generated:
    """A task drawn from a key at the length T its data set's name gives ('adding_problem/t200';
    ``default_length`` without one): ``draw(key, size, T)`` -> {'inputs', 'targets'}.

    A sweep draws each training batch from a fresh key; the test split of ``size`` examples is
    ``draw(key(test_key + T), size, T)``, the same on every machine and never trained on.
    """

    draw: Callable[[jax.Array, int, int], dict]
    default_length: int
    test_key: int

    def length(self, name: str) -> int:
        """T of the data set ``name``: 'adding_problem/t200' -> 200."""
        _, _, suffix = name.partition("/")
        if not suffix:
            return self.default_length
        if not (suffix.startswith("t") and suffix[1:].isdigit()):
            raise ValueError(f"dataset {name!r}: the part after '/' must be t<T>, as in 't100'")
        return int(suffix[1:])

    def batches(self, name: str, batch_size: int) -> Callable:
        """``sample_batch(key, _)`` of the sweep driver: ``batch_size`` fresh examples."""
        length = self.length(name)
        # a length the task refuses is refused now, from shapes alone
        jax.eval_shape(lambda key: self.draw(key, 1, length), jax.random.key(0))
        return lambda key, _: self.draw(key, batch_size, length)

    def test_split(self, name: str, size: int) -> dict:
        length = self.length(name)
        return self.draw(jax.random.key(self.test_key + length), size, length)


# the experiments' test keys: each task's test split is the same wherever it is drawn
ADDING = Generated(adding_problem, default_length=50, test_key=10_000)
COPY = Generated(copy_task, default_length=10, test_key=20_000)
