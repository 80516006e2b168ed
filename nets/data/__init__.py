"""Data: synthetic sequence tasks (pure JAX) here; dataset builders and loaders beside them."""
