"""Translation: the generated date and reversal tasks, the encoder-decoder with and without
attention, greedy and beam decoding against brute force, and the experiment end to end."""

import datetime
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from dateutil import parser as date_parser

from experiments import translation
from experiments.configs import dates as dates_config
from nets.data import translation as data
from nets.data.text import PAD
from nets.models import get_model
from nets.models.decoding import beam_search, greedy_decode
from nets.models.seq2seq import EncoderDecoder
from nets.rnn import make_cell

V = len(data.SEQUENCE_CHARACTERS)


def test_every_written_date_names_its_iso_date_and_test_days_are_unseen():
    orders = set()
    for source, order, target in data.written_dates("train", 600):  # an independent parser agrees
        orders.add(order)
        year_first = source[:4].isdigit()  # 2018/05/09, 20180509, ISO: the month follows
        read = date_parser.parse(source, dayfirst=order == "dmy" and not year_first, fuzzy=True)
        read = read.date()
        day = datetime.date.fromisoformat(target)
        assert (read.month, read.day) == (day.month, day.day), source
        # dateutil puts a two-digit year within 50 years of today, Python's %y in 1969-2068
        assert (
            read.year == day.year if str(day.year) in source else read.year % 100 == day.year % 100
        )
    assert orders == {"dmy", "mdy"}
    train_days = {t for _, t in data.date_pairs("train")}
    test_days = {t for _, t in data.date_pairs("test")}
    assert not train_days & test_days
    assert len(data._days("test")) == round(0.1 * len(data._days("test") + data._days("train")))


def test_the_order_option_decides_an_ambiguous_day_and_month():
    day = datetime.date(2018, 9, 5)  # 5 September: 5/9/18 day first, 9/5/18 month first
    written = {order: [f(day, order) for f in data.DATE_FORMATS] for order in data.ORDERS}
    assert "5/9/18" in written["dmy"] and "9/5/18" in written["mdy"]
    assert "05/09/2018" in written["dmy"] and "09/05/2018" in written["mdy"]
    assert "2018-09-05" in written["dmy"] and "2018-09-05" in written["mdy"]  # ISO in both
    # formats that name the month in words, or lead with the year, do not depend on the order
    same = [a == b for a, b in zip(written["dmy"], written["mdy"], strict=True)]
    assert sum(same) == len(data.DATE_FORMATS) - 3
    for order, mark in data.ORDER_MARKS.items():
        assert data.date_source("5/9/18", order) == mark + "5/9/18"
        assert data.SEQUENCE_CHARACTERS.encode(mark)[0] not in (data.START_ID, data.END_ID)
    with pytest.raises(ValueError, match="order"):
        data.date_source("5/9/18", "ymd")


def test_arrays_shift_the_targets_behind_start_and_mask_after_end():
    arrays = data.translation_arrays([("9/5/18", "2018-05-09"), ("1", "1")], max_source=8)
    ids = data.SEQUENCE_CHARACTERS.ids
    assert arrays["lengths"].tolist() == [6, 1]
    np.testing.assert_array_equal(
        arrays["targets"][1], [ids["1"], data.END_ID] + [0] * 9
    )  # padded to the longest target + END
    np.testing.assert_array_equal(
        arrays["inputs"]["decoder_inputs"][1, :2], [data.START_ID, ids["1"]]
    )
    assert (arrays["inputs"]["decoder_inputs"] != data.END_ID).all()
    np.testing.assert_array_equal(
        arrays["inputs"]["decoder_inputs"][0, 1:], arrays["targets"][0, :-1]
    )
    assert arrays["mask"].sum(axis=1).tolist() == [11, 2]
    assert data.decode_targets(arrays["targets"]) == ["2018-05-09", "1"]
    reversal = data.reversal_pairs("test", 5, 50)
    assert all(t == s[::-1] and 1 <= len(s) <= 5 for s, t in reversal)


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([("x" * 9, "1")], "reads at most 8"),
        ([("9 May", "é")], "outside the vocabulary"),
        ([("9 May" + data.END, "1")], "outside the vocabulary"),
    ],
)
def test_bad_pairs_are_refused(pairs, message):
    with pytest.raises(ValueError, match=message):
        data.translation_arrays(pairs, max_source=8)


