"""Eight simulated CPU devices for the data-parallel tests, set before JAX initialises."""

import jax

jax.config.update("jax_num_cpu_devices", 8)
