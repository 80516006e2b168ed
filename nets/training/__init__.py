"""Training: one pure step, two drivers.

state.py       TrainState, train_step(state, batch, *, loss_fn, axis_name=None), eval_step
objectives.py  the loss_fns: per-example 'loss' (and 'accuracy') from outputs and a batch
sweep.py       the sweep driver: seeds x data sets vmapped in one compiled program
trainer.py     the run driver: checkpoints, resume, data parallelism, metrics.jsonl
parallel.py    the step on every device, by jax.shard_map or jax.pmap
checkpoint.py  orbax checkpoints;  distributed.py  multi-host start-up
config.py      training configs: their checks and what they build (model, optimiser)
workdir.py     work directories written whole (results.json, metrics.jsonl)
"""