def tiny_model(attention: bool, vocabulary: int = V, hidden: int = 6):
    return EncoderDecoder(
        make_cell("lstm", hidden), vocabulary, vocabulary, 4, 5 if attention else 0
    )


@pytest.fixture(scope="module")
def batch():
    return data.translation_arrays(data.date_pairs("test", 4), data.MAX_DATE_SOURCE)


@pytest.mark.parametrize("attention", [False, True])
def test_padding_and_token_by_token_decoding_change_nothing(batch, attention):
    model = tiny_model(attention)
    apply = jax.jit(model.apply, static_argnames="method")  # each call compiled whole
    variables = jax.jit(model.init)(jax.random.key(0), batch["inputs"], batch["lengths"])
    logits = apply(variables, batch["inputs"], batch["lengths"])
    # the first source alone, unpadded, gives the same outputs
    n = int(batch["lengths"][0])
    alone = {key: value[:1] for key, value in batch["inputs"].items()}
    alone["source"] = alone["source"][:, :n]
    np.testing.assert_allclose(apply(variables, alone)[0], logits[0], atol=1e-5)
    # one token at a time, the carry passed on, equals the teacher-forced pass
    source, lengths = batch["inputs"]["source"], batch["lengths"]
    memory, carry = apply(variables, source, lengths, method="encode")
    tokens = batch["inputs"]["decoder_inputs"]
    for t in range(3):
        carry, step, weights = apply(
            variables, memory, carry, tokens[:, t : t + 1], method="decode"
        )
        np.testing.assert_allclose(step[:, 0], logits[:, t], atol=1e-5)
    if attention:  # a distribution over each source's real characters
        valid = np.arange(weights.shape[-1]) < batch["lengths"][:, None]
        np.testing.assert_allclose(weights[:, 0].sum(-1), 1, rtol=1e-6)
        assert (weights[:, 0][~valid] == 0).all()
    else:
        assert (weights == 0).all()


def peaked(variables, scale=4.0):
    """Parameters scaled up: distinct, peaked next-token distributions (no near-ties)."""
    return jax.tree.map(lambda p: scale * p, variables)


def test_a_wide_beam_finds_the_best_sequence_of_an_exhaustive_search():
    vocabulary, start, end, length = 4, 2, 3, 3
    model = tiny_model(True, vocabulary, 4)
    source, lengths = jnp.array([[1, 2, 3, 1]]), jnp.array([4])
    inputs = {"source": source, "decoder_inputs": source[:, :length]}
    variables = peaked(jax.jit(model.init)(jax.random.key(1), inputs))
    # every hypothesis: a prefix ending in END (then padding), or one of `length` tokens
    outputs = [
        o for o in itertools.product(range(vocabulary), repeat=length)
        if end not in o or not any(o[o.index(end) + 1 :])
    ]  # fmt: skip
    outputs = np.array(outputs)
    count = len(outputs)
    n = np.array([list(o).index(end) + 1 if end in o else length for o in outputs])
    # log p(y | x) by teacher forcing: the sum over its n tokens
    teacher = np.concatenate([np.full((count, 1), start), outputs[:, :-1]], axis=1)
    batch = {"source": jnp.repeat(source, count, 0), "decoder_inputs": teacher}
    log_probs = jax.nn.log_softmax(
        jax.jit(model.apply)(variables, batch, jnp.repeat(lengths, count))
    )
    picked = np.take_along_axis(np.asarray(log_probs), outputs[..., None], -1)[..., 0]
    log_p = np.where(np.arange(length) < n[:, None], picked, 0).sum(axis=1)
    for alpha in (0.0, 1.0):
        normalised = log_p / n**alpha
        tokens, score = beam_search(
            model, variables, source, lengths, max_length=length, start=start, end=end, pad=0,
            beam_width=vocabulary**length, alpha=alpha,
        )  # fmt: skip
        assert tokens[0].tolist() == outputs[np.argmax(normalised)].tolist()
        np.testing.assert_allclose(score[0], normalised.max(), rtol=1e-5)


