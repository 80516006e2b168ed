"""Recurrent networks: the vanilla RNN, LSTM and GRU cells, and ``Recurrent``, a cell scanned
over time.

Every cell splits its update into the part that depends on the input alone and the recurrent
part, so that ``Recurrent`` computes the input projection W_x x_t + b for all time steps in one
large matmul outside the scan, and the scan carries only the recurrent matmul W_h h_{t-1}
(cuDNN does the same). Backpropagation through time is written by hand in
``nets.recurrence``: the backward scan does only the sequential work and dL/dW_h, dL/dW_x are
formed once after it. A cell is still an ordinary Flax cell: ``cell(carry, x_t)`` returns
``(new_carry, y_t)`` for one step.

Shapes: inputs [batch, time, features] (batch-major); hidden states [batch, hidden_size].
"""

import math
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets import recurrence
from nets.activations import get_activation
from nets.checks import check_choice, check_positive, check_rank
from nets.lru import LRUCell
from nets.padding import check_lengths, reverse_sequences, valid_steps

Carry = Any  # a cell's recurrent state: an array, or a tuple of arrays (the LSTM's (C, h))
Initializer = Callable[..., jax.Array]


def orthogonal(scale: float = 1.0) -> Initializer:
    """W = scale * Q with Q a random orthogonal matrix: every singular value of W is ``scale``.

    The spectral norm of W_h is the knob of the vanishing-gradient theory (Pascanu et al. 2013):
    below 1 the gradient through a tanh RNN vanishes at least geometrically.
    """
    return nn.initializers.orthogonal(scale=scale)


def identity(scale: float = 1.0) -> Initializer:
    """W = scale * I; with ReLU this is the IRNN of Le, Jaitly and Hinton (2015)."""

    def init(key, shape, dtype=jnp.float32):
        del key
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"identity initialiser needs a square matrix, got shape {shape}")
        return scale * jnp.eye(shape[0], dtype=dtype)

    return init


def _cast(tree, dtype):
    return jax.tree.map(lambda a: jnp.asarray(a, dtype), tree)


def _perturb(x: jax.Array, perturbation: jax.Array | None) -> jax.Array:
    return x if perturbation is None else x + perturbation


