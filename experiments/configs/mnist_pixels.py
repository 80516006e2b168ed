"""Sequential MNIST: each 28x28 digit read one pixel per step, T = 784 (Le, Jaitly and Hinton
2015), plain or with one fixed pixel permutation. tfds's MNIST is a download: prepare it first
with ``python -m nets.data.prepare mnist --data_dir DIR``.

    python -m experiments.train --config experiments/configs/mnist_pixels.py \
        --workdir runs/smnist_irnn --config.data.data_dir=DIR
    ... --config.data.name=mnist_pixels_permuted --config.model.cell=lstm

Anchors (test accuracy, sequential / permuted; Le et al. 2015 and Cooijmans et al. 2017 Table 1):
tanh RNN 35.0 / 35.0, IRNN 97.0 / 82.0, uRNN 95.1 / 91.4. A 784-step scan per example is
sized for an accelerator: 'quick' and 'full' are the same recipe (IRNN, 128 units, Adam 1e-4
with clipping at 1, batch 128, 100,000 steps); 'tiny' is the tests'.
"""

import ml_collections

from experiments.configs import shrink_for_tests, training_config


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(profile, "mnist_pixels", "many_to_one", cell="irnn", hidden_size=128)
    config.optimizer.update(learning_rate=1e-4, clip_norm=1.0)
    config.batch_size = 128
    config.num_steps = 100_000
    config.log_every = 500
    config.checkpoint_every = 5000
    if profile == "tiny":
        shrink_for_tests(config, num_steps=2, log_every=1, eval_batch_size=16)
        config.model.hidden_size = 8
    return config
