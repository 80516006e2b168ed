"""Text data: vocabularies, padding and windows, the generated reviews' rule, the pydoc split and
the Kneser–Ney baseline, each against independent arithmetic."""

import math

import numpy as np
import pytest

from nets.data import corpus, reviews
from nets.data.text import CHARACTERS, OOV, PAD, Vocabulary, pad, windows, word_dropout, words
from nets.ngram import KneserNey, unigram_bits


def test_word_vocabulary_round_trips_and_maps_unknown_words_to_oov(tmp_path):
    texts = ["Great, isn't it? Great!", "not great<br />at all", "it was fine"]
    vocabulary = Vocabulary.from_texts(texts, "word", max_size=7)
    # counts: great 3, it 2, then the ones tied at 1 alphabetically: ! , ? all ...
    assert vocabulary.tokens == ("<pad>", "<oov>", "great", "it", "!", ",", "?")
    text = "Great, it? Great!"
    assert (
        vocabulary.decode(vocabulary.encode(text))
        == " ".join(words(text))
        == "great , it ? great !"
    )
    assert list(vocabulary.encode("great fine")) == [2, OOV]
    assert vocabulary.decode([2, OOV, PAD]) == "great <oov>"
    with pytest.raises(ValueError, match="id 7 is outside this vocabulary of 7 tokens"):
        vocabulary.decode([7])
    vocabulary.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == vocabulary
    assert not list(tmp_path.glob("*.tmp"))  # written by rename: no temporary left


def test_character_vocabulary_is_fixed_ascii_and_round_trips():
    text = "def f(x):\n\treturn x ** 2  # ~`{}|"
    assert CHARACTERS.decode(CHARACTERS.encode(text)) == text
    assert len(CHARACTERS) == 2 + 2 + 95  # pad, oov, newline, tab, printable ASCII
    assert list(CHARACTERS.encode("é—a")) == [OOV, OOV, CHARACTERS.ids["a"]]


def test_padding_keeps_lengths_truncates_and_refuses_empty_sequences():
    ids, lengths = pad([np.array([5, 6, 7]), np.array([8]), np.arange(2, 12)], max_length=4)
    np.testing.assert_array_equal(ids, [[5, 6, 7, PAD], [8, PAD, PAD, PAD], [2, 3, 4, 5]])
    np.testing.assert_array_equal(lengths, [3, 1, 4])
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        pad([np.array([3]), np.array([], np.int32)], max_length=4)


