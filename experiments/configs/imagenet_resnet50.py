"""ResNet-50 on ImageNet (tfds's ``imagenet2012``, 1,281,167 training images, the 50,000 of its
'validation' split as the test set) with flax's ImageNet example's recipe. A manual download:
put ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar (image-net.org) in DIR and prepare
once with ``python -m nets.data.prepare imagenet2012 --data_dir DATA --manual_dir DIR`` (tfds's
builder needs TensorFlow for that step; training reads the array_record files without it).

    python -m experiments.train --config experiments/configs/imagenet_resnet50.py:full \
        --workdir runs/imagenet_resnet50 --config.data.data_dir=DATA

The recipe: random-resized 224x224 crops with horizontal flips for training, the central
224x224 of the image resized to 256 for evaluation, channels standardised by ImageNet's mean
and deviation; SGD with Nesterov momentum 0.9 at batch 1024 and learning rate
0.1 x 1024 / 256 = 0.4 (scaled linearly with the batch, Goyal et al. 2017), warmed up linearly
over 5 epochs, then a cosine to zero; weight decay 1e-4 on the kernels only; label smoothing
0.1 (training only); every block's last BatchNorm scale starting at zero; bfloat16 compute in
the 'full' profile (float32 parameters and loss). Published: top-1 about 76% after 90 epochs
(Goyal et al. 2017: 76.3% at batch 8k; flax's example 76.3-76.7% after 100 epochs). The
accuracy run needs the data and accelerators: 112,590 steps of 1,024 images.
Profiles: 'full' (the recipe, bfloat16, 12 input workers), 'quick' (the same in float32 with 2
workers: a CPU has no fast bfloat16), 'tiny' (the tests: ResNet-18 on 32x32 crops, 3 steps).
"""

import ml_collections

from experiments.configs import optimizer_config, shrink_for_tests, training_config

TRAIN_IMAGES = 1_281_167
BATCH = 1024
EPOCH = TRAIN_IMAGES // BATCH  # 1,251 steps


def get_config(profile: str = "quick") -> ml_collections.ConfigDict:
    config = training_config(profile, "imagenet2012", "resnet50", zero_init_residual=True)
    config.model.dtype = "bfloat16" if profile == "full" else "float32"
    config.data.augment = "imagenet"
    config.data.stream = True  # 140 GB of JPEGs: read record by record, never into memory
    config.data.workers = 12 if profile == "full" else 2
    config.optimizer = optimizer_config(
        name="sgd",
        learning_rate=0.1 * BATCH / 256,
        momentum=0.9,
        nesterov=True,
        weight_decay=1e-4,
        weight_decay_on="kernels",
        schedule="cosine",
        warmup_steps=5 * EPOCH,
    )
    config.label_smoothing = 0.1
    config.batch_size = BATCH
    config.eval_batch_size = 500
    config.num_steps = 90 * EPOCH
    config.log_every = EPOCH // 3  # 417
    config.eval_every = 5 * EPOCH // config.log_every * config.log_every  # about 5 epochs
    config.checkpoint_every = EPOCH
    config.anchor = (
        "about 76% top-1 after 90 epochs (Goyal et al. 2017: 76.3%; flax's ImageNet example: "
        "76.3-76.7% after 100)"
    )
    if profile == "tiny":
        shrink_for_tests(config, num_steps=3, log_every=1, eval_every=0, eval_batch_size=8)
        config.data.image_size = 32
        config.model.depth = 18  # the same path (decode, crops, recipe) compiled in a third
        config.data.workers = 0
        config.optimizer.warmup_steps = 1
    return config
