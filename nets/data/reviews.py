"""A generated review corpus for sentiment analysis, built on a lexicon rated by people, in which
word order decides the label; and a natural test set written by hand.

**The words.** Opinion words are the single words of VADER's lexicon (Hutto & Gilbert 2014,
shipped in the ``vaderSentiment`` wheel: about 7,500 English words and expressions, each the
mean of ten human ratings on -4..4) rated at least ``OPINION_RATING`` away from neutral:
polarity(w) = sign(rating). Filler is the rest of English: the most frequent words of
``wordfreq``'s English list (many sources: Wikipedia, subtitles, news, books, the web) that are
neither opinion words (nearly neutral lexicon words are filler), negations nor part of
the grammar below, drawn in proportion to the
square root of their frequency. Past the ``COMMON`` most frequent, every fifth filler word is
kept for the test split, so a generated test review's filler was never seen in training (it
is out of vocabulary there, like a natural text's unknown words).

**The grammar.** A review is filler around one to three clauses; a clause is a frame ("the
acting was", "i found it", "the plot felt", "it is a ... film", "i ... it", "i left feeling",
"there is a lot of ... in it", "what a ... film", ...), optionally negated ("was not", "wasn't",
"was never", "was hardly", "didn't find", "there was nothing ... about", "not a ... film", "no
... film", "told without", "there is little ... in", and "... at all"),
then one opinion word or two of one polarity ("x and y"), each optionally intensified or toned down
(VADER's boosters: "very", "really", "somewhat", "kind of", ...), or a comparative ("more
<w> than ...", "less <w> than ..."). The composition rule:

    value(clause) = polarity(its words) * (-1 if negated) * (-1 if "less ... than")
    label = 1 (positive)  if value(deciding clause) > 0,   else 0,
    deciding clause = the clause after a contrast ("but", "yet", "however", "still",
                      "nevertheless"), the clause that is not conceded ("although",
                      "though", "even though", "while": before or after it), else the only
                      clause (or both, joined by "and", of one value).

The other clause of a contrast or concession is of the opposite value half the time, else of
the same value or of none (a frame around filler: "although the plot was long"), a quarter
each: the deciding clause must be read, not guessed by turning the other around (on the natural
validation sentences, seeds 0 and 1 of the LSTM went from 80.6 / 81.9% to 85.3 / 82.3% with
it). Intensifiers and downtoners never change the sign. So "not good" is negative and "not bad"
positive (negation is an XOR with the word's polarity), and "good ... but awful", "awful ...
but good", "although good, awful" and "good although awful" hold the same opinion words with
labels decided by their order: a model that sees only which words occur (a bag of
embeddings) cannot read them, while a recurrent network can, if it keeps the deciding clause
in its state over the ``distance`` filler words that follow it to the end of the review
(uniform in 0..max_distance): the lecture's reason for the LSTM, as an application.

Frames are split too: ``TEST_FRAMES`` appear only in the test split, so the test measures
the rule on sentence shapes training never saw.

**The natural sets** (``natural_reviews(split)``): ordinary movie-review sentences written by
hand, half positive and half negative, beside this module: 'test' (220 sentences,
``natural_reviews.tsv``) is never used for training, tuning or early stopping; 'validation'
(232 others, ``natural_reviews_validation.tsv``) is where training settings are chosen.
"""

import functools
import random
import re
from pathlib import Path

import numpy as np

from nets.checks import check_choice, check_positive
from nets.data.text import Vocabulary, pad, words

