"""Data augmentation: pure functions of one example (an image [height, width, channels], a
spectrogram [frames, mels]) and a numpy random generator, so that a seeded generator gives the
same example every time (a resumed run sees the same augmented batches as an uninterrupted one).

    pad_and_crop      CIFAR (He et al. 2016): pad 4 zero pixels on each side, crop 32x32 at random
    horizontal_flip   mirror left-right with probability 1/2
    random_resized_crop   ImageNet training (Szegedy et al. 2015, torchvision's algorithm): a
                      random area of 8-100% and aspect ratio 3/4-4/3, resized to 224x224
    center_crop       ImageNet evaluation: shorter side resized to 256, the central 224x224
    specaugment       speech (Park et al. 2019): masks on a log-mel spectrogram's frequency
                      bands and time spans (``nets.data.speech_augment.spec_augment``)
    word_dropout      text: a tenth of the words read as unknown (``nets.data.text.word_dropout``)

``AUGMENTATIONS`` names the training recipes by data set: ``augmentation(name, size)`` returns
``augment(example, rng) -> example`` on a {'inputs': image, ...} example, for grain's
``random_map``; ``evaluation_view(name, size)`` the view evaluation reads where the recipe has
one (ImageNet's centre crop). Both are module-level partials, so grain's worker processes can
unpickle them.
"""

import functools
import math
from collections.abc import Callable

import numpy as np

from nets.checks import check_choice


def check_fits(crop: tuple[int, int], image: tuple[int, int], what: str) -> None:
    """A crop no larger than the image it is cut from (one line naming both sizes)."""
    if crop[0] > image[0] or crop[1] > image[1]:
        raise ValueError(
            f"the {crop[0]}x{crop[1]} crop does not fit in the {image[0]}x{image[1]} {what}"
        )


def pad_and_crop(image: np.ndarray, rng: np.random.Generator, padding: int = 4, size=None):
    """Zero-pad ``padding`` pixels on every side, then crop ``size`` (height, width; the image's
    own size by default) at a uniformly random position: a shift of up to ``padding`` pixels."""
    height, width = image.shape[:2]
    size = (height, width) if size is None else tuple(size)
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    check_fits(size, padded.shape[:2], f"image padded by {padding}")
    top = rng.integers(0, padded.shape[0] - size[0] + 1)
    left = rng.integers(0, padded.shape[1] - size[1] + 1)
    return padded[top : top + size[0], left : left + size[1]]


