"""The README's promises: its two commands come first, and its code example runs as printed."""

import re
from pathlib import Path

import numpy as np

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    commands = re.findall(r"```(?:bash|sh)\n(.*?)```", README, re.S)[0].strip().splitlines()
    assert commands[0].startswith("pip install -e . && python -m experiments.vanishing_gradients")
    assert commands[1].startswith("pip install -e '.[test]' && python -m pytest -n auto")
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert commands[1] in ci  # CI runs exactly the README's test command


def test_readme_example_runs_and_prints_what_it_claims():
    (example,) = re.findall(r"```python\n(.*?)```", README, re.S)[:1]
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["outputs"].shape == (8, 50, 64)
    assert namespace["logits"].shape == (8, 10)
    assert np.isfinite(namespace["loss"])