OPINION_RATING = 0.5  # |mean human rating| of an opinion word, on VADER's -4..4 scale
REVIEW_VOCABULARY = 20_000  # tokens, with PAD and OOV: the grammar, opinion words, filler
FILLER_POOL = 40_000  # the most frequent English words considered as filler
COMMON = 1_000  # the most frequent filler words, all in training; every fifth of the rest is
# the test split's
NEGATED = {  # frame -> its negated forms; {s} a subject, {o} an object, {n} a noun, {w} the
    # opinion (at the end where not given)
    "{s} was": ("{s} was not", "{s} wasn't", "{s} was never", "{s} was hardly",
                "there was nothing {w} about {o}"),
    "{s} is": ("{s} is not", "{s} isn't", "{s} is never", "{s} is hardly"),
    "{s} were": ("{s} were not", "{s} weren't", "{s} were never"),
    "{s} felt": ("{s} never felt", "{s} did not feel", "{s} didn't feel"),
    "{s} seemed": ("{s} never seemed", "{s} did not seem", "{s} didn't seem"),
    "i found {o}": ("i did not find {o}", "i didn't find {o}", "i never found {o}"),
    "we found {o}": ("we did not find {o}", "we didn't find {o}"),
    "i would call {o}": ("i would not call {o}", "i wouldn't call {o}", "i would never call {o}",
                         "i can't call {o}", "i cannot call {o}"),
    "it's": ("it's not", "it isn't", "it's never", "it is not"),
    "i think {s} is": ("i don't think {s} is", "i do not think {s} is"),
    "a {w} {n}": ("not a {w} {n}", "hardly a {w} {n}", "never a {w} {n}", "no {w} {n}"),
    "it is a {w} {n}": ("it is not a {w} {n}", "it isn't a {w} {n}", "it is hardly a {w} {n}",
                        "it is never a {w} {n}"),
    "this is a {w} {n}": ("this is not a {w} {n}", "this isn't a {w} {n}",
                          "this is no {w} {n}"),
    "{s} feels": ("{s} does not feel", "{s} doesn't feel", "{s} never feels"),
    "{s} are": ("{s} are not", "{s} aren't", "{s} are never"),
    "{s} looked": ("{s} did not look", "{s} didn't look", "{s} never looked"),
    "i {w} {o}": ("i did not {w} {o}", "i didn't {w} {o}", "i never {w} {o}"),
    "i left feeling": ("i did not leave feeling", "i never left feeling"),
    "{s} made me feel": ("{s} did not make me feel", "{s} never made me feel"),
    "{s} is told with": ("{s} is told without", "{s} is told without any"),
    "there is a lot of {w} in {o}": ("there is no {w} in {o}", "there is not much {w} in {o}",
                                     "there is little {w} in {o}"),
    "what a {w} {n}": (),  # never negated
    # the test split's frames: sentence shapes training never saw
    "i thought {s} was": ("i did not think {s} was", "i didn't think {s} was",
                          "i never thought {s} was"),
    "{s} looks": ("{s} does not look", "{s} doesn't look", "{s} never looks"),
    "{s} turned out": ("{s} did not turn out", "{s} didn't turn out", "{s} never turned out"),
    "that was a {w} {n}": ("that was not a {w} {n}", "that wasn't a {w} {n}"),
}  # fmt: skip
TEST_FRAMES = ("i thought {s} was", "{s} looks", "{s} turned out", "that was a {w} {n}")
NOUNS = (
    "film", "movie", "story", "drama", "performance", "script", "ending", "cast", "sequel",
    "experience", "watch", "evening", "ride", "night", "show", "picture", "debut",
)  # fmt: skip
SUBJECTS = (
    "the movie", "the film", "this movie", "this film", "it", "the plot", "the story",
    "the acting", "the cast", "the script", "the ending", "the music", "the soundtrack",
    "the dialogue", "the characters", "the direction", "the pacing", "the effects",
    "the performances", "the lead", "the villain", "the jokes", "the sequel", "the first half",
    "the second half", "the final scene", "the animation", "the cinematography", "the premise",
    "the story line", "the humor", "the whole thing",
)  # fmt: skip
OBJECTS = ("it", "the movie", "the film", "this film", "the story", "the acting", "the plot")
CONTRASTS = ("but", "yet", "however", "still", "nevertheless")  # the clause after decides
CONCESSIONS = ("although", "though", "even though", "while")  # the clause after does not
INTENSIFIERS = ("very", "really", "truly", "extremely", "incredibly", "so", "quite",
                "absolutely", "totally", "remarkably", "especially", "deeply")  # fmt: skip
