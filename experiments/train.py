"""One command to train any model of the codebase on any prepared data set.

    python -m experiments.train --config experiments/configs/lenet5_digits.py --workdir runs/x \
        [--config.num_steps=3000 --config.optimizer.learning_rate=3e-4 ...]

Configs: lenet5_digits, resnet20_digits, mnist1d_cnn, mnist1d_gru, lstm_adding, lstm_copy,
sentiment, char_lm (offline data, generated on first use) and the recipes cifar10_resnet20 /
_56 / _110, mnist_lenet5 and imagenet_resnet50 (their papers' anchors printed beside the
result), mnist_pixels, imdb_lstm, shakespeare_char (tfds downloads, prepared beforehand). Any
registered model trains on any registered data set (``nets.models``, ``nets.data.registry``),
with no change here. Run the same command again and it resumes from the latest checkpoint in
--workdir. Writes metrics.jsonl (one line per logging interval) and TensorBoard event files
(``tensorboard --logdir runs/`` shows every run), checkpoints/, curves.png and, at the end,
results.json (test metrics, steps/s and examples/s per device, settings, environment).
"""

import time
from pathlib import Path

import jax
import ml_collections

from experiments import cli
from experiments.plotting import plt, save_run
from nets.training.distributed import initialize_if_multihost
from nets.training.events import EventLog
from nets.training.run_driver import metrics_rows, train
from nets.training.workdir import read_json, run_header


def curves_figure(rows: list[dict], title: str):
    """Training loss (log scale) and, where logged, accuracy against the step, with the
    periodic evaluations where there are some."""
    steps = [row["step"] for row in rows]
    panels = ["loss", *(["accuracy"] if "accuracy" in rows[0] else [])]
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, name in zip(axes[0], panels, strict=True):
        ax.plot(steps, [row[name] for row in rows], marker=".", label="training (interval mean)")
        for split in ("validation", "test"):  # the periodic evaluation, where eval_every asks
            evaluated = [row for row in rows if f"{split}_{name}" in row]
            if evaluated:
                values = [row[f"{split}_{name}"] for row in evaluated]
                ax.plot([row["step"] for row in evaluated], values, "o-", label=split)
                ax.legend()
        ax.set_xlabel("step")
        ax.set_ylabel(name)
        if name == "loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    figure.suptitle(title)
    return figure


def finished(workdir: Path, config: ml_collections.ConfigDict) -> dict | None:
    """The results of a run in ``workdir`` that already finished ``config.num_steps``, or
    None. A finished run is left untouched: rerunning its command does not overwrite them."""
    path = workdir / "results.json"
    if not path.exists():
        return None
    results = read_json(path)
    return results if results.get("steps") == config.num_steps else None


def run(config: ml_collections.ConfigDict, workdir: str, *, on_step=None) -> dict:
    done = finished(Path(workdir), config)
    if done is not None:
        print(f"the run in {workdir} is complete ({config.num_steps} steps); its results.json is")
        print("left as it is (delete it to evaluate again)")
        return done
    initialize_if_multihost()
    start = time.perf_counter()
    outcome = train(config, workdir, on_step=on_step)
    workdir = Path(workdir)
    outcome.pop("state")
    rows = metrics_rows(workdir)
    results = {**run_header("train", config, start), **outcome}
    test = ", ".join(f"{name} {value:.4g}" for name, value in outcome["test"].items())
    rate = outcome["steps_per_s"] or 0.0
    title = f"{config.model.name} on {config.data.name}"
    devices = outcome["devices"]
    if jax.process_index() == 0:  # one writer (and one report) in a multi-host job
        per_device = outcome["examples_per_s_per_device"] or 0.0
        print(
            f"{title}: test {test} after {config.num_steps} steps "
            f"({rate:.1f} steps/s on {devices} device(s), {per_device:.0f} examples/s per device)"
        )
        if config.get("anchor"):
            print(f"published: {config.anchor}")
        figures = {"curves.png": curves_figure(rows, title)} if rows else {}
        with EventLog(workdir) as events:
            for name, figure in figures.items():
                events.figure(Path(name).stem, figure, config.num_steps)
        save_run(workdir, results, figures)
    return results


if __name__ == "__main__":
    cli.main(run, str(Path(__file__).parent / "configs" / "lenet5_digits.py"), "runs/train")
