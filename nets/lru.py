"""The Linear Recurrent Unit (Orvieto et al. 2023): a diagonal complex linear recurrence whose T
steps are evaluated in parallel.

    x_t = lambda * x_{t-1} + gamma * (B u_t)          x_t in C^N, one complex number per unit
    y_t = Re(C x_t) + D * u_t                          y_t in R^H

with lambda = exp(-exp(nu) + i exp(theta)), so |lambda| = exp(-exp(nu)) < 1 for any nu: the
recurrence is stable by construction. At initialisation |lambda| is drawn uniformly over the
area of the ring r_min <= |lambda| <= r_max of the complex plane and its phase uniformly in
[0, max_phase]; gamma = sqrt(1 - |lambda|^2) keeps a unit's state of the order of its input
whatever |lambda| (the paper's normalisation, trained as log(gamma)).

No nonlinearity acts inside the recurrence, so dL/dx_{T-k} = lambda^k dL/dx_T (elementwise):
the gradient kept over k steps is |lambda|^k, set by the ring, not by a product of Jacobians
(``state_gradient_decay`` gives it in closed form). And the step is an affine map
x -> a x + b, whose composition is associative,

    (a_1, b_1) then (a_2, b_2) = (a_2 a_1, a_2 b_1 + b_2),

so ``jax.lax.associative_scan`` computes all T states in O(log T) sequential depth instead of
T steps of a loop: on an accelerator; on a CPU, whose few cores cannot use the depth, a
sequential scan does less work (``linear_recurrence`` picks by backend).

Right-padded sequences (``seq_lengths``): a padded step has a = 1 and b = 0, so the state is
carried unchanged to the end and the last state is each sequence's own; padded outputs are 0.

Shapes: inputs u [batch, time, H] -> (final state [batch, N] complex, outputs [batch, time, H]).

``LRUNetwork`` stacks it as the paper does: a linear encoder to H features, then residual blocks
u + GLU(GELU(LRU(LayerNorm(u)))), H features per step; a sequence head builds one in place of a
scanned cell when its cell is 'lru' (``get_model('many_to_one', 1, cell='lru', r_min=0.9)``).
"""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from nets.checks import check_positive, check_rank
from nets.padding import check_lengths, reverse_sequences, valid_steps


def check_ring(r_min, r_max, max_phase) -> None:
    """0 <= r_min < r_max <= 1 (|lambda| on a ring inside the unit circle) and a phase range in
    (0, 2 pi]; each bad value is named."""
    for name, value in (("r_min", r_min), ("r_max", r_max), ("max_phase", max_phase)):
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueError(f"LRU {name} must be a number, got {value!r}")
    if not 0 <= r_min < r_max <= 1:
        raise ValueError(
            f"LRU ring needs 0 <= r_min < r_max <= 1 (|lambda| inside the unit circle), got "
            f"r_min={r_min!r}, r_max={r_max!r}"
        )
    if not 0 < max_phase <= 2 * math.pi:
        raise ValueError(f"LRU max_phase must be in (0, 2 pi], got {max_phase!r}")


def ring_init(r_min: float, r_max: float, max_phase: float):
    """Initialisers of (nu_log, theta_log) [N] for |lambda| uniform over the ring's area:
    |lambda|^2 ~ U[r_min^2, r_max^2], nu = -log|lambda|, stored as log(nu); theta ~ U[0,
    max_phase], stored as log(theta)."""

    def nu_log(key, shape, dtype=jnp.float32):
        u = jax.random.uniform(key, shape, jnp.float32)
        modulus = jnp.sqrt(u * (r_max**2 - r_min**2) + r_min**2)
        # |lambda| = 1 exactly would make nu = 0 and log(nu) infinite: keep it just inside
        modulus = jnp.minimum(modulus, 1.0 - 1e-7)
        return jnp.log(-jnp.log(modulus)).astype(dtype)

    def theta_log(key, shape, dtype=jnp.float32):
        u = jax.random.uniform(key, shape, jnp.float32, minval=1e-7)
        return jnp.log(max_phase * u).astype(dtype)

    return nu_log, theta_log


def eigenvalues(params: dict) -> jax.Array:
    """lambda [N] (complex) of an LRU's parameters {'nu_log', 'theta_log', ...}."""
    return jnp.exp(-jnp.exp(params["nu_log"]) + 1j * jnp.exp(params["theta_log"]))


def state_gradient_decay(params: dict, steps) -> jax.Array:
    """|dL/dx_{T-k}| / |dL/dx_T| per unit, for each k of ``steps``: |lambda|^k, [len(steps), N]."""
    modulus = jnp.abs(eigenvalues(params))
    return modulus[None, :] ** jnp.asarray(steps, jnp.float32)[:, None]


def _compose(earlier, later):
    """(a_1, b_1) then (a_2, b_2): x -> a_2 (a_1 x + b_1) + b_2."""
    a_1, b_1 = earlier
    a_2, b_2 = later
    return a_2 * a_1, a_2 * b_1 + b_2