DOWNTONERS = ("somewhat", "slightly", "kind of", "sort of", "a bit", "partly", "fairly")
GRAMMAR = (
    *NEGATED, *(form for forms in NEGATED.values() for form in forms), *SUBJECTS, *OBJECTS, *NOUNS,
    *CONTRASTS, *CONCESSIONS, *INTENSIFIERS, *DOWNTONERS,
    "and", "at all", "more than", "less than", ", . ! ;",
)  # fmt: skip
SPLIT_SEEDS = {"train": 0, "test": 1}
SPLIT_SIZES = {"train": 400_000, "test": 2_000}  # training reviews are seldom seen twice
OPENING = 4  # the most filler words before the first clause
MIDDLE = 6  # the most filler words between two clauses
STRUCTURES = ("one", "and", "contrast", "concession_first", "concession_last")
STRUCTURE_WEIGHTS = (0.25, 0.1, 0.3, 0.175, 0.175)


@functools.cache
def lexicon() -> dict[str, float]:
    """VADER's single-word entries: word -> mean human rating (-4..4), read from the wheel's
    ``vader_lexicon.txt`` (word, mean, standard deviation, the ten ratings)."""
    import vaderSentiment  # here only: the corpus needs it, the rest of nets does not

    path = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    ratings = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        token, mean, *_ = line.split("\t")
        if re.fullmatch(r"[a-z]+", token):
            ratings[token] = float(mean)
    return ratings


@functools.cache
def _grammar_words() -> frozenset[str]:
    return frozenset(w for text in GRAMMAR for w in words(re.sub(r"{[a-z]}", "", text)))


@functools.cache
def opinion_words() -> dict[int, tuple[str, ...]]:
    """{+1: positive words, -1: negative words}: the lexicon's words rated at least
    ``OPINION_RATING`` from neutral that are among the ``FILLER_POOL`` most frequent English
    words (not "adventuresses": a rare word seen a few times is learned by heart, not by its
    polarity), less the grammar's ("hardly", "still", ...)."""
    from wordfreq import top_n_list  # here only, as the lexicon

    common = set(top_n_list("en", FILLER_POOL))
    grammar = _grammar_words()
    rated = {
        w: r
        for w, r in lexicon().items()
        if abs(r) >= OPINION_RATING and w not in grammar and w in common
    }
    return {p: tuple(sorted(w for w, r in rated.items() if np.sign(r) == p)) for p in (1, -1)}


@functools.cache
def filler_words() -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """{'train' | 'test': (words, probabilities)}: English words by frequency that are neither
    in VADER's lexicon, its negations nor the grammar; past the ``COMMON`` most frequent, every
    fifth is the test split's, and the training filler stops where the vocabulary holds
    ``REVIEW_VOCABULARY`` tokens."""
    from vaderSentiment.vaderSentiment import NEGATE
    from wordfreq import top_n_list, word_frequency  # here only, as the lexicon

    rated = {w for w, r in lexicon().items() if abs(r) >= OPINION_RATING}  # nearly neutral: filler
    taken = rated | _grammar_words() | set(NEGATE)  # and no negation is filler
    pool = [w for w in top_n_list("en", FILLER_POOL) if re.fullmatch(r"[a-z]+('[a-z]+)?", w)]
    pool = [w for w in pool if w not in taken and not w.endswith("n't")]  # "n't": a negation
    held_out = {w for k, w in enumerate(pool) if k >= COMMON and k % 5 == 4}
    room = REVIEW_VOCABULARY - 2 - len(_structure_tokens())
    train = [w for w in pool if w not in held_out][:room]
    test = [w for w in pool if w in held_out]
    splits = {}
    for split, chosen in (("train", train), ("test", test)):
        weights = np.sqrt([word_frequency(w, "en") for w in chosen])
        splits[split] = (tuple(chosen), weights / weights.sum())
    return splits


@functools.cache
def _structure_tokens() -> tuple[str, ...]:
    """The grammar's and the opinion words' tokens, sorted."""
    opinions = {w for polar in opinion_words().values() for w in polar}
    return tuple(sorted(_grammar_words() | opinions))


