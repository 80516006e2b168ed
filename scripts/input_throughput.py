"""How fast the input pipeline feeds a training step: images/s of streamed, decoded, augmented
batches with 0 and more grain worker processes, beside the images/s one training step consumes.

    python scripts/input_throughput.py                          # digits32 (offline), ResNet-20
    python scripts/input_throughput.py --data cifar10 --mock    # CIFAR-10's shapes, tfds mock data
    python scripts/input_throughput.py --data cifar10 --data_dir DIR   # the prepared data set
    python scripts/input_throughput.py --data imagenet2012 --jpeg 375x500 --augment imagenet \
        --model resnet50 --batch_size 64                        # ImageNet-sized JPEGs

``--mock`` reads tfds's generated stand-in records (no download, no PNG decoding), so it
measures the pipeline around the decode, not the decode itself. ``--jpeg HxW`` reads stand-in
records that are JPEGs of that size (ImageNet's are about 400x350 on average), decoded as tfds
decodes the real ones (OpenCV, or PIL without it), then the data set's own decode: the whole
per-image cost of the ImageNet pipeline without the data.
"""

import argparse
import contextlib
import sys
import time
from functools import partial

import jax
import numpy as np
import optax

from nets.data import batches, registry, tfds_reader
from nets.data.augment import AUGMENTATIONS, augmentation
from nets.models import get_model
from nets.runtime import reuse_freed_memory
from nets.training import objectives
from nets.training.state import TrainState, train_step


class JpegRecords:
    """``count`` stand-in records {'image': HxWx3 uint8, 'label'}, each decoded from one of 8
    JPEGs of smooth random images (what a photograph compresses like, roughly) as tfds decodes
    an ``Image(encoding_format='jpeg')`` feature. Picklable, for grain's workers."""

    def __init__(self, count: int, height: int, width: int):
        import tensorflow_datasets as tfds

        rng = np.random.default_rng(0)
        coarse = rng.integers(0, 256, (8, height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
        images = coarse.repeat(16, axis=1).repeat(16, axis=2)[:, :height, :width]
        noisy = np.clip(images + rng.normal(0, 12, images.shape), 0, 255).astype(np.uint8)
        self.feature = tfds.features.Image(encoding_format="jpeg")
        self.encoded = [_jpeg(image) for image in noisy]
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict:
        image = self.feature.decode_example_np(self.encoded[index % len(self.encoded)])
        return {"image": image, "label": np.int64(index % 1000)}


def _jpeg(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def images_per_second(records, batch_size: int, augment, workers: int, batches: int) -> float:
    iterator = batches.train_batches(
        records, batch_size, 0, shard_index=0, shard_count=1, augment=augment, workers=workers
    )
    next(iterator)  # workers started, first batch ready
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def step_images_per_second(
    model_name: str, records, batch_size: int, augment, classes: int, steps: int = 5
) -> float:
    examples = [batches.take(records, i) for i in range(batch_size)]
    if augment is not None:
        examples = [augment(e, np.random.default_rng(i)) for i, e in enumerate(examples)]
    batch = batches.stack(examples)
    model = get_model(model_name, classes)
    state = TrainState.create(model, optax.sgd(0.1, 0.9), batch["inputs"][:1], seed=0)
    step = jax.jit(partial(train_step, loss_fn=objectives.cross_entropy), donate_argnums=0)
    state, metrics = step(state, batch)  # compile
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(steps):
        state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    return steps * batch_size / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="digits32")
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--augment", default="cifar", choices=["", *AUGMENTATIONS])
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--model", default="cifar_resnet20", help="'' to skip the step")
    parser.add_argument("--mock", action="store_true", help="tfds.testing.mock_data records")
    parser.add_argument("--jpeg", default="", help="HxW: stand-in JPEG records of this size")
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.batches < 1 or min(args.workers) < 0:
        parser.error("--batch_size and --batches must be at least 1, --workers at least 0")
    height, _, width = args.jpeg.partition("x")
    if args.jpeg and not (height.isdigit() and width.isdigit() and min(int(height), int(width))):
        parser.error(f"--jpeg must be HEIGHTxWIDTH in pixels, e.g. 375x500, got {args.jpeg!r}")
    reuse_freed_memory()
    with contextlib.ExitStack() as stack:
        if args.mock:
            import tensorflow_datasets as tfds

            stack.enter_context(tfds.testing.mock_data(num_examples=20 * args.batch_size))
        try:
            spec = registry.dataset_spec(args.data)
            if args.jpeg:
                count = 20 * args.batch_size
                source = JpegRecords(count, int(height), int(width))
                records = tfds_reader.Records(source, spec.load.decode)
            else:
                records = registry.load_records(args.data, "train", args.data_dir)
        except ValueError as error:
            sys.exit(f"error: {error}")
        augment = augmentation(args.augment)
        for workers in args.workers:
            rate = images_per_second(records, args.batch_size, augment, workers, args.batches)
            print(f"{args.data}, augment {args.augment!r}, {workers} workers: {rate:,.0f} images/s")
        if args.model:
            rate = step_images_per_second(
                args.model, records, args.batch_size, augment, spec.num_outputs
            )
            print(f"{args.model} train step at batch {args.batch_size}: {rate:,.0f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
