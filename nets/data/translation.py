"""Generated translation tasks for the encoder-decoder: dates into ISO form, and reversing digits.

    pairs = date_pairs("train")          # [("Saturday 9 May 2018", "2018-05-09"), ...]
    arrays = translation_arrays(pairs, max_source=MAX_DATE_SOURCE)

**Dates.** Every day from 1969-01-01 to 2068-12-31 (the range in which Python's two-digit
year ``%y`` reads back to the same year), written in one of ``len(DATE_FORMATS)`` ways people
write dates ("Saturday 9 May 2018", "9/5/18", "may 9th, 2018", "09.05.2018", "2018-05-09",
...), translated into ISO "2018-05-09". Where only numbers give the day and the month ("9/5/18",
"09.05.2018", "09/05/2018") their order is an explicit option, ``ORDERS``: 'dmy' (day first,
most of the world) or 'mdy' (month first, the United States), drawn half and half and read
by the model as the source's first character (``ORDER_MARKS``, ``date_source``), so "5/9/18"
is 2018-09-05 in one order and 2018-05-09 in the other, never a guess. A year that leads
("2018/05/09", "20180509", ISO) is always followed by the month. A fixed tenth of the days
(``HELD_OUT``) is kept for the test split: a test date was never seen in training in any
format, so the model must have learned the formats, not the dates.

**Reversal.** A string of 1..L random digits and the same digits in reverse order: the
length-controlled task on which a fixed-size context vector runs out of room as L grows
(Sutskever et al. 2014 reversed their source sentences to shorten exactly these paths).

Both are character-level over ``SEQUENCE_CHARACTERS``: the character models' printable ASCII
plus START (ASCII "start of text", the decoder's first input) and END (ASCII "end of text",
which closes every target, so a decoder learns where to stop). The arrays follow the batch
contract: 'inputs' {'source' [N, S], 'decoder_inputs' [N, T]} is what the model reads,
'lengths' [N] the sources' lengths, 'targets' [N, T] the target characters then END, and
'mask' [N, T] the target's real steps (the loss ignores the rest); decoder_inputs are the
targets shifted right behind START (teacher forcing).
"""

import datetime
import functools
import random

import numpy as np

from nets.checks import check_choice, check_positive
from nets.data.text import CHARACTERS, PAD, Vocabulary, pad

START, END = "\x02", "\x03"
ORDERS = ("dmy", "mdy")  # day first or month first, where only numbers say which is which
ORDER_MARKS = {"dmy": "\x04", "mdy": "\x05"}  # ASCII EOT and ENQ: no one types them
SEQUENCE_CHARACTERS = Vocabulary(
    [START, END, *ORDER_MARKS.values(), *CHARACTERS.tokens[2:]], "char"
)
START_ID, END_ID = SEQUENCE_CHARACTERS.ids[START], SEQUENCE_CHARACTERS.ids[END]

FIRST_DAY, LAST_DAY = datetime.date(1969, 1, 1), datetime.date(2068, 12, 31)
HELD_OUT = 0.1  # the fraction of the days kept for the test split
SPLIT_SIZES = {"train": 50_000, "test": 2_000}
SPLIT_SEEDS = {"train": 0, "test": 1}
MAX_DATE_SOURCE, DATE_TARGET = 32, 10  # longest written date; "YYYY-MM-DD"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _numbers(day: datetime.date, order: str) -> tuple[int, int]:
    """(day, month) in the order ``order`` ('dmy' or 'mdy')."""
    return (day.day, day.month) if order == "dmy" else (day.month, day.day)


DATE_FORMATS = (  # each a function of the day and the order of numeric days and months
    lambda d, o: f"{d:%A} {d.day} {d:%B %Y}",  # Saturday 9 May 2018
    lambda d, o: "{}/{}/".format(*_numbers(d, o)) + f"{d:%y}",  # 9/5/18 or 5/9/18
    lambda d, o: f"{d:%B}".lower() + f" {_ordinal(d.day)}, {d.year}",  # may 9th, 2018
    lambda d, o: "{:02}.{:02}.".format(*_numbers(d, o)) + str(d.year),  # 09.05.2018
    lambda d, o: f"{d:%B} {d.day}, {d.year}",  # May 9, 2018
    lambda d, o: f"{d.day} {d:%b %Y}",  # 9 May 2018
    lambda d, o: f"{d:%Y/%m/%d}",  # 2018/05/09
    lambda d, o: f"{d:%a}, {d.day} {d:%b %y}",  # Sat, 9 May 18
    lambda d, o: f"the {_ordinal(d.day)} of {d:%B %Y}",  # the 9th of May 2018
    lambda d, o: f"{d:%d-%b-%Y}".upper(),  # 09-MAY-2018
    lambda d, o: f"{d:%Y%m%d}",  # 20180509
    lambda d, o: f"{d:%A}, {d:%B}".upper() + f" {d.day} {d.year}",  # SATURDAY, MAY 9 2018
    lambda d, o: d.isoformat(),  # 2018-05-09 (ISO 8601 in, ISO 8601 out)
    lambda d, o: "{:02}/{:02}/".format(*_numbers(d, o)) + str(d.year),  # 09/05/2018 or 05/09/2018
)


