"""Experiment configurations: ``get_config(profile)`` in each file, loaded by ml_collections."""

import ml_collections

PROFILES = ("quick", "full", "tiny")


def new_config(profile: str) -> ml_collections.ConfigDict:
    """An empty config for ``profile``: 'quick' (a laptop CPU, the default), 'full' (sized for an
    accelerator) or 'tiny' (the tests); any other name raises ValueError listing them."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    config = ml_collections.ConfigDict()
    config.profile = profile
    return config