@functools.cache
def vocabulary() -> Vocabulary:
    """The corpus's ``REVIEW_VOCABULARY`` tokens: the grammar, the opinion words and the
    training filler; a test filler word or any other word is OOV."""
    return Vocabulary([*_structure_tokens(), *filler_words()["train"][0]], "word")


def _fill(form: str, slots: dict, opinion: list[str]) -> list[str]:
    """The tokens of a frame or negated form with its slots filled and the opinion's tokens
    at {w} (at the end where the form has no {w})."""
    form = form if "{w}" in form else form + " {w}"
    before, after = form.split("{w}")
    return [*before.format(**slots).split(), *opinion, *after.format(**slots).split()]


class _Writer:
    """Draws the pieces of one split's reviews from one ``random.Random``."""

    def __init__(self, split: str, seed: int):
        self.rng = random.Random(seed)  # Python's Mersenne Twister: the same on every machine
        self.np_rng = np.random.default_rng(seed)
        self.frames = [f for f in NEGATED if (f in TEST_FRAMES) == (split == "test")]
        self.subject_frames = [f for f in self.frames if f.startswith("{s}")]
        self.filler, weights = filler_words()[split]
        self.cumulative = np.cumsum(weights)
        self.opinions = opinion_words()
        self.opinion_set = {w for polar in self.opinions.values() for w in polar}

    def filler_words(self, count: int) -> list[str]:
        """``count`` filler words, each drawn with its probability (inverse-CDF sampling)."""
        if not count:
            return []
        picks = np.searchsorted(self.cumulative, self.np_rng.random(count) * self.cumulative[-1])
        return [self.filler[k] for k in np.minimum(picks, len(self.filler) - 1)]

    def opinion(self, polarity: int) -> list[str]:
        """An opinion word of ``polarity``, intensified a quarter of the time, toned down an
        eighth."""
        draw, word = self.rng.random(), self.rng.choice(self.opinions[polarity])
        if draw < 0.25:
            return [self.rng.choice(INTENSIFIERS), word]
        if draw < 0.375:
            return [*self.rng.choice(DOWNTONERS).split(), word]
        return [word]

    def clause(self, value: int) -> list[str]:
        """A clause of ``value`` (+1 or -1): negated two times in five, comparative one in ten,
        else one opinion word or two joined by "and"."""
        frame = self.rng.choice(self.frames)
        slots = dict(
            s=self.rng.choice(SUBJECTS), o=self.rng.choice(OBJECTS), n=self.rng.choice(NOUNS)
        )
        draw = self.rng.random()
        if draw < 0.4 and NEGATED[frame]:  # negated: one opinion word of the opposite polarity
            tail = ["at", "all"] if self.rng.random() < 0.2 else []
            return [*_fill(self.rng.choice(NEGATED[frame]), slots, self.opinion(-value)), *tail]
        if draw < 0.5 and "{w}" not in frame:  # comparative: "less <w> than" turns it around
            less = self.rng.random() < 0.5
            word = self.rng.choice(self.opinions[-value if less else value])
            more = "less" if less else "more"
            than = self.filler_words(self.rng.randint(1, 3))
            return [*_fill(frame, slots, [more, word]), "than", *than]
        if self.rng.random() < 0.75:
            return _fill(frame, slots, self.opinion(value))
        return _fill(frame, slots, [*self.opinion(value), "and", *self.opinion(value)])

    def neutral_clause(self) -> list[str]:
        """A frame holding one or two filler words where the opinion goes ("although the plot
        was long"): a clause of no value."""
        frame = self.rng.choice(self.subject_frames)
        return _fill(
            frame, {"s": self.rng.choice(SUBJECTS)}, self.filler_words(self.rng.randint(1, 2))
        )

    def other_clause(self, value: int) -> list[str]:
        """The clause a contrast or concession sets against the deciding one (of ``value``):
        of the opposite value half the time, else of no value or of the same (a quarter each),
        so that a model must read the deciding clause rather than turn this one around."""
        draw = self.rng.random()
        if draw < 0.25:
            return self.neutral_clause()
        return self.clause(value if draw < 0.5 else -value)

    def review(self, max_distance: int) -> tuple[list[str], int, int, str]:
        """(tokens, label, distance, structure) of one review."""
        value = self.rng.choice((-1, 1))  # of the deciding clause
        structure = self.rng.choices(STRUCTURES, weights=STRUCTURE_WEIGHTS)[0]
        middle = self.filler_words(self.rng.randint(0, MIDDLE))
        deciding = self.clause(value)
        if structure == "one":
            body = deciding
        elif structure == "and":
            body = [*self.clause(value), *middle, "and", *deciding]
        elif structure == "contrast":
            comma = [","] if self.rng.random() < 0.5 else []
            link = self.rng.choice(CONTRASTS).split()
            body = [*self.other_clause(value), *middle, *comma, *link, *deciding]
        else:
            conceded = [*self.rng.choice(CONCESSIONS).split(), *self.other_clause(value)]
            if structure == "concession_first":
                body = [*conceded, *middle, ",", *deciding]
            else:
                body = [*deciding, *middle, *conceded]
        after = len(body) - len(deciding) if structure == "concession_last" else 0
        last = max(i for i, w in enumerate(deciding) if w in self.opinion_set)
        after += len(deciding) - 1 - last  # "at all", "than ...": after its opinion word
        distance = self.rng.randint(0, max_distance)
        ending = [self.rng.choice(".!")] if self.rng.random() < 0.3 else []
        tokens = [*self.filler_words(self.rng.randint(0, OPENING)), *body]
        tokens += self.filler_words(distance) + ending
        return tokens, int(value > 0), distance + after + len(ending), structure


