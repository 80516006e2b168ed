"""A generated review corpus for sentiment analysis in which word order decides the label.

Each review is neutral filler around one or two opinion clauses:

    [filler] clause_1 [filler but clause_2] [filler of `distance` words]
    clause = [not] [intensifier] adjective,   value(clause) = polarity(adjective) * (-1 if not)

``polarity`` is +1 for the positive adjectives and -1 for the negative ones; intensifiers
("very", "really", ...) never change the sign. A contrast ("bad at first, but great") joins two
clauses of opposite value with "but", and then the second decides. The rule:

    label = 1 (positive)  if value(deciding clause) > 0,   else 0,
    deciding clause = clause_2 if the review has "but", else clause_1.

So "not good" is negative and "not bad" positive (negation is an XOR with the adjective's
polarity), and "good ... but awful" and "awful ... but good" hold the same words with opposite
labels: a model that sees only which words occur (a bag of embeddings) cannot read either,
while a recurrent network can, if it keeps the deciding clause in its state over the
``distance`` filler words that follow it to the end of the review (uniform in
0..max_distance): the lecture's reason for the LSTM, as an application.
"""

import functools
import random

import numpy as np

from nets.checks import check_positive
from nets.data.text import Vocabulary, pad

POSITIVE = ("good", "great", "excellent", "wonderful", "superb", "enjoyable", "brilliant", "fun")
NEGATIVE = ("bad", "awful", "boring", "terrible", "dull", "poor", "weak", "tedious")
INTENSIFIERS = ("very", "really", "truly", "quite")
FILLER = (
    "the", "movie", "film", "plot", "actors", "scene", "was", "and", "it", "story", "director",
    "camera", "with", "of", "a", "in", "music", "ending", "cast", "script", "this", "at", "some",
    "time", "is", "on", "we", "saw", "its", "lead",
)  # fmt: skip
NEGATION, CONTRAST = "not", "but"
VOCABULARY = Vocabulary([*POSITIVE, *NEGATIVE, *INTENSIFIERS, *FILLER, NEGATION, CONTRAST], "word")
SPLIT_SEEDS = {"train": 0, "test": 1}
SPLIT_SIZES = {"train": 40_000, "test": 2_000}
OPENING, MIDDLE = 4, 8  # the most filler words before clause_1 and between the clauses


def _clause(rng: random.Random, value: int) -> list[str]:
    """A clause of the given value (+1 or -1): negated half of the time, intensified a third."""
    negated = rng.random() < 0.5
    polarity = -value if negated else value
    words = [NEGATION] if negated else []
    if rng.random() < 1 / 3:
        words.append(rng.choice(INTENSIFIERS))
    return [*words, rng.choice(POSITIVE if polarity > 0 else NEGATIVE)]


def _filler(rng: random.Random, count: int) -> list[str]:
    return rng.choices(FILLER, k=count)


def generate_reviews(size: int, max_distance: int, seed: int) -> dict[str, list | np.ndarray]:
    """``size`` reviews: {'texts': [str], 'labels' [size] int32, 'distances' [size] int32 (words
    after the deciding clause), 'contrast' [size] bool}, half of them contrasts."""
    check_positive("number of reviews", size)
    check_positive("max_distance", max_distance)
    rng = random.Random(seed)  # Python's Mersenne Twister: the same reviews on every machine
    texts, labels, distances, contrast = [], [], [], []
    for _ in range(size):
        value = rng.choice((-1, 1))  # of the deciding clause
        words = _filler(rng, rng.randint(0, OPENING))
        two = rng.random() < 0.5
        if two:
            words += _clause(rng, -value) + _filler(rng, rng.randint(0, MIDDLE)) + [CONTRAST]
        words += _clause(rng, value)
        distance = rng.randint(0, max_distance)
        texts.append(" ".join(words + _filler(rng, distance)))
        labels.append(int(value > 0))
        distances.append(distance)
        contrast.append(two)
    return {
        "texts": texts,
        "labels": np.array(labels, np.int32),
        "distances": np.array(distances, np.int32),
        "contrast": np.array(contrast),
    }


def max_review_length(max_distance: int) -> int:
    """The most words a review can have: opening filler, two clauses of three words, the middle
    filler and "but", and the closing filler."""
    return OPENING + 3 + MIDDLE + 1 + 3 + max_distance


@functools.lru_cache(maxsize=4)
def review_split(split: str, max_distance: int) -> dict[str, np.ndarray]:
    """One split as a batch: {'inputs' [N, max_review_length] ids, 'targets' [N] labels,
    'lengths' [N], 'distances' [N]}, the same on every machine (a fixed seed per split).
    Cached: the sentiment experiment trains several models on one split (read it, never
    write to it)."""
    reviews = generate_reviews(SPLIT_SIZES[split], max_distance, SPLIT_SEEDS[split])
    ids, lengths = pad(
        [VOCABULARY.encode(text) for text in reviews["texts"]], max_review_length(max_distance)
    )
    arrays = {
        "inputs": ids,
        "targets": reviews["labels"],
        "lengths": lengths,
        "distances": reviews["distances"],
    }
    for array in arrays.values():
        array.flags.writeable = False  # shared by every caller of the cache
    return arrays
