"""Training: one pure step, two drivers, one config language.

state.py           TrainState, train_step(state, batch, *, loss_fn, axis_name=None), eval_step
objectives.py      the loss_fns: per-example 'loss' (and 'accuracy') from outputs and a batch
config.py          training configs: their checks and what they build (model, optimiser, data),
                   for a run (validate_training) and a sweep group (build_sweep)
sweep.py           the sweep driver: seeds x data sets vmapped in one compiled program
run_driver.py      the run driver: checkpoints, resume, data parallelism, metrics.jsonl
gradient_decay.py  how much gradient a cell keeps over T steps, across lengths (both gradient
                   experiments' measurement)
parallel.py        the step on every device, by jax.shard_map or jax.pmap
checkpoint.py      orbax checkpoints;  distributed.py  multi-host start-up
workdir.py         work directories written whole (results.json, metrics.jsonl)
"""