def generate_reviews(
    size: int, max_distance: int, seed: int, split: str = "train"
) -> dict[str, list | np.ndarray]:
    """``size`` reviews of ``split``'s frames and filler: {'texts': [str], 'labels' [size]
    int32, 'distances' [size] int32 (tokens after the deciding clause's last opinion word),
    'structures' [str]
    (``STRUCTURES``)}."""
    check_positive("number of reviews", size)
    check_positive("max_distance", max_distance)
    writer = _Writer(split, seed)
    texts, labels, distances, structures = [], [], [], []
    for _ in range(size):
        tokens, label, distance, structure = writer.review(max_distance)
        texts.append(" ".join(tokens))
        labels.append(label)
        distances.append(distance)
        structures.append(structure)
    return {
        "texts": texts,
        "labels": np.array(labels, np.int32),
        "distances": np.array(distances, np.int32),
        "structures": structures,
    }


def max_review_length(max_distance: int) -> int:
    """The most tokens a review can have: the opening filler, two clauses, the middle filler
    and the links around it (", even though"), the closing filler and a final mark."""
    clause = 15  # "there is a lot of kind of <w> and kind of <w> in the movie"
    return OPENING + 2 * clause + MIDDLE + 3 + max_distance + 1


@functools.lru_cache(maxsize=4)
def review_split(split: str, max_distance: int) -> dict[str, np.ndarray]:
    """One split as a batch: {'inputs' [N, max_review_length] ids, 'targets' [N] labels,
    'lengths' [N], 'distances' [N]}, the same on every machine (a fixed seed per split).
    Cached: the sentiment experiment trains several models on one split (read it, never
    write to it)."""
    reviews = generate_reviews(SPLIT_SIZES[split], max_distance, SPLIT_SEEDS[split], split)
    ids, lengths = pad(
        [vocabulary().encode(text) for text in reviews["texts"]], max_review_length(max_distance)
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


NATURAL_FILES = {"test": "natural_reviews.tsv", "validation": "natural_reviews_validation.tsv"}


def natural_reviews(split: str = "test") -> dict[str, list]:
    """A hand-written set: {'texts': [str], 'labels': [int] (1 positive)}; 'test' is the
    natural test set, 'validation' the 232 sentences on which training settings are tuned."""
    check_choice("natural review split", split, NATURAL_FILES)
    path = Path(__file__).with_name(NATURAL_FILES[split])
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            label, text = line.split("\t")
            texts.append(text)
            labels.append(int(label == "positive"))
    return {"texts": texts, "labels": labels}