class RecurrentCell(nn.Module):
    """The interface ``Recurrent`` scans. A step is p_t = W_x x_t + b (``input_dense``, all
    steps at once), r_t = h_{t-1} W_h + b_h (``recurrent_kernel``, ``recurrent_bias``), then
    elementwise work; subclasses define the parameters in ``setup`` and:

    ``update_function()``: the elementwise part as a pure function
      ``update(carry_{t-1}, p_t, r_t, perturbation) -> carry_t`` that reads no parameters.
      ``perturbation`` (a pytree like the carry, or None) is added to each component as soon as
      it is computed, so that a later component reads the perturbed earlier one (the LSTM's h_t
      reads the perturbed C_t): its gradient is the total derivative dL/dcarry_t.
    ``recurrence_step()``: the same update with its pullback, a ``nets.recurrence.Step``, for
      the hand-written backward pass. A cell defines one of the two: the LSTM and GRU write
      their pullbacks by hand; the vanilla RNN's comes from ``jax.vjp``.
    ``hidden_state(carry)``: h_t, [batch, hidden_size], the part of the carry W_h multiplies.
    ``readout(h)``: the per-step output y_t from h_t (identity unless the cell has W_y).

    ``param_dtype`` is the parameters' dtype, float32 unless set (even with jax_enable_x64).
    ``dtype`` is the computation's: None (the default) computes in the inputs' dtype promoted
    with the parameters'; ``jnp.bfloat16`` is mixed precision: the projections, the gates, the
    carry and the whole scan (and its backward pass) in bfloat16, the parameters kept in
    ``param_dtype`` and their gradients returned in it.
    """

    hidden_size: int
    param_dtype: Any = jnp.float32
    dtype: Any = None
    carry_names: ClassVar[tuple[str, ...]] = ("h",)

    def __post_init__(self):
        check_positive(f"{type(self).__name__} hidden_size", self.hidden_size)
        super().__post_init__()

    def __call__(self, carry: Carry, inputs: jax.Array) -> tuple[Carry, jax.Array]:
        """One time step: (carry_{t-1}, x_t) -> (carry_t, y_t). x_t: [batch, features]."""
        check_rank("cell input x_t", jnp.shape(inputs), 2, "[batch, features]")
        carry = self.step(carry, self.input_projection(inputs))
        return carry, self.readout(self.hidden_state(carry))

    def initialize_carry(self, batch_size: int, dtype=jnp.float32) -> Carry:
        """The zero state h_0 (and C_0 for the LSTM), [batch, hidden_size] each."""
        zeros = jnp.zeros((batch_size, self.hidden_size), dtype)
        return tuple(zeros for _ in self.carry_names) if len(self.carry_names) > 1 else zeros

    @classmethod
    def hidden_state(cls, carry: Carry) -> jax.Array:
        """h_t of a carry. A class method, so that a head can read it without calling the cell
        (a call would create a second, unused set of the cell's parameters)."""
        return carry[cls.carry_names.index("h")] if len(cls.carry_names) > 1 else carry

    def readout(self, hidden: jax.Array) -> jax.Array:
        return hidden

    def input_projection(self, inputs: jax.Array) -> jax.Array:
        """p = W_x x + b: [..., features] -> [..., gates], no dependence on time."""
        return self.input_dense(inputs)

    def recurrent_bias(self) -> jax.Array | None:
        """b_h, added to h_{t-1} W_h inside the step (only the GRU has one)."""
        return None

    def update_function(self):
        update = self.recurrence_step().update
        return lambda *args: update(*args)[0]

    def recurrence_step(self) -> recurrence.Step:
        return recurrence.autodiff_step(self.update_function())

    def recurrent_weights(self) -> tuple[jax.Array, jax.Array | None]:
        """(W_h, b_h or None) in the computation's dtype."""
        kernel, bias = self.recurrent_kernel, self.recurrent_bias()
        if self.dtype is None:
            return kernel, bias
        return kernel.astype(self.dtype), None if bias is None else bias.astype(self.dtype)

    def step(self, carry: Carry, projected: jax.Array, perturbation: Carry | None = None):
        """carry_t from carry_{t-1} and the projected input p_t of one step."""
        kernel, bias = self.recurrent_weights()
        recurrent = self.hidden_state(carry) @ kernel
        recurrent = recurrent if bias is None else recurrent + bias
        return self.update_function()(carry, projected, recurrent, perturbation)


class SimpleRNNCell(RecurrentCell):
    """The vanilla RNN of the lecture:

        h_t = f(W_h h_{t-1} + W_x x_t + b)
        y_t = g(W_y h_t)            (only when ``output_size`` is set; otherwise y_t = h_t)

    ``activation`` f is 'tanh' or 'relu' (any name in ``nets.activations``), g is
    ``output_activation``. ``recurrent_kernel_init`` sets W_h: ``orthogonal(scale)`` fixes its
    spectral norm, ``identity(scale)`` gives the IRNN.
    """

    activation: str = "tanh"
    output_size: int | None = None
    output_activation: str = "identity"
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = orthogonal()
    bias_init: Initializer = nn.initializers.zeros_init()

    def setup(self):
        self.g = get_activation(self.output_activation)
        # W_x x_t + b for every step at once; W_h lives in the scan.
        self.input_dense = nn.Dense(
            self.hidden_size,
            kernel_init=self.kernel_init,
            param_dtype=self.param_dtype,
            dtype=self.dtype,
            bias_init=self.bias_init,
        )
        self.recurrent_kernel = self.make_recurrent_kernel()
        if self.output_size is not None:
            check_positive("SimpleRNNCell output_size", self.output_size)
            self.output_dense = nn.Dense(
                self.output_size,
                use_bias=False,
                kernel_init=self.kernel_init,
                param_dtype=self.param_dtype,
                dtype=self.dtype,
            )

    def make_recurrent_kernel(self) -> jax.Array:
        """W_h [hidden, hidden], a parameter of its own."""
        shape = (self.hidden_size, self.hidden_size)
        return self.param("recurrent_kernel", self.recurrent_kernel_init, shape, self.param_dtype)

    def update_function(self):
        f = get_activation(self.activation)

        def update(carry, projected, recurrent, perturbation):
            del carry  # h_{t-1} enters through W_h h_{t-1} only
            return _perturb(f(projected + recurrent), perturbation)

        return update

    def readout(self, hidden):
        if self.output_size is None:
            return hidden
        return self.g(self.output_dense(hidden))