def test_greedy_takes_each_most_likely_token_stops_at_end_and_equals_a_beam_of_one(batch):
    model = tiny_model(True)
    variables = peaked(jax.jit(model.init)(jax.random.key(2), batch["inputs"], batch["lengths"]))
    source, lengths = batch["inputs"]["source"], batch["lengths"]
    kwargs = dict(max_length=11, start=data.START_ID, end=data.END_ID)
    greedy = np.asarray(greedy_decode(model, variables, source, lengths, **kwargs, pad=PAD))
    beam, _ = beam_search(model, variables, source, lengths, beam_width=1, **kwargs, pad=PAD)
    np.testing.assert_array_equal(greedy, beam)
    inputs = {
        "source": source,
        "decoder_inputs": np.concatenate([np.full((4, 1), 2), greedy[:, :-1]], 1),
    }
    chosen = np.argmax(jax.jit(model.apply)(variables, inputs, lengths), -1)
    for row, out in zip(chosen, greedy, strict=True):
        n = list(out).index(data.END_ID) + 1 if data.END_ID in out else 11
        np.testing.assert_array_equal(out[:n], row[:n])
        assert (out[n:] == PAD).all()
    # with row 0's third token as the end, row 0 stops there: the padding id given fills the
    # rest, by greedy and beam search alike
    kwargs["end"] = int(greedy[0, 2])
    for pad in (PAD, 7):
        ended = np.asarray(greedy_decode(model, variables, source, lengths, **kwargs, pad=pad))
        beam, _ = beam_search(model, variables, source, lengths, beam_width=1, **kwargs, pad=pad)
        np.testing.assert_array_equal(ended[0], [*greedy[0, :3], *[pad] * 8])
        np.testing.assert_array_equal(beam, ended)


def test_decoding_refuses_bad_arguments(batch):
    model = tiny_model(False)
    source, lengths = batch["inputs"]["source"], batch["lengths"]
    variables = jax.jit(model.init)(jax.random.key(0), batch["inputs"])
    with pytest.raises(ValueError, match="beam_width must be a positive integer"):
        beam_search(
            model, variables, source, lengths, max_length=3, start=2, end=3, pad=0, beam_width=0
        )
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        greedy_decode(model, variables, source, lengths, max_length=0, start=2, end=3, pad=0)
    with pytest.raises(ValueError, match=r"source must be \[batch, S\]"):
        greedy_decode(model, variables, source[0], lengths, max_length=3, start=2, end=3, pad=0)
    with pytest.raises(ValueError, match="reads inputs"):
        model.apply(variables, source)
    with pytest.raises(ValueError, match="takes no option 'attention'"):
        get_model("encoder_decoder", V, num_tokens=V, attention=True)


@pytest.mark.slow
def test_translation_experiment_writes_both_tasks_and_the_figures(tmp_path):
    results = translation.run(dates_config.get_config("tiny"), str(tmp_path))
    assert list(results["models"]) == ["attention"]  # the tiny profile trains one model
    for name in results["models"]:
        dates, reversal = results["models"][name]["dates"], results["models"][name]["reversal/4"]
        assert 0 <= dates["greedy"] <= 1 and 0 <= dates["beam"] <= 1
        counts = np.unique(data.translation_arrays(data.reversal_pairs("test", 4), 4, 4)["lengths"])
        assert sorted(map(int, reversal["by_length"])) == counts.tolist()
    (example, _) = results["attention_examples"]
    weights = np.array(example["weights"])  # its output's steps (and END) by source characters
    assert weights.shape == (min(len(example["output"]) + 1, 11), len(example["source"]))
    np.testing.assert_allclose(weights.sum(1), 1, rtol=1e-5)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["anchors"] == translation.ANCHORS
    for figure in ("accuracy_vs_length.png", "attention.png"):
        assert (tmp_path / figure).stat().st_size > 10_000