def linear_recurrence(
    a: jax.Array, b: jax.Array, initial: jax.Array | None = None, *, parallel: bool | None = None
) -> jax.Array:
    """All states of x_t = a_t * x_{t-1} + b_t, x_0 = ``initial`` (zeros): a, b [batch, time, N]
    -> x [batch, time, N].

    ``parallel``: by ``jax.lax.associative_scan`` (O(log T) depth, about 2T log T products) or
    by a sequential ``lax.scan`` (T steps, T products). None: the associative scan on an
    accelerator, whose thousands of lanes the depth-log-T tree keeps busy; the sequential scan on
    a CPU, whose few cores the tree's extra work only slows (a T = 1,000 LRU train step on 2 cores:
    301 -> 222 ms). Both compute the same states."""
    if initial is not None:  # fold x_0 into the first step's input
        b = b.at[:, 0].add(a[:, 0] * initial)
    if parallel is None:
        parallel = jax.default_backend() != "cpu"
    if parallel:
        _, states = jax.lax.associative_scan(_compose, (a, b), axis=1)
        return states

    def step(x, ab):
        a_t, b_t = ab
        x = a_t * x + b_t
        return x, x

    time_major = (jnp.swapaxes(a, 0, 1), jnp.swapaxes(b, 0, 1))
    _, states = jax.lax.scan(step, jnp.zeros_like(b[:, 0]), time_major)
    return jnp.swapaxes(states, 0, 1)


class LRU(nn.Module):
    """The recurrence of the module docstring, N = ``state_size`` complex units over inputs of H
    features (outputs H, as the residual blocks that stack it need).

    Called as ``lru(u, seq_lengths=None, *, initial_state=None, perturbations=None)`` ->
    (x_T [batch, N] complex, y [batch, time, H]); x_T is each sequence's state after its last
    valid step. ``perturbations`` [batch, time, N] are added to x_t as each is computed (the
    gradient with respect to them is dL/dx_t, ``nets.gradients``).
    """

    state_size: int
    r_min: float = 0.0
    r_max: float = 1.0
    max_phase: float = 2 * math.pi

    def __post_init__(self):
        check_positive("LRU state_size", self.state_size)
        check_ring(self.r_min, self.r_max, self.max_phase)
        super().__post_init__()

    @nn.compact
    def __call__(self, inputs, seq_lengths=None, *, initial_state=None, perturbations=None):
        check_rank("LRU input", jnp.shape(inputs), 3, "[batch, time, features]")
        batch, time, features = inputs.shape
        n = self.state_size
        nu_init, theta_init = ring_init(self.r_min, self.r_max, self.max_phase)
        nu_log = self.param("nu_log", nu_init, (n,))
        theta_log = self.param("theta_log", theta_init, (n,))

        def gamma_init(key, shape, dtype=jnp.float32):
            del key  # gamma = sqrt(1 - |lambda|^2) of the initial lambda
            modulus = jnp.exp(-jnp.exp(nu_log))
            return jnp.log(jnp.sqrt(1.0 - modulus**2)).astype(dtype)

        gamma_log = self.param("gamma_log", gamma_init, (n,))
        # B, C complex, as real and imaginary parts; variances as in the paper (Glorot-like)
        b_init = nn.initializers.normal(1.0 / math.sqrt(2 * features))
        c_init = nn.initializers.normal(1.0 / math.sqrt(n))
        b_re, b_im = (self.param(f"B_{p}", b_init, (features, n)) for p in ("re", "im"))
        c_re, c_im = (self.param(f"C_{p}", c_init, (n, features)) for p in ("re", "im"))
        d = self.param("D", nn.initializers.normal(1.0), (features,))

        lam = jnp.exp(-jnp.exp(nu_log) + 1j * jnp.exp(theta_log))  # [N]
        # B u and Re(C x) as one real matmul each: [Re B | Im B] and [Re C; -Im C]
        both = inputs @ jnp.concatenate([b_re, b_im], axis=1)  # [B, T, 2N]
        projected = (both[..., :n] + 1j * both[..., n:]) * jnp.exp(gamma_log)  # [B, T, N]
        if perturbations is not None:  # eps_t joins x_t as it is computed: dL/deps_t = dL/dx_t
            projected = projected + perturbations
        a = jnp.broadcast_to(lam, projected.shape)
        if seq_lengths is not None:  # a padded step is the identity: it discards its update
            lengths = check_lengths(seq_lengths, batch, time)
            valid = (jnp.arange(time)[None, :] < lengths[:, None])[..., None]
            a, projected = jnp.where(valid, a, 1.0), jnp.where(valid, projected, 0.0)
        states = linear_recurrence(a, projected, initial_state)
        parts = jnp.concatenate([states.real, states.imag], axis=-1)  # [B, T, 2N]
        outputs = parts @ jnp.concatenate([c_re, -c_im], axis=0) + d * inputs
        if seq_lengths is not None:
            outputs = jnp.where(valid, outputs, 0.0)
        return states[:, -1], outputs


