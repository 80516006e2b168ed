"""Experiment scripts: thin wiring of ``nets`` pieces, run with ``python -m experiments.<name>``."""