def date_source(text: str, order: str) -> str:
    """What the model reads for a written date: the order's mark, then the text."""
    check_choice("order", order, ORDERS)
    return ORDER_MARKS[order] + text


@functools.cache
def _days(split: str) -> list[datetime.date]:
    """The days of one split: a fixed random tenth of all of them for 'test', the rest for
    'train' (the same on every machine)."""
    count = (LAST_DAY - FIRST_DAY).days + 1
    days = [FIRST_DAY + datetime.timedelta(n) for n in range(count)]
    held_out = set(random.Random(2018).sample(range(count), round(HELD_OUT * count)))
    return [day for n, day in enumerate(days) if (n in held_out) == (split == "test")]


def written_dates(split: str, size: int | None = None) -> list[tuple[str, str, str]]:
    """``size`` (default ``SPLIT_SIZES[split]``) triples (written date, its order, ISO date) of
    the split's days, each in a random format and a random order."""
    check_choice("split", split, SPLIT_SIZES)
    size = SPLIT_SIZES[split] if size is None else size
    check_positive("size", size)
    rng = random.Random(SPLIT_SEEDS[split])
    days = _days(split)
    triples = []
    for _ in range(size):
        day, order = rng.choice(days), rng.choice(ORDERS)
        triples.append((rng.choice(DATE_FORMATS)(day, order), order, day.isoformat()))
    return triples


def date_pairs(split: str, size: int | None = None) -> list[tuple[str, str]]:
    """``written_dates`` as the model's (source, target) pairs: (``date_source``, ISO date)."""
    return [(date_source(text, order), iso) for text, order, iso in written_dates(split, size)]


def reversal_pairs(split: str, max_length: int, size: int | None = None):
    """``size`` pairs (digits, the digits reversed), lengths uniform in 1..max_length."""
    check_choice("split", split, SPLIT_SIZES)
    check_positive("max_length", max_length)
    size = SPLIT_SIZES[split] if size is None else size
    check_positive("size", size)
    rng = random.Random(SPLIT_SEEDS[split] + 10)
    pairs = []
    for _ in range(size):
        digits = "".join(rng.choices("0123456789", k=rng.randint(1, max_length)))
        pairs.append((digits, digits[::-1]))
    return pairs


def translation_arrays(
    pairs: list[tuple[str, str]], max_source: int, max_target: int | None = None
) -> dict:
    """The batch arrays of (source, target) pairs (the module docstring's layout); targets get
    END and have ``max_target`` + 1 steps (default: the longest target). A source longer than
    ``max_source`` or a character outside the vocabulary is an error naming the pair, never a
    silent truncation or an unknown-character id the model was not trained on."""
    for index, (source, target) in enumerate(pairs):
        for text in (source, target):
            unknown = sorted({c for c in text if c not in SEQUENCE_CHARACTERS.ids})
            if unknown or START in text or END in text:
                raise ValueError(f"pair {index} ({text!r}) has characters outside the vocabulary")
        if len(source) > max_source:
            raise ValueError(
                f"pair {index}: source {source!r} has {len(source)} characters; the model "
                f"reads at most {max_source}"
            )
    longest = max(len(target) for _, target in pairs)
    max_target = longest if max_target is None else max_target
    if longest > max_target:
        raise ValueError(f"a target has {longest} characters, more than max_target={max_target}")
    source, lengths = pad([SEQUENCE_CHARACTERS.encode(s) for s, _ in pairs], max_source)
    ended = [np.append(SEQUENCE_CHARACTERS.encode(t), END_ID) for _, t in pairs]
    targets, target_lengths = pad(ended, max_target + 1)
    decoder_inputs = np.concatenate(
        [np.full((len(pairs), 1), START_ID, np.int32), targets[:, :-1]], axis=1
    )
    decoder_inputs[decoder_inputs == END_ID] = PAD  # END is never read: it ends the target
    steps = np.arange(max_target + 1)[None, :] < target_lengths[:, None]
    return {
        "inputs": {"source": source, "decoder_inputs": decoder_inputs},
        "lengths": lengths,
        "targets": targets,
        "mask": steps,
    }


@functools.lru_cache(maxsize=8)
def task_split(task: str, split: str, max_length: int = 0) -> dict:
    """The arrays of one split of 'dates' or 'reversal' (digit strings of 1..``max_length``),
    the same on every machine. Cached, since an experiment trains several models on one
    split: read them, never write to them."""
    check_choice("translation task", task, ("dates", "reversal"))
    if task == "dates":
        arrays = translation_arrays(date_pairs(split), MAX_DATE_SOURCE, DATE_TARGET)
    else:
        arrays = translation_arrays(reversal_pairs(split, max_length), max_length, max_length)
    for array in (*arrays["inputs"].values(), arrays["lengths"], arrays["targets"], arrays["mask"]):
        array.flags.writeable = False  # shared by every caller of the cache
    return arrays


def decode_targets(ids: np.ndarray) -> list[str]:
    """The strings of decoded ids [N, T]: each row up to its first END (PAD dropped)."""
    texts = []
    for row in np.asarray(ids):
        ends = np.flatnonzero(row == END_ID)
        texts.append(SEQUENCE_CHARACTERS.decode(row[: ends[0]] if len(ends) else row))
    return texts