def rotation_blocks(key, shape, dtype=jnp.float32) -> jax.Array:
    """S [n, n] with S - S^T block-diagonal of 2 x 2 blocks [[0, t], [-t, 0]], t ~ U[-pi, pi]
    (Henaff et al. 2016): expm(S - S^T) rotates each pair of units by its own angle."""
    n = shape[0]
    angles = jax.random.uniform(key, (n // 2,), jnp.float32, -math.pi, math.pi)
    rows = 2 * jnp.arange(n // 2)
    return jnp.zeros(shape, jnp.float32).at[rows, rows + 1].set(angles).astype(dtype)


class ExpRNNCell(SimpleRNNCell):
    """An orthogonal RNN (expRNN, Lezcano-Casado and Martinez-Rubio 2019): the vanilla RNN with

        W_h = expm(S - S^T)          S [hidden, hidden] trained, S - S^T skew-symmetric

    so W_h^T W_h = expm(-(S - S^T)) expm(S - S^T) = I at every step of training: every singular
    value of W_h is 1, and ||dh_t / dh_{t-1}|| is bounded by |f'| alone, neither vanishing
    through W_h nor exploding. S starts as ``rotation_blocks``. The gradient reaches S through
    ``jax.scipy.linalg.expm`` by automatic differentiation, once per step of training.
    """

    def make_recurrent_kernel(self) -> jax.Array:
        shape = (self.hidden_size, self.hidden_size)
        return orthogonal_matrix(self.param("skew", rotation_blocks, shape, self.param_dtype))


def orthogonal_matrix(skew: jax.Array) -> jax.Array:
    """expm(S - S^T) of a square S [n, n]: an orthogonal n x n matrix (expRNN's W_h); a
    non-square S is refused by its shape."""
    if jnp.ndim(skew) != 2 or skew.shape[0] != skew.shape[1]:
        raise ValueError(
            f"an orthogonal W_h = expm(S - S^T) needs a square S [n, n], got shape "
            f"{tuple(jnp.shape(skew))}"
        )
    return jax.scipy.linalg.expm(skew - skew.T)


def forget_gate_bias(forget_bias: float) -> Initializer:
    """Bias of the LSTM's fused gates [f, i, C~, o]: ``forget_bias`` on f, zero elsewhere."""

    def init(key, shape, dtype=jnp.float32):
        del key
        hidden = shape[0] // 4
        return jnp.zeros(shape, dtype).at[:hidden].set(forget_bias)

    return init


def chrono_bias(max_length: int) -> Initializer:
    """Chrono initialisation (Tallec and Ollivier 2018) of the fused gates [f, i, C~, o]:

        b_f = log(u),  u ~ U[1, T_max - 1],   b_i = -b_f,   b_C = b_o = 0

    With the input gate nearly shut, C_t ~ f C_{t-1} decays with the time constant
    1 / (1 - sigmoid(b_f)) ~ u steps: the units' memories span 1 to T_max - 1 steps, the range
    of dependencies the task has (T_max: the longest one).
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"chrono initialisation needs T_max >= 2 (an integer), got {max_length!r}")

    def init(key, shape, dtype=jnp.float32):
        hidden = shape[0] // 4
        u = jax.random.uniform(key, (hidden,), jnp.float32, 1.0, max_length - 1.0)
        forget = jnp.log(u)
        return jnp.concatenate([forget, -forget, jnp.zeros(2 * hidden)]).astype(dtype)

    return init


def _candidate_quarter(hidden: int) -> jax.Array:
    """[4 * hidden] booleans: True on the C~ quarter of the fused gates [f, i, C~, o]."""
    return jnp.arange(4 * hidden) // hidden == 2


def _lstm_update(carry, projected, recurrent, perturbation):
    """The LSTM's elementwise step from the fused gate pre-activations p_t + W_h h_{t-1}; saves
    the activations [f, i, C~, o], C_{t-1} and tanh(C_t) for ``_lstm_pullback``."""
    c_previous, _ = carry
    eps_c, eps_h = (None, None) if perturbation is None else perturbation
    gates = projected + recurrent
    candidate = _candidate_quarter(c_previous.shape[-1])
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: one tanh over the contiguous [batch, 4H] block gives
    # all four activations; XLA:CPU runs it in a third of the time of four split ones.
    t = jnp.tanh(jnp.where(candidate, gates, 0.5 * gates))
    activations = jnp.where(candidate, t, 0.5 * t + 0.5)
    f, i, candidate_state, o = jnp.split(activations, 4, axis=-1)
    c = _perturb(f * c_previous + i * candidate_state, eps_c)
    tanh_c = jnp.tanh(c)
    h = _perturb(o * tanh_c, eps_h)
    return (c, h), (activations, c_previous, tanh_c)


def _lstm_pullback(saved, d_carry):
    """dL/d(C_{t-1}), dL/dgates and dL/d(perturbation) from dL/d(C_t, h_t), by the chain rule
    through the six equations (h_{t-1} enters only through the gates)."""
    activations, c_previous, tanh_c = saved
    d_c, d_h = d_carry
    f, i, candidate_state, o = jnp.split(activations, 4, axis=-1)
    d_c = d_c + d_h * o * (1.0 - tanh_c**2)  # the total dL/dC_t, through h_t = o tanh(C_t) too
    d_activations = jnp.concatenate(
        [d_c * c_previous, d_c * candidate_state, d_c * i, d_h * tanh_c], axis=-1
    )
    # sigmoid' = s (1 - s) on f, i, o; tanh' = 1 - t^2 on C~
    derivative = jnp.where(
        _candidate_quarter(d_c.shape[-1]),
        1.0 - activations**2,
        activations * (1.0 - activations),
    )
    d_gates = d_activations * derivative
    return (d_c * f, jnp.zeros_like(d_h)), d_gates, d_gates, (d_c, d_h)


class LSTMCell(RecurrentCell):
    """The LSTM of the lecture, its six equations with [h_{t-1}, x_t] concatenated:

        f_t = sigmoid(W_f [h_{t-1}, x_t] + b_f)          forget gate
        i_t = sigmoid(W_i [h_{t-1}, x_t] + b_i)          input gate
        C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)            candidate cell state
        C_t = f_t * C_{t-1} + i_t * C~_t                 cell state
        o_t = sigmoid(W_o [h_{t-1}, x_t] + b_o)          output gate
        h_t = o_t * tanh(C_t)                            hidden state

    The four gate matrices are fused into one, W = [W_f; W_i; W_C; W_o], and W [h; x] is split
    as W_h h + W_x x: the W_x x half (one [features, 4 * hidden] matmul) runs for all steps
    before the scan, the W_h h half ([hidden, 4 * hidden]) inside it. The carry is (C_t, h_t),
    the order of ``flax.linen.LSTMCell``.

    ``forget_bias`` (default 1.0) initialises b_f so that f_t = sigmoid(1) = 0.73 at the start:
    the cell state is mostly kept, so gradients flow back along C_t through many steps from the
    first update, instead of being halved at every step by f_t = 0.5 (Gers et al. 2000;
    Jozefowicz et al. 2015). ``chrono`` = T_max > 0 replaces it with chrono initialisation
    (``chrono_bias``): forget biases spread over log(1) .. log(T_max - 1), input biases their
    negatives.
    """

    forget_bias: float = 1.0
    chrono: int = 0

    def __post_init__(self):
        if self.chrono:
            chrono_bias(self.chrono)  # a T_max below 2 is refused when the cell is made
        super().__post_init__()

    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = orthogonal()
    carry_names: ClassVar[tuple[str, ...]] = ("c", "h")

    def setup(self):
        self.input_dense = nn.Dense(
            4 * self.hidden_size,
            kernel_init=self.kernel_init,
            param_dtype=self.param_dtype,
            dtype=self.dtype,
            bias_init=chrono_bias(self.chrono)
            if self.chrono
            else forget_gate_bias(self.forget_bias),
        )
        self.recurrent_kernel = self.param(
            "recurrent_kernel",
            self.recurrent_kernel_init,
            (self.hidden_size, 4 * self.hidden_size),
            self.param_dtype,
        )

    def recurrence_step(self):
        return recurrence.Step(_lstm_update, _lstm_pullback)

    def cudnn_weights(self, inputs: jax.Array) -> jax.Array:
        """These parameters in cuDNN's flat layout: W_ih [4H, X], W_hh [4H, H], b_ih, b_hh,
        gates in cuDNN's order (i, f, g, o); the single bias goes to b_ih, b_hh is zero.

        ``inputs`` [batch, time, features] only tells the input size when the parameters are
        first created.
        """
        if self.is_initializing():
            self.input_projection(inputs[:, :1])  # W_x's shape needs the feature count
        dense = self.input_dense.variables["params"]

        def to_ifgo(a):  # our fused order is the lecture's (f, i, C~, o)
            f, i, candidate, o = jnp.split(a, 4, axis=-1)
            return jnp.concatenate([i, f, candidate, o], axis=-1)

        return jnp.concatenate(
            [
                to_ifgo(dense["kernel"]).T.ravel(),
                to_ifgo(self.recurrent_kernel).T.ravel(),
                to_ifgo(dense["bias"]),
                jnp.zeros(4 * self.hidden_size, dense["bias"].dtype),
            ]
        )


def _gru_update(h_previous, projected, recurrent, perturbation):
    """The GRU's elementwise step; ``recurrent`` = W_h h_{t-1} + [0, 0, b_hn]. Saves [r, z], n,
    W_hn h_{t-1} + b_hn and h_{t-1} for ``_gru_pullback``."""
    hidden = h_previous.shape[-1]
    reset_update = jax.nn.sigmoid(projected[..., : 2 * hidden] + recurrent[..., : 2 * hidden])
    r, z = jnp.split(reset_update, 2, axis=-1)
    h_n = recurrent[..., 2 * hidden :]
    n = jnp.tanh(projected[..., 2 * hidden :] + r * h_n)
    h = _perturb((1.0 - z) * n + z * h_previous, perturbation)
    return h, (reset_update, n, h_n, h_previous)


def _gru_pullback(saved, d_h):
    """dL/dh_{t-1} (the direct path z * h_{t-1}), dL/dp_t, dL/dr_t and dL/d(perturbation)."""
    reset_update, n, h_n, h_previous = saved
    r, z = jnp.split(reset_update, 2, axis=-1)
    d_n = d_h * (1.0 - z) * (1.0 - n**2)  # at n's pre-activation
    d_reset_update = jnp.concatenate([d_n * h_n, d_h * (h_previous - n)], axis=-1)
    d_reset_update = d_reset_update * reset_update * (1.0 - reset_update)
    d_projected = jnp.concatenate([d_reset_update, d_n], axis=-1)
    d_recurrent = jnp.concatenate([d_reset_update, d_n * r], axis=-1)
    return d_h * z, d_projected, d_recurrent, d_h


class GRUCell(RecurrentCell):
    """The gated recurrent unit (Cho et al. 2014), in the form of cuDNN and ``flax.linen.GRUCell``:

        r_t = sigmoid(W_xr x_t + b_r + W_hr h_{t-1})                reset gate
        z_t = sigmoid(W_xz x_t + b_z + W_hz h_{t-1})                update gate
        n_t = tanh(W_xn x_t + b_n + r_t * (W_hn h_{t-1} + b_hn))    candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    The input half [features, 3 * hidden] is projected before the scan; b_hn stays inside
    because r_t multiplies it. ``update_bias`` initialises b_z (0 by default): a positive one
    starts z_t near 1, h_t ~ h_{t-1}, the GRU's counterpart of the LSTM's forget-gate bias.
    """

    update_bias: float = 0.0
    kernel_init: Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: Initializer = orthogonal()

    def setup(self):
        self.input_dense = nn.Dense(
            3 * self.hidden_size,
            kernel_init=self.kernel_init,
            param_dtype=self.param_dtype,
            dtype=self.dtype,
            bias_init=self._gate_bias,
        )
        self.recurrent_kernel = self.param(
            "recurrent_kernel",
            self.recurrent_kernel_init,
            (self.hidden_size, 3 * self.hidden_size),
            self.param_dtype,
        )
        self.candidate_bias = self.param(
            "candidate_bias", nn.initializers.zeros_init(), (self.hidden_size,), self.param_dtype
        )

    def _gate_bias(self, key, shape, dtype=jnp.float32):
        """[b_r, b_z, b_n]: ``update_bias`` on b_z, zero elsewhere."""
        del key
        hidden = shape[0] // 3
        return jnp.zeros(shape, dtype).at[hidden : 2 * hidden].set(self.update_bias)

    def recurrent_bias(self):
        """[0, 0, b_hn]: b_hn sits inside r_t * (W_hn h_{t-1} + b_hn)."""
        zeros = jnp.zeros(2 * self.hidden_size, self.candidate_bias.dtype)
        return jnp.concatenate([zeros, self.candidate_bias])

    def recurrence_step(self):
        return recurrence.Step(_gru_update, _gru_pullback)


IMPLEMENTATIONS = ("scan", "cudnn")


def _identity(params, projected):
    del params  # the inputs are already projected
    return projected


class Recurrent(nn.Module):
    """A recurrent cell scanned over time with ``nn.scan``: one compiled loop body for any length.

    ``Recurrent(LSTMCell(128))(x)`` with x [batch, time, features] returns
    ``(final_carry, outputs)``, outputs [batch, time, out] holding y_t for every step (h_t for
    the LSTM and GRU). ``num_layers`` stacks cells (each layer reads the outputs of the one
    below); ``bidirectional`` adds a cell reading the sequence backwards and concatenates the
    two directions' outputs (out = 2 * per-direction size). ``unroll`` is passed to the scan.
    ``remat`` recomputes the forward pass in the backward pass, ceil(sqrt(T)) steps at a time,
    input projection included: backpropagation through time then stores the carry once per
    chunk instead of every step's gate activations and projected input, for long sequences
    that would not fit otherwise, at the cost of running the forward scan twice.
    ``implementation='cudnn'`` runs an ``LSTMCell`` (one layer, one direction) through cuDNN
    with ``jax.experimental.rnn`` on a GPU; the default 'scan' runs anywhere.

    Call arguments:
      seq_lengths [batch] (int): true lengths of right-padded sequences. Steps t >= length leave
        the carry unchanged and output zeros, so each sequence ends in the state it would reach
        alone; the backward direction starts at each sequence's last valid step. Known values
        must be integers in 1..T (a ValueError names the first bad one); traced values (under
        ``jit``) are cast to int32 and clipped to 0..T, so they never index outside the input
        (a length of 0 keeps the initial state and outputs zeros).
      initial_carry: the starting state (zeros by default), with the structure of final_carry.
      carry_perturbations: a pytree like the carry with a time axis, [batch, time, hidden] per
        leaf, added to carry_t as step t computes it (single layer, one direction). Pass zeros
        and differentiate to get d loss / d carry_t for every t in one backward pass.
      return_carries: also return every step's carry, [batch, time, hidden] per leaf.

    final_carry is the cell's carry for one layer and direction; otherwise a tuple with one
    carry per layer and direction: (layer 0 forward, layer 0 backward, layer 1 forward, ...).
    """

    cell: RecurrentCell
    num_layers: int = 1
    bidirectional: bool = False
    unroll: int = 1
    remat: bool = False
    implementation: str = "scan"

    def setup(self):
        check_positive("num_layers", self.num_layers)
        check_positive("unroll", self.unroll)
        check_choice("implementation", self.implementation, IMPLEMENTATIONS)
        count = self.num_layers * (2 if self.bidirectional else 1)
        self.cells = [self.cell.clone() for _ in range(count)]

    def __call__(
        self,
        inputs: jax.Array,
        seq_lengths: jax.Array | None = None,
        *,
        initial_carry: Carry | None = None,
        carry_perturbations: Carry | None = None,
        return_carries: bool = False,
    ):
        shape = jnp.shape(inputs)
        check_rank("Recurrent input", shape, 3, "[batch, time, features]")
        batch, time = shape[:2]
        if time < 1 or batch < 1:
            raise ValueError(f"Recurrent input needs batch >= 1 and time >= 1, got shape {shape}")
        if not jnp.issubdtype(jnp.result_type(inputs), jnp.floating):
            dtype = jnp.result_type(inputs)
            raise ValueError(f"Recurrent input must be floating point, got {dtype} (token ids? "
                             "embed them first)")  # fmt: skip
        if seq_lengths is not None:
            seq_lengths = check_lengths(seq_lengths, batch, time)
        single = len(self.cells) == 1
        if not single and (carry_perturbations is not None or return_carries):
            raise ValueError(
                "carry_perturbations and return_carries need a single layer and direction, got "
                f"num_layers={self.num_layers}, bidirectional={self.bidirectional}"
            )
        initial = self._split_carry(initial_carry, batch, inputs.dtype)
        if self.implementation == "cudnn":
            if carry_perturbations is not None or return_carries:
                raise ValueError(
                    "implementation='cudnn' takes no carry_perturbations or return_carries"
                )
            return self._cudnn(inputs, seq_lengths, initial)
        to_time_major = lambda tree: jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), tree)  # noqa: E731
        mask = None if seq_lengths is None else jnp.arange(time)[:, None] < seq_lengths[None, :]
        perturbations = to_time_major(carry_perturbations)
        if self.cells[0].dtype is not None:
            perturbations = _cast(perturbations, self.cells[0].dtype)

        x = to_time_major(inputs)  # [time, batch, features]
        final_carries, carries = [], None
        directions = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                cell = self.cells[index]
                reverse = direction == 1
                xs = reverse_sequences(x, seq_lengths) if reverse else x
                carry, hidden, carries = self._scan(
                    cell, initial[index], xs, mask, perturbations, return_carries
                )
                y = cell.readout(hidden)
                outputs.append(reverse_sequences(y, seq_lengths) if reverse else y)
                final_carries.append(carry)
            x = jnp.concatenate(outputs, axis=-1) if directions == 2 else outputs[0]

        final = final_carries[0] if single else tuple(final_carries)
        outputs = jnp.swapaxes(x, 0, 1)
        if return_carries:
            return final, outputs, to_time_major(carries)
        return final, outputs

    def _cudnn(self, inputs, seq_lengths, initial):
        """One LSTM layer through cuDNN; the same numbers as the scan (tested against
        ``jax.experimental.rnn.lstm_ref`` with the packed weights)."""
        cell = self.cells[0]
        if not isinstance(cell, LSTMCell) or len(self.cells) != 1:
            raise ValueError(
                "implementation='cudnn' runs one LSTMCell layer in one direction, got "
                f"{type(cell).__name__}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}"
            )
        if jax.default_backend() != "gpu":
            raise ValueError(
                "implementation='cudnn' needs a GPU with cuDNN; this backend is "
                f"{jax.default_backend()!r}: use implementation='scan'"
            )
        from jax.experimental import rnn as cudnn_rnn

        batch, time, features = inputs.shape
        lengths = jnp.full((batch,), time) if seq_lengths is None else seq_lengths
        c_0, h_0 = initial[0]
        outputs, h_n, c_n = cudnn_rnn.lstm(
            inputs,
            h_0[None],
            c_0[None],
            cell.cudnn_weights(inputs),
            lengths.astype(jnp.int32),
            input_size=features,
            hidden_size=cell.hidden_size,
            num_layers=1,
            dropout=0.0,
            bidirectional=False,
        )
        valid = valid_steps(lengths, time)[..., None]
        return (c_n[0], h_n[0]), jnp.where(valid, outputs, 0.0)

    def _scan(self, cell, carry, xs, mask, perturbations, return_carries):
        """The cell over time-major ``xs`` [time, batch, features] by ``nets.recurrence.scan``.

        Without remat the input projection of all steps is one matmul before the scan (and its
        gradient one matmul after it). With remat it is computed inside, ceil(sqrt(T)) steps at
        a time, so that neither the projections nor the gates of all T steps are ever held.
        """
        kernel, bias = cell.recurrent_weights()
        if self.remat:
            if self.is_initializing():
                cell.input_projection(xs[:1])  # creates W_x and b
            dense = cell.input_dense.clone(parent=None)
            project = lambda params, x: dense.apply({"params": params}, x)  # noqa: E731
            params = (cell.input_dense.variables["params"], kernel, bias)
            chunk = math.ceil(math.sqrt(xs.shape[0]))
        else:
            xs, project, params, chunk = (
                cell.input_projection(xs),
                _identity,
                (None, kernel, bias),
                None,
            )
        return recurrence.scan(
            cell.recurrence_step(),
            cell.hidden_state,
            project,
            params,
            carry,
            xs,
            mask,
            perturbations,
            return_carries=return_carries,
            unroll=self.unroll,
            chunk=chunk,
        )

    def _split_carry(self, initial_carry, batch, dtype):
        """One carry per cell: zeros in the computation's dtype (the inputs' if it is None), or
        ``initial_carry``'s, cast to the computation's dtype if it is set."""
        compute = self.cells[0].dtype
        if initial_carry is None:
            return [cell.initialize_carry(batch, compute or dtype) for cell in self.cells]
        carries = [initial_carry] if len(self.cells) == 1 else list(initial_carry)
        return carries if compute is None else _cast(carries, compute)


CELLS: dict[str, Callable] = {
    "tanh": partial(SimpleRNNCell, activation="tanh"),
    "irnn": partial(SimpleRNNCell, activation="relu", recurrent_kernel_init=identity()),
    "lstm": LSTMCell,
    "gru": GRUCell,
    "exprnn": partial(ExpRNNCell, activation="tanh"),
    "lru": LRUCell,  # not scanned: a sequence head stacks it (nets.lru.LRUNetwork)
}
# W_h's initialisations by name, each a function of the scale sigma
RECURRENT_INITS = {"orthogonal": orthogonal, "identity": identity}
# make_cell's options with their defaults ('' recurrent_init: the cell's own, identity for the
# IRNN and orthogonal for the others)
CELL_OPTIONS = {
    "recurrent_init": "",
    "recurrent_scale": 1.0,
    "forget_bias": 1.0,
    "chrono": 0,
    "update_bias": 0.0,
    "r_min": 0.0,
    "r_max": 1.0,
    "max_phase": 2 * math.pi,
    "state_size": 0,
}
# which cells take each: W_h's initialisation is the scanned cells' (expRNN's W_h is orthogonal
# by construction), the gate biases are the gated cells' own, the ring and the state size the
# LRU's
_RECURRENT = ("recurrent_init", "recurrent_scale")
_TAKES = {
    "tanh": _RECURRENT,
    "irnn": _RECURRENT,
    "lstm": (*_RECURRENT, "forget_bias", "chrono"),
    "gru": (*_RECURRENT, "update_bias"),
    "exprnn": (),  # W_h orthogonal by construction
    "lru": ("r_min", "r_max", "max_phase", "state_size"),
}


def make_cell(name: str, hidden_size: int, **options):
    """The cells by name: 'tanh' RNN, 'irnn' (ReLU, W_h = I), 'lstm', 'gru', 'exprnn' (a tanh
    RNN whose W_h stays orthogonal) and 'lru' (the Linear Recurrent Unit, ``nets.lru``), with
    ``options`` (``CELL_OPTIONS``, each off at its
    default):

        recurrent_init    W_h's initialisation, 'orthogonal' (every singular value sigma) or
                          'identity' (sigma I: a square W_h, the simple RNN's); '' = the cell's own
        recurrent_scale   sigma, W_h's spectral norm at initialisation (1.0)
        forget_bias       the LSTM's b_f (1.0)
        chrono            the LSTM's chrono initialisation with this T_max (0 = off)
        update_bias       the GRU's b_z (0.0)
        r_min, r_max      the LRU's ring of |lambda| at initialisation (0, 1)
        max_phase         the LRU's largest initial phase of lambda (2 pi)
        state_size        the LRU's complex units per layer (0: hidden_size)

    An option the named cell does not take, set away from its default, is refused by name.
    """
    check_choice("cell", name, CELLS)
    unknown = sorted(set(options) - set(CELL_OPTIONS))
    if unknown:
        raise ValueError(
            f"no cell takes option {', '.join(map(repr, unknown))}; cell options: "
            f"{', '.join(CELL_OPTIONS)}"
        )
    options = {**CELL_OPTIONS, **options}
    takes = _TAKES[name]
    foreign = [k for k, v in options.items() if k not in takes and v != CELL_OPTIONS[k]]
    if foreign:
        raise ValueError(
            f"cell {name!r} takes no option {', '.join(map(repr, foreign))}; its options: "
            f"{', '.join(takes) or 'none'}"
        )
    fields = {k: options[k] for k in takes if k not in _RECURRENT}
    if name == "lru":
        return LRUCell(hidden_size, **fields)
    init, scale = options["recurrent_init"], options["recurrent_scale"]
    bad_scale = isinstance(scale, bool) or not isinstance(scale, int | float)
    if bad_scale or not 0 < scale < float("inf"):
        raise ValueError(f"cell recurrent_scale must be a finite number > 0, got {scale!r}")
    if "recurrent_init" in takes and (init or scale != 1.0):
        init = init or ("identity" if name == "irnn" else "orthogonal")
        check_choice("cell recurrent_init", init, RECURRENT_INITS)
        if init == "identity" and name in ("lstm", "gru"):
            raise ValueError(
                f"cell recurrent_init 'identity' needs a square W_h; the {name} cell's is "
                f"[hidden, {4 if name == 'lstm' else 3} * hidden]"
            )
        fields["recurrent_kernel_init"] = RECURRENT_INITS[init](scale)
    return CELLS[name](hidden_size, **fields)
