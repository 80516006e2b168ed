"""The layout's promises: imports point down, the core imports only jax/flax/optax/numpy, and
there is one train step."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
CORE = ("nets.losses", "nets.rnn", "nets.cnn", "nets.models", "nets.gradients", "nets.summary")
HEAVY = ("tensorflow_datasets", "grain", "mnist1d", "orbax", "sklearn", "ml_collections")


def python_files(*folders):
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def test_the_core_imports_no_data_or_checkpoint_library():
    """A bare accelerator image has jax, flax, optax and numpy only."""
    code = (
        f"import sys\nimport {', '.join(CORE)}, nets.training.state, nets.training.sweep\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_library_never_imports_the_experiments_or_scripts():
    pattern = re.compile(r"^\s*(from|import) (experiments|scripts)\b", re.MULTILINE)
    offenders = [str(p) for p in python_files("nets") if pattern.search(p.read_text())]
    assert offenders == []


def test_there_is_one_train_step_in_the_repository():
    pattern = re.compile(r"^\s*def (train_step|make_train_step)\b", re.MULTILINE)
    defined = [
        str(p.relative_to(ROOT))
        for p in python_files("nets", "experiments", "scripts")
        if pattern.search(p.read_text())
    ]
    assert defined == ["nets/training/state.py"]


def test_experiments_and_scripts_build_models_only_through_the_registry():
    """Every model option is a registry option (``get_model(name, ..., forget_bias=3.0)``), so
    nothing outside the library constructs a head, a CNN or a cell of its own (the bench's
    PyTorch side, ``nt.LSTMCell``, is PyTorch's)."""
    pattern = re.compile(
        r"(?<!nt\.)\b(ManyToOne|ManyToMany|CTCRecognizer|EncoderDecoder|LeNet5|make_cell|"
        r"SimpleRNNCell|LSTMCell|GRUCell|Recurrent)\("
    )
    offenders = [
        f"{p.relative_to(ROOT)}: {match.group(0)}"
        for p in python_files("experiments", "scripts")
        for match in pattern.finditer(p.read_text())
    ]
    assert offenders == []


def test_an_experiment_borrows_from_no_other_experiment_and_scripts_import_only_the_library():
    """What two experiments share lives in nets/ (or in a config file, as data); scripts
    import the library, never an experiment."""
    shared = {"cli", "configs", "plotting"}
    pattern = re.compile(r"^\s*from experiments(?:\.(\w+))?(?:\.\w+)* import ([\w, ]+)", re.M)
    experiments = {p.stem for p in (ROOT / "experiments").glob("*.py")}
    borrowed = []
    for path in python_files("experiments"):
        for module, names in pattern.findall(path.read_text()):
            used = {module} if module else {n.strip().split(" as ")[0] for n in names.split(",")}
            own = f"{path.stem}_figures"  # an experiment's own figure module is its own
            borrowed += [f"{path.name}: {u}" for u in used & experiments - shared - {own}]
    assert borrowed == []
    imports = re.compile(r"^\s*(from|import) experiments\b", re.MULTILINE)
    assert [str(p) for p in python_files("scripts") if imports.search(p.read_text())] == []


def test_the_models_and_the_data_import_nothing_of_each_other():
    """nets/models and nets/data are siblings: what both need (padding helpers, the
    output-size formula of a subsampling front end) lives below them; what joins them (text
    in, text out) lives above, in nets.predict."""
    crossing = {"models": "data", "data": "models"}
    offenders = []
    for folder, other in crossing.items():
        pattern = re.compile(rf"^\s*(from|import) nets\.{other}\b", re.MULTILINE)
        offenders += [
            str(p) for p in python_files(f"nets/{folder}") if pattern.search(p.read_text())
        ]
    assert offenders == []
