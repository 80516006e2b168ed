"""Eight simulated CPU devices for the data-parallel tests, set before JAX initialises."""

import jax

jax.config.update("jax_num_cpu_devices", 8)
# Compilation dominates these tiny tests; XLA's expensive optimisations do not pay for themselves.
jax.config.update("jax_disable_most_optimizations", True)