def test_language_model_windows_are_shifted_by_one():
    arrays = windows(np.arange(11), 3)  # (11 - 1) // 3 = 3 windows
    np.testing.assert_array_equal(arrays["inputs"], [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(arrays["targets"], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    with pytest.raises(ValueError, match="no window of 5 \\+ 1 tokens"):
        windows(np.arange(5), 5)


def rule(text: str) -> tuple[int, int]:
    """The review rule read back from the words alone, with none of the generator's code:
    (label, tokens after the deciding clause's last opinion word). The deciding part is what
    follows a contrast word; with a concession, what follows the comma after it (the
    concession came first) or else what precedes it; then, after its last "and", the last
    opinion word's polarity from VADER's ratings, turned around by a negation before it or
    by "less" just before it. None for a text without opinion words."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    ratings = SentimentIntensityAnalyzer().lexicon
    grammar = {
        "more",
        "less",
        "not",
        "no",
        "never",
        "hardly",
        "nothing",
        "cannot",
        "without",
        "little",
        "and",
        "at",
        "all",
    }
    tokens = text.split()
    links = [
        i for i, t in enumerate(tokens) if t in ("but", "yet", "however", "still", "nevertheless")
    ]
    concessions = [i for i, t in enumerate(tokens) if t in ("although", "though", "while")]
    end = len(tokens)
    if links:
        start = links[0] + 1
    elif concessions:
        c = concessions[0]
        commas = [i for i, t in enumerate(tokens) if t == "," and i > c]
        start, end = (commas[0] + 1, len(tokens)) if commas else (0, c - (tokens[c - 1] == "even"))
    else:
        start = 0
    segment = tokens[start:end]
    if "and" in segment:
        start += len(segment) - segment[::-1].index("and")
        segment = tokens[start:end]
    # the words the grammar places around opinions, some rated ("truly" 1.9, "humor" 1.1)
    lists = (reviews.INTENSIFIERS, reviews.DOWNTONERS, reviews.SUBJECTS, reviews.NOUNS)
    placed = grammar | {w for phrases in lists for phrase in phrases for w in phrase.split()}
    opinions = [
        i for i, t in enumerate(segment)
        if abs(ratings.get(t, 0)) >= reviews.OPINION_RATING and t not in placed
    ]  # fmt: skip
    if not opinions:  # a clause of no value: "although the plot was long"
        return None
    position = opinions[-1]
    polarity = 1 if ratings[segment[position]] > 0 else -1
    negated = any(t in grammar - {"more", "less", "and", "at", "all"} or t.endswith("n't")
                  for t in segment[:position])  # fmt: skip
    less = position > 0 and segment[position - 1] == "less"
    value = polarity * (-1 if negated else 1) * (-1 if less else 1)
    return int(value > 0), len(tokens) - 1 - (start + position)


def test_generated_reviews_follow_the_stated_rule():
    generated = reviews.generate_reviews(600, max_distance=12, seed=3)
    read = [rule(text) for text in generated["texts"]]
    np.testing.assert_array_equal([label for label, _ in read], generated["labels"])
    np.testing.assert_array_equal([d for _, d in read], generated["distances"])
    assert 0.4 < generated["labels"].mean() < 0.6
    structures = np.array(generated["structures"])
    for structure, share in zip(reviews.STRUCTURES, reviews.STRUCTURE_WEIGHTS, strict=True):
        assert abs((structures == structure).mean() - share) < 0.06, structure
    # where order decides, the other clause has the opposite value half the time (the same
    # opinion words in another order would give the other label), else the same value or
    # none (a quarter each): turning it around does not give the label
    others = []
    for text, label, structure in zip(
        generated["texts"], generated["labels"], structures, strict=True
    ):
        if structure == "contrast":
            link = next(t for t in text.split() if t in reviews.CONTRASTS)
            other = rule(text.split(f" {link} ")[0])
            others.append("none" if other is None else "same" if other[0] == label else "opposite")
    for kind, share in (("opposite", 0.5), ("same", 0.25), ("none", 0.25)):
        assert abs(others.count(kind) / len(others) - share) < 0.1, kind
    split = reviews.review_split("test", 12)
    assert split["inputs"].shape == (2000, reviews.max_review_length(12))
    assert (split["lengths"] == (split["inputs"] != PAD).sum(axis=1)).all()
    longest = reviews.generate_reviews(3000, 12, seed=4)["texts"]
    assert max(len(t.split()) for t in longest) <= reviews.max_review_length(12)


def test_review_vocabulary_test_filler_and_frames_are_unseen_in_training():
    vocabulary = reviews.vocabulary()
    assert len(vocabulary.tokens) == reviews.REVIEW_VOCABULARY
    train = reviews.generate_reviews(2000, 8, seed=0, split="train")["texts"]
    test = reviews.generate_reviews(2000, 8, seed=1, split="test")["texts"]
    seen = {w for t in train for w in t.split()}
    assert seen <= set(vocabulary.tokens)  # every training token has an id
    test_filler = set(reviews.filler_words()["test"][0])
    assert not test_filler & set(vocabulary.tokens)
    assert sum(w in test_filler for t in test for w in t.split()) > 1000  # OOV in testing
    # a frame of the test split never opens a training clause: "i thought", "looks"
    assert not any(" looks " in f" {t} " or "i thought" in t or "that was a" in t for t in train)
    assert sum("i thought" in t or " looks " in f" {t} " for t in test) > 100
    # opinion words carry VADER's human ratings, at least OPINION_RATING from neutral
    ratings = reviews.lexicon()
    assert ratings["good"] == 1.9 and ratings["bad"] == -2.5  # vader_lexicon.txt's means
    assert all(ratings[w] >= 0.5 for w in reviews.opinion_words()[1])
    assert all(ratings[w] <= -0.5 for w in reviews.opinion_words()[-1])


def test_natural_reviews_are_balanced_and_never_generated():
    natural = reviews.natural_reviews()
    assert len(natural["texts"]) >= 200 and sum(natural["labels"]) * 2 == len(natural["labels"])
    assert len(set(natural["texts"])) == len(natural["texts"])
    generated = set(reviews.generate_reviews(2000, 8, seed=0)["texts"])
    assert not generated & {t.lower() for t in natural["texts"]}


def test_word_dropout_replaces_only_real_tokens_at_its_rate():
    ids = np.arange(2, 1002)
    ids[800:] = PAD
    dropped = word_dropout(ids, 800, np.random.default_rng(0), rate=0.25)
    assert (dropped[800:] == PAD).all() and (ids[800:] == PAD).all()
    changed = dropped[:800] != ids[:800]
    assert (dropped[:800][changed] == OOV).all()
    assert abs(changed.mean() - 0.25) < 0.05  # binomial(800, 0.25): sd 0.015
    assert (word_dropout(ids, 800, np.random.default_rng(0), 0.25) == dropped).all()  # seeded


def test_the_pydoc_corpus_is_split_by_whole_documents():
    documents = corpus.pydoc_documents()
    parts = corpus.split_documents(documents)
    total = sum(map(len, documents.values()))
    for split, share in corpus.SPLITS.items():
        assert abs(len(parts[split]) / total - share) < 0.05
    for name, text in documents.items():  # every document is whole in some split
        assert any(text in part for part in parts.values()), name
    # and only once: the splits hold every character once, plus the separators
    assert sum(map(len, parts.values())) == total + len(corpus.SEPARATOR) * (len(documents) - 3)


def test_kneser_ney_matches_a_hand_computed_bigram_and_sums_to_one():
    # text "abab a" over tokens {0: pad, 1: a, 2: b}: bigrams after one pad: 0a ab ba ab ba
    ids = np.array([1, 2, 1, 2, 1])
    model = KneserNey.fit(ids, order=2, vocabulary_size=3)
    # order 2 raw counts: (0,1)=1, (1,2)=2, (2,1)=2 -> n1=1, n2=2, D2 = 1/5
    # order 1 continuation counts: a after {0, b} = 2, b after {a} = 1 -> n1=1, n2=1, D1 = 1/3
    d1, d2 = 1 / 3, 1 / 5
    unigram = {w: (max(c - d1, 0) + d1 * 2 / 3) / 3 for w, c in {0: 0, 1: 2, 2: 1}.items()}
    # history a: c(a .) = 2, one type (b)
    expected = {
        w: (max(c - d2, 0) + d2 * 1 * unigram[w]) / 2 for w, c in {0: 0, 1: 0, 2: 2}.items()
    }
    np.testing.assert_allclose(model.next_token_distribution([1]), [expected[w] for w in range(3)])
    assert math.isclose(sum(unigram.values()), 1.0)
    text = np.random.default_rng(0).integers(0, 6, 300)
    for order in (1, 3, 4):
        fitted = KneserNey.fit(text, order, vocabulary_size=6)
        for history in ([], [2], [5, 5, 5], list(text[:7])):
            p = fitted.next_token_distribution(history)
            assert p.min() > 0 and math.isclose(p.sum(), 1.0, rel_tol=1e-12)
        # the probabilities it scores a text with are the distributions' entries
        probabilities = fitted.probabilities_of(text[:20])
        for t in range(20):
            history = np.concatenate([np.zeros(order - 1, int), text[:t]])
            assert math.isclose(probabilities[t], fitted.next_token_distribution(history)[text[t]])
    # a history shorter than n - 1 is padded, as the text's first tokens are: every length
    text = np.array([1, 2, 3, 1, 2, 3, 3, 2, 1, 2, 3, 1, 1, 2])
    fitted = KneserNey.fit(text, 5, vocabulary_size=4)
    probabilities = fitted.probabilities_of(text)
    for t in range(len(text)):
        assert math.isclose(probabilities[t], fitted.next_token_distribution(text[:t])[text[t]])
    assert not np.allclose(fitted.next_token_distribution([1, 2, 3]),
                           fitted.next_token_distribution([3]))  # fmt: skip
    for call, message in [
        (lambda: fitted.probabilities_of([1, 4]), r"in 0..3, found 1..4"),
        (lambda: fitted.next_token_distribution([-1]), r"in 0..3, found -1..-1"),
        (lambda: fitted.probabilities_of([[1, 2]]), "1-D sequence of integer token ids"),
        (lambda: fitted.probabilities_of([1.5]), "integer token ids"),
        (lambda: KneserNey.fit([], 3, vocabulary_size=4), "has no tokens"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
    # the add-one unigram: -mean log2((count + 1) / (N + V))
    assert math.isclose(
        unigram_bits([1, 1, 2], [1, 0], 3), -(math.log2(3 / 6) + math.log2(1 / 6)) / 2
    )
