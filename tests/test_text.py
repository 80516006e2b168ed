"""Text data: vocabularies, padding and windows, the generated reviews' rule, the pydoc split and
the Kneser–Ney baseline, each against independent arithmetic."""

import math

import numpy as np
import pytest

from nets.data import corpus, reviews
from nets.data.text import CHARACTERS, OOV, PAD, Vocabulary, pad, windows, words
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
    """The review rule read back from the words alone: (label, words after the deciding
    adjective)."""
    tokens = text.split()
    start = tokens.index("but") + 1 if "but" in tokens else 0
    position = next(
        i for i in range(start, len(tokens)) if tokens[i] in reviews.POSITIVE + reviews.NEGATIVE
    )
    polarity = 1 if tokens[position] in reviews.POSITIVE else -1
    negated = "not" in tokens[start:position]
    return int(polarity * (-1 if negated else 1) > 0), len(tokens) - 1 - position


def test_generated_reviews_follow_the_stated_rule():
    generated = reviews.generate_reviews(400, max_distance=12, seed=3)
    read = [rule(text) for text in generated["texts"]]
    np.testing.assert_array_equal([label for label, _ in read], generated["labels"])
    np.testing.assert_array_equal([d for _, d in read], generated["distances"])
    assert generated["distances"].max() <= 12 and 0.4 < generated["labels"].mean() < 0.6
    contrast = generated["contrast"]
    assert 0.4 < contrast.mean() < 0.6
    assert all(("but" in t) == c for t, c in zip(generated["texts"], contrast, strict=True))
    # a contrast's two clauses have opposite values: the words alone cannot give the label
    first = [
        rule(t.split(" but ")[0])[0] for t, c in zip(generated["texts"], contrast, strict=True) if c
    ]
    np.testing.assert_array_equal(first, 1 - generated["labels"][contrast])
    split = reviews.review_split("test", 12)
    assert split["inputs"].shape == (2000, reviews.max_review_length(12))
    assert (split["lengths"] == (split["inputs"] != PAD).sum(axis=1)).all()


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
    # the add-one unigram: -mean log2((count + 1) / (N + V))
    assert math.isclose(
        unigram_bits([1, 1, 2], [1, 0], 3), -(math.log2(3 / 6) + math.log2(1 / 6)) / 2
    )
