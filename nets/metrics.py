"""Sequence error rates: how far decoded label sequences are from the truth.

    label_error_rate(truth, decoded) = sum_i edit(truth_i, decoded_i) / sum_i len(truth_i)

edit(a, b) is the Levenshtein distance: the fewest substitutions, insertions and deletions that
turn a into b. Over words it is the word error rate, over digits the digit error rate; it can
exceed 1 when the output inserts more than the truth holds. The distance is the ``editdistance``
package's (a maintained C++ implementation), not one written here.
"""

from collections.abc import Sequence

import editdistance
import numpy as np


def label_error_rate(truth: Sequence[Sequence], decoded: Sequence[Sequence]) -> float:
    """The summed edit distance of each decoded sequence to its true one over the true
    sequences' total length."""
    if len(truth) != len(decoded):
        raise ValueError(f"{len(truth)} true sequences but {len(decoded)} decoded ones")
    total = sum(len(t) for t in truth)
    if not total:
        raise ValueError("the true sequences are all empty: no error rate is defined")
    return sum(editdistance.eval(t, d) for t, d in zip(truth, decoded, strict=True)) / total


def sequence_scores(decoded: Sequence[Sequence], truth: Sequence[Sequence]) -> dict[str, float]:
    """The label error rate of ``decoded`` against ``truth`` and the fraction of sequences
    decoded exactly: {'error_rate', 'exact'}."""
    exact = np.mean([list(d) == list(t) for d, t in zip(decoded, truth, strict=True)])
    return {"error_rate": label_error_rate(truth, decoded), "exact": float(exact)}
