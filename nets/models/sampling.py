"""Sampling from a language model: one compiled scan that carries the recurrent state.

    tokens = generate(model, variables, prompt_ids, length=200, temperature=0.8, key=key)

``model`` is a ``ManyToMany`` over ``num_tokens`` symbols (``get_model('many_to_many',
num_outputs=V, num_tokens=V, ...)``). The prompt is read once, in one scan; then each step
draws x_{t+1} ~ softmax(z_t / temperature) and feeds it back with the carry,

    z_t = W h_t + b,   (C_{t+1}, h_{t+1}) = cell((C_t, h_t), embed(x_{t+1})),

inside ``lax.scan``: no Python loop over characters, and the prompt is never read again.
Temperature < 1 sharpens the distribution towards the most likely symbol, > 1 flattens it.
Text in, text out, through a vocabulary: ``nets.predict.sample_text``.
"""

from functools import partial

import jax
import jax.numpy as jnp

from nets.checks import check_positive, check_rank


@partial(jax.jit, static_argnames=("model", "length", "never"))
def _generate(model, variables, prompt, length, temperature, key, never):
    logits, carry = model.apply(variables, prompt, return_carry=True)
    allowed = ~jnp.isin(jnp.arange(logits.shape[-1]), jnp.array(never, int))

    def step(state, key):
        carry, logits = state
        logits = jnp.where(allowed, logits / temperature, -jnp.inf)
        token = jax.random.categorical(key, logits)  # [batch]
        logits, carry = model.apply(
            variables, token[:, None], initial_carry=carry, return_carry=True
        )
        return (carry, logits[:, -1]), token

    _, tokens = jax.lax.scan(step, (carry, logits[:, -1]), jax.random.split(key, length))
    return tokens.T


def check_temperature(name: str, temperature) -> None:
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or temperature <= 0
    ):
        raise ValueError(f"{name} must be a number > 0, got {temperature!r}")


def generate(model, variables, prompt, length: int, *, temperature: float = 1.0, key, never=()):
    """[batch, length] token ids sampled after ``prompt`` [batch, P] (P >= 1), the same for
    the same ``key``; the ids in ``never`` (padding, the unknown token) are never drawn."""
    prompt = jnp.asarray(prompt)
    check_rank("prompt", prompt.shape, 2, "[batch, time]")
    if prompt.shape[1] < 1:
        raise ValueError("the prompt needs at least one token to start from")
    check_positive("length", length)
    check_temperature("temperature", temperature)
    never = tuple(sorted({int(i) for i in never}))
    return _generate(model, variables, prompt, length, float(temperature), key, never)
