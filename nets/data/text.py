"""Text as integer tokens: a vocabulary of words or characters, padding, and language-model windows.

    vocabulary = Vocabulary.from_texts(train_texts, level="word", max_size=20_000)
    ids = vocabulary.encode("Not good at all")     # [n] int32; unknown words -> OOV
    inputs, lengths = pad([vocabulary.encode(t) for t in texts], max_length=200)

Ids 0 and 1 are reserved in every vocabulary: PAD (what fills a sequence after its last real
token; models never read it because they are given the lengths) and OOV (any token the
vocabulary does not hold, so an unseen word or character never crashes and never lands on
another token's id). The tokens proper are 2..size-1.

Words are lower-cased runs of letters, digits and apostrophes, and each punctuation mark is a
token of its own (``"Great, isn't it?" -> great , isn't it ?``); decoding joins them with
spaces, so ``decode(encode(t))`` is the normalised text. Characters are the text itself:
``CHARACTERS`` is the fixed printable-ASCII vocabulary of the character language models (the
same on every machine and for every corpus, so a checkpoint's outputs always mean the same
characters), and ``decode(encode(t)) == t`` for any ASCII text.
"""

import collections
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from nets.checks import check_choice, check_positive
from nets.files import write_whole

PAD, OOV = 0, 1
RESERVED = ("<pad>", "<oov>")
LEVELS = ("word", "char")
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def words(text: str) -> list[str]:
    """The word tokens of ``text``: lower-cased, HTML line breaks dropped (IMDB has them)."""
    return _WORD.findall(text.replace("<br />", " ").lower())


class Vocabulary:
    """Tokens <-> ids at one ``level`` ('word' or 'char'), with PAD = 0 and OOV = 1."""

    def __init__(self, tokens: Sequence[str], level: str):
        check_choice("vocabulary level", level, LEVELS)
        if len(set(tokens)) != len(tokens) or set(tokens) & set(RESERVED):
            raise ValueError("vocabulary tokens must be distinct and not <pad> or <oov>")
        self.level = level
        self.tokens = (*RESERVED, *tokens)
        self.ids = {token: index for index, token in enumerate(self.tokens)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], level: str = "word", max_size: int = 20_000):
        """The ``max_size - 2`` most frequent tokens of ``texts`` (ties broken alphabetically,
        so the vocabulary is the same on every run)."""
        check_positive("vocabulary max_size", max_size)
        split = words if level == "word" else list
        counts = collections.Counter(token for text in texts for token in split(text))
        ranked = sorted(counts, key=lambda token: (-counts[token], token))
        return cls(ranked[: max(max_size - len(RESERVED), 0)], level)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and (self.level, self.tokens) == (
            other.level,
            other.tokens,
        )

    def encode(self, text: str) -> np.ndarray:
        """[n] int32 ids of ``text``'s tokens; a token not in the vocabulary is OOV."""
        split = words(text) if self.level == "word" else text
        return np.array([self.ids.get(token, OOV) for token in split], np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` (PAD dropped, OOV shown as <oov>); an id outside the vocabulary
        is an error, never a silent wrong token."""
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"id {bad[0]} is outside this vocabulary of {len(self)} tokens")
        tokens = [self.tokens[i] for i in ids if i != PAD]
        return (" " if self.level == "word" else "").join(tokens)

    def to_json(self) -> dict:
        """{'level', 'tokens'}: the tokens proper (ids 2..), as ``from_json`` reads them."""
        return {"level": self.level, "tokens": list(self.tokens[len(RESERVED) :])}

    @classmethod
    def from_json(cls, saved: dict) -> "Vocabulary":
        return cls(saved["tokens"], saved["level"])

    def save(self, path: Path) -> None:
        """Write the vocabulary as JSON, whole (``nets.files.write_whole``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, json.dumps(self.to_json()).encode())

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        return cls.from_json(json.loads(Path(path).read_text()))


# the character language models' vocabulary: newline, tab and printable ASCII
CHARACTERS = Vocabulary(["\n", "\t", *map(chr, range(32, 127))], "char")


def pad(sequences: Sequence[np.ndarray], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id sequences with PAD: ``(ids [N, max_length] int32, lengths [N] int32)``.

    A sequence longer than ``max_length`` keeps its first ``max_length`` tokens (its length is
    then ``max_length``); an empty one is an error naming its index, since no model can read a
    sequence of no steps."""
    check_positive("max_length", max_length)
    ids = np.full((len(sequences), max_length), PAD, np.int32)
    lengths = np.zeros(len(sequences), np.int32)
    for row, sequence in enumerate(sequences):
        if len(sequence) == 0:
            raise ValueError(f"sequence {row} is empty: it has no token to read")
        kept = sequence[:max_length]
        ids[row, : len(kept)] = kept
        lengths[row] = len(kept)
    return ids, lengths


def windows(ids: np.ndarray, length: int) -> dict[str, np.ndarray]:
    """A language model's examples from one long id stream: consecutive, non-overlapping
    windows, each with its next-token targets.

        inputs[i] = ids[i L : (i + 1) L],   targets[i] = ids[i L + 1 : (i + 1) L + 1]

    Shapes [N, L] with N = (len(ids) - 1) // L (the tail that does not fill a window is
    dropped)."""
    check_positive("window length", length)
    count = (len(ids) - 1) // length
    if count < 1:
        raise ValueError(f"a text of {len(ids)} tokens has no window of {length} + 1 tokens")
    stream = np.asarray(ids, np.int32)
    return {
        "inputs": stream[: count * length].reshape(count, length),
        "targets": stream[1 : count * length + 1].reshape(count, length),
    }


def word_dropout(ids: np.ndarray, length: int, rng: np.random.Generator, rate: float) -> np.ndarray:
    """A copy of ``ids`` [T] with each of its first ``length`` tokens replaced by OOV with
    probability ``rate`` (word dropout, Iyyer et al. 2015; Gal & Ghahramani 2016): the model
    meets the unknown id in training and learns what an unknown word usually means (nothing),
    instead of keeping the random embedding it was initialised with."""
    ids = np.array(ids)
    dropped = rng.random(length) < rate
    ids[:length][dropped] = OOV
    return ids