@dataclasses.dataclass(frozen=True)
class LRUCell:
    """What a sequence head needs to stack LRUs in place of a scanned cell: ``hidden_size`` H
    features per step, ``state_size`` N complex units per layer (0: N = H) and the ring of
    the eigenvalues' moduli and phases. Not scanned step by step: ``LRUNetwork`` runs it."""

    hidden_size: int
    state_size: int = 0
    r_min: float = 0.0
    r_max: float = 1.0
    max_phase: float = 2 * math.pi

    def __post_init__(self):
        check_positive("LRU hidden_size", self.hidden_size)
        if self.state_size:
            check_positive("LRU state_size", self.state_size)
        check_ring(self.r_min, self.r_max, self.max_phase)

    carry_names = ("x",)  # the state nets.gradients perturbs: x_t, complex

    def initialize_carry(self, batch_size: int, dtype=jnp.float32) -> jax.Array:
        """Zeros like one layer's states at one step, [batch, N], complex of ``dtype``'s
        precision (complex128 for float64: the gradient measurements run in float64)."""
        complex_dtype = jnp.result_type(dtype, jnp.complex64)
        return jnp.zeros((batch_size, self.state_size or self.hidden_size), complex_dtype)

    @staticmethod
    def hidden_state(final: jax.Array) -> jax.Array:
        """The network's output at each sequence's last valid step, [batch, H]: what a
        many-to-one head reads."""
        return final


class LRUNetwork(nn.Module):
    """An encoder Dense(H), then ``num_layers`` residual blocks

        u <- u + GLU(GELU(LRU(LayerNorm(u))))      GLU(z) = a * sigmoid(b), [a, b] = W z

    with, if ``bidirectional``, a second LRU reading each sequence backwards from its own last
    step, added to the first. Called as ``Recurrent`` is: (inputs [batch, time, features],
    seq_lengths) -> (the output at each sequence's last valid step [batch, H], outputs
    [batch, time, H], zero at padded steps)."""

    cell: LRUCell
    num_layers: int = 1
    bidirectional: bool = False

    @nn.compact
    def __call__(
        self,
        inputs,
        seq_lengths=None,
        *,
        initial_carry=None,
        carry_perturbations=None,
        **unsupported,
    ):
        given = [name for name, value in unsupported.items() if value is not None and value]
        if initial_carry is not None or given:
            names = ", ".join(given + (["initial_carry"] if initial_carry is not None else []))
            raise ValueError(f"the LRU network takes no {names} (a scanned cell's options)")
        check_positive("num_layers", self.num_layers)
        if carry_perturbations is not None and (self.num_layers > 1 or self.bidirectional):
            raise ValueError(
                "carry_perturbations need a single layer and direction, got "
                f"num_layers={self.num_layers}, bidirectional={self.bidirectional}"
            )
        check_rank("LRU network input", jnp.shape(inputs), 3, "[batch, time, features]")
        batch, time = inputs.shape[:2]
        lengths = (
            jnp.full((batch,), time)
            if seq_lengths is None
            else check_lengths(seq_lengths, batch, time)
        )
        valid = valid_steps(lengths, time)[..., None]
        hidden, cell = self.cell.hidden_size, self.cell
        lru = dict(state_size=cell.state_size or hidden, r_min=cell.r_min, r_max=cell.r_max,
                   max_phase=cell.max_phase)  # fmt: skip
        x = jnp.where(valid, nn.Dense(hidden, name="encoder")(inputs), 0.0)
        for layer in range(self.num_layers):
            z = nn.LayerNorm(name=f"norm_{layer}")(x)
            _, y = LRU(**lru, name=f"lru_{layer}")(z, lengths, perturbations=carry_perturbations)
            if self.bidirectional:
                backward = jnp.swapaxes(reverse_sequences(jnp.swapaxes(z, 0, 1), lengths), 0, 1)
                _, y_back = LRU(**lru, name=f"lru_{layer}_backward")(backward, lengths)
                y = y + jnp.swapaxes(reverse_sequences(jnp.swapaxes(y_back, 0, 1), lengths), 0, 1)
            gate = nn.Dense(2 * hidden, name=f"glu_{layer}")(nn.gelu(y))
            x = jnp.where(valid, x + gate[..., :hidden] * jax.nn.sigmoid(gate[..., hidden:]), 0.0)
        last = jnp.take_along_axis(x, jnp.maximum(lengths - 1, 0)[:, None, None], axis=1)[:, 0]
        return last, x


__all__ = [
    "LRU",
    "LRUCell",
    "LRUNetwork",
    "check_ring",
    "eigenvalues",
    "linear_recurrence",
    "ring_init",
    "state_gradient_decay",
]
