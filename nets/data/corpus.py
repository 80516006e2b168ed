"""The offline English corpus of the character language models: the standard library's
``pydoc_data.topics`` (the help texts of Python's keywords and statements, about 465,000
characters in 79 documents on Python 3.11), shipped with every Python, so nothing is downloaded.

The split is by documents, never inside one: the documents are shuffled with a fixed seed and
dealt into train / validation / test until each holds its share of the characters (80 / 10 / 10).
A model is therefore tested on help pages it has never read a line of. The text differs a
little between Python versions (the results say which one produced them).
"""

import numpy as np

SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}
SEPARATOR = "\n\n"  # between documents


def pydoc_documents() -> dict[str, str]:
    from pydoc_data.topics import topics

    return dict(sorted(topics.items()))


def split_documents(documents: dict[str, str], seed: int = 0) -> dict[str, str]:
    """{split: its documents joined by a blank line}; the first split takes documents until it
    holds its share of the characters, then the next one."""
    names = list(documents)
    order = np.random.default_rng(seed).permutation(len(names))
    total = sum(len(text) for text in documents.values())
    bounds = np.cumsum(list(SPLITS.values())) * total  # where each split's share ends
    parts = {split: [] for split in SPLITS}
    filled = 0
    for index in order:
        text = documents[names[index]]
        # the first split whose share is not yet filled (the last takes whatever remains)
        which = min(int(np.searchsorted(bounds, filled, side="right")), len(SPLITS) - 1)
        parts[list(SPLITS)[which]].append(text)
        filled += len(text)
    return {split: SEPARATOR.join(texts) for split, texts in parts.items()}


def pydoc_text() -> dict[str, str]:
    """{'train', 'validation', 'test'}: the pydoc corpus split by documents."""
    return split_documents(pydoc_documents())