def horizontal_flip(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mirror image (columns reversed) with probability 1/2."""
    return image[:, ::-1] if rng.random() < 0.5 else image


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres (``jax.image.resize``'s 'linear' upsampling;
    tested equal to it), [H, W, C] -> [height, width, C] in float32. Both passes work on rows
    of W x C values: numpy broadcasts over a trailing axis of 3 channels several times slower."""

    def weights(size: int, new: int):
        centre = (np.arange(new) + 0.5) * size / new - 0.5
        low = np.clip(np.floor(centre), 0, size - 1).astype(int)
        high = np.minimum(low + 1, size - 1)
        fraction = np.clip(centre - low, 0.0, 1.0).astype(np.float32)
        return low, high, fraction

    rows, columns, channels = image.shape
    flat = image.astype(np.float32).reshape(rows, columns * channels)
    low, high, f = weights(rows, height)
    flat = flat[low] * (1 - f)[:, None] + flat[high] * f[:, None]  # [height, W x C]
    low, high, f = weights(columns, width)
    within = np.arange(channels)  # each column's channels, side by side in a row
    low, high = (low[:, None] * channels + within).ravel(), (high[:, None] * channels + within)
    f = np.repeat(f, channels)
    flat = flat[:, low] * (1 - f) + flat[:, high.ravel()] * f
    return flat.reshape(height, width, channels)


def random_resized_crop(
    image: np.ndarray,
    rng: np.random.Generator,
    size: int = 224,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> np.ndarray:
    """A crop of a random fraction ``scale`` of the area and aspect ratio (width / height) in
    ``ratio`` (log-uniform), resized to ``size`` x ``size``; after 10 draws that do not fit,
    the central crop of the largest allowed aspect ratio (torchvision's fallback)."""
    height, width = image.shape[:2]
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = rng.integers(0, height - h + 1)
            left = rng.integers(0, width - w + 1)
            return resize(image[top : top + h, left : left + w], size, size)
    if width / height < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif width / height > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    top, left = (height - h) // 2, (width - w) // 2
    return resize(image[top : top + h, left : left + w], size, size)


def center_crop(image: np.ndarray, resize_to: int = 256, size: int = 224) -> np.ndarray:
    """The evaluation view: the shorter side resized to ``resize_to`` (aspect kept), then the
    central ``size`` x ``size`` crop."""
    height, width = image.shape[:2]
    scale = resize_to / min(height, width)
    new = (max(size, round(height * scale)), max(size, round(width * scale)))
    image = resize(image, *new)
    top, left = (new[0] - size) // 2, (new[1] - size) // 2
    return image[top : top + size, left : left + size]


def _cifar(example, rng, size: int):
    crop = (size, size) if size else None  # the image's own size by default
    return horizontal_flip(pad_and_crop(example["inputs"], rng, padding=4, size=crop), rng)


def _imagenet(example, rng, size: int):
    return horizontal_flip(random_resized_crop(example["inputs"], rng, size or IMAGENET_SIZE), rng)


def _word_dropout(example, rng, size: int):
    from nets.data.text import word_dropout

    return word_dropout(example["inputs"], int(example["lengths"]), rng, WORD_DROPOUT)


WORD_DROPOUT = 0.1  # the fraction of a review's words read as unknown in training


def _specaugment(example, rng, size: int):
    from nets.data.speech_augment import spec_augment

    return spec_augment(example["inputs"], int(example["lengths"]), rng)


def _imagenet_view(image, size: int):
    size = size or IMAGENET_SIZE
    return center_crop(image, round(size * IMAGENET_RESIZE / IMAGENET_SIZE), size)


IMAGENET_SIZE, IMAGENET_RESIZE = 224, 256  # the crop, and the shorter side it is cut from
# name -> the training transform of one example's inputs (an image to ``size`` x ``size``, 0:
# the recipe's own; a spectrogram, whose real frames are the example's 'lengths')
AUGMENTATIONS: dict[str, Callable[[dict, np.random.Generator, int], np.ndarray]] = {
    "cifar": _cifar,
    "imagenet": _imagenet,
    "specaugment": _specaugment,  # nets.data.speech_augment.spec_augment
    "word_dropout": _word_dropout,  # nets.data.text.word_dropout, at WORD_DROPOUT
}
# name -> the evaluation view that goes with the training transform, where the images need one
# (ImageNet's come in many sizes: resize 256, centre 224, or the same ratio at another size)
EVALUATION_VIEWS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "imagenet": _imagenet_view,
}


def augmentation(name: str, size: int = 0) -> Callable[[dict, np.random.Generator], dict] | None:
    """``augment(example, rng)``, the named recipe applied to ``example['inputs']`` with crops of
    ``size`` x ``size`` (0: the recipe's, CIFAR's image size or ImageNet's 224); '' for none
    (returns None). An unknown name raises ValueError listing the valid ones."""
    if not name:
        return None
    check_choice("config.data.augment", name, AUGMENTATIONS)
    return functools.partial(_augment, AUGMENTATIONS[name], size)


def evaluation_view(name: str, size: int = 0) -> Callable[[dict], dict] | None:
    """``view(example)``: the evaluation view of the augmentation ``name`` at ``size`` (ImageNet's
    centre crop), or None where evaluation reads the images as they are."""
    if name not in EVALUATION_VIEWS:
        return None
    return functools.partial(_view, EVALUATION_VIEWS[name], size)


def _augment(transform, size: int, example: dict, rng: np.random.Generator) -> dict:
    return {**example, "inputs": transform(example, rng, size)}


def _view(transform, size: int, example: dict) -> dict:
    return {**example, "inputs": transform(example["inputs"], size)}
