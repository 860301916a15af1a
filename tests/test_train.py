"""The fitting recipes' own logic that needs no data set: the reader's training targets on news pages, its
balanced epochs and its start from a trained reader, the second stage's held-out figures."""

from __future__ import annotations

import numpy as np

from qa.pipeline import QA
from qa.text import normalize
from qa.types import Chunk
from tests.helpers import G8_2013, G20_2012
from train.gate import news_restrictions
from train.reader_data import _gold, _holds, _positions
from train.rerank import held_out


def chunk(article: str, start: int, text: str) -> Chunk:
    return Chunk(article=article, start=start, end=start + len(text), text=text)


def test_a_news_answer_is_gold_only_where_it_is_not_run_into_a_letter_or_digit() -> None:
    page = "In 2017 the council had 7 members. Japanese firms left Japan."
    q = {"answers": ["7", "Japan"], "source_articles": ["a.txt"]}
    gold = _gold("realtimeqa-dev", q, {"a.txt": page})
    assert gold == {"a.txt": [(page.index(" 7 ") + 1, page.index(" 7 ") + 2), (page.rindex("Japan"), len(page) - 1)]}


def test_a_news_passage_holds_the_gold_answers_inside_it_and_only_its_own_articles() -> None:
    page = "Talks ended. The leaders met for two hours on Monday."
    q = {"answers": ["two hours"], "source_articles": ["a.txt"]}
    gold = _gold("realtimeqa-dev", q, {"a.txt": page})
    inside, before = chunk("a.txt", 13, page[13:]), chunk("a.txt", 0, page[:13])
    other = chunk("b.txt", 13, page[13:])  # the same offsets in another article hold nothing
    assert _holds(inside, gold) and not _holds(before, gold) and not _holds(other, gold)
    assert _positions("realtimeqa-dev", q, inside, gold) == gold["a.txt"]
    assert _positions("realtimeqa-dev", q, other, gold) == []


def test_an_epoch_draws_at_most_per_set_examples_of_each_set_and_a_new_draw_each_epoch() -> None:
    import numpy as np

    from train.reader import epoch_examples, set_caps

    of_set = np.array([0] * 90 + [1] * 10, dtype=np.int8)
    examples = np.arange(100)
    names = ["squad-dev16", "realtimeqa-dev"]
    assert sorted(epoch_examples(examples, of_set, set_caps("", names), 0)) == list(range(100))  # every one, shuffled
    first, second = (epoch_examples(examples, of_set, set_caps("10", names), epoch) for epoch in (0, 1))
    for drawn in (first, second):
        assert len(drawn) == 20 and len(set(drawn.tolist())) == 20
        assert (of_set[drawn] == 0).sum() == 10 and set(drawn[of_set[drawn] == 1].tolist()) == set(range(90, 100))
    assert set(first.tolist()) != set(second.tolist())
    # a cap for one set by name, the others' from N: the first set's draw is the one N alone makes
    capped = epoch_examples(examples, of_set, set_caps("10,realtimeqa-dev=4", names), 0)
    assert (of_set[capped] == 1).sum() == 4 and set(capped[of_set[capped] == 0].tolist()) == set(
        first[of_set[first] == 0].tolist()
    )


def test_a_per_set_cap_naming_no_set_of_the_data_is_refused_with_the_sets_it_has() -> None:
    import pytest

    from train.reader import set_caps

    assert set_caps("300,realtimeqa-dev=600", ["squad-dev16", "realtimeqa-dev"]) == {0: 300, 1: 600}
    with pytest.raises(SystemExit, match=r"no set 'news'.*squad-dev16, realtimeqa-dev"):
        set_caps("300,news=600", ["squad-dev16", "realtimeqa-dev"])
    with pytest.raises(SystemExit, match="not a count"):
        set_caps("lots", ["squad-dev16"])


def test_a_reader_trained_further_starts_from_the_shipped_weights_and_names_a_wrong_rank() -> None:
    import numpy as np
    import pytest

    from qa.config import DEFAULT_MODEL
    from qa.embed.base import model_path
    from train.reader import ROOT, build_model, load_trained

    shipped = ROOT / "qa/data/reader.npz"
    model = build_model(model_path(DEFAULT_MODEL), 16)
    seen = load_trained(model, str(shipped))
    with np.load(shipped) as z:
        assert seen == json_info(z)["trained_on"] and seen
        for name, p in model.named_parameters():
            if p.requires_grad:
                key = name.removeprefix("base.").replace(".linear", "")
                assert np.array_equal(p.detach().numpy(), z[key].astype(np.float32)), key
    with pytest.raises(SystemExit, match="pass the --rank it was trained with"):
        load_trained(build_model(model_path(DEFAULT_MODEL), 8), str(shipped))


def json_info(z: object) -> dict:
    import json

    return json.loads(str(z["info"]))  # type: ignore[index]


def test_training_further_on_one_half_reports_only_the_asked_sets_held_out_and_keeps_the_inits_articles_and_stamp(
    tmp_path: object,
) -> None:
    import argparse
    import json
    from pathlib import Path

    import numpy as np

    from qa.answer.reader import pair_tokenizer
    from qa.config import DEFAULT_MODEL
    from qa.embed.base import model_path
    from train.reader import ROOT, train
    from train.reader_data import _padded

    tok = pair_tokenizer()
    question, passage = "Who met Putin?", "Obama met Putin in Mexico. They talked for two hours."
    enc = tok.encode_batch([(question, passage)] * 2)
    pairs = enumerate(zip(enc[0].sequence_ids, enc[0].offsets, strict=True))
    obama = next(t for t, (sid, (a, _)) in pairs if sid == 1 and a == 0)  # the passage's first token
    ids = np.array([[_padded(x.ids) for x in enc]] * 4, dtype=np.uint16)  # 4 examples of 2 passages
    data = Path(str(tmp_path)) / "data.npz"
    np.savez_compressed(
        data,
        ids=ids,
        question=np.arange(4, dtype=np.int32),
        article=np.array([0, 1, 2, 3], dtype=np.int32),
        none=np.array([False, True, False, False]),
        kind=np.array([0, 1, 0, 0], dtype=np.int8),
        fold=np.array([0, 0, 1, 1], dtype=np.int8),
        set=np.array([1, 1, 0, 1], dtype=np.int8),
        sets=np.array(["squad-dev16", "realtimeqa-dev"]),
        targets=np.array([(e, 0, obama, obama) for e in (0, 2, 3)], dtype=np.int32),
        articles=np.array(["n0.html", "n1.html", "s2.txt", "n3.html"]),
        data=np.array(json.dumps({"realtimeqa-dev": "test"})),
    )
    out = Path(str(tmp_path)) / "reader.npz"
    args = argparse.Namespace(
        data=data, fold=1, device="cpu", limit=0, model=model_path(DEFAULT_MODEL), rank=16, lr=1e-4, batch=2,
        epochs=1, init=str(ROOT / "qa/data/reader.npz"), per_set="1", held_sets="realtimeqa-dev", out=str(out),
    )  # fmt: skip
    train(args)
    with np.load(out) as z:
        info, stamp = json.loads(str(z["info"])), json.loads(str(z["stamp"]))
    with np.load(ROOT / "qa/data/reader.npz") as z:
        shipped = set(json.loads(str(z["info"]))["trained_on"])
        assert stamp["init_stamp"] == json.loads(str(z["stamp"]))  # what made the reader it started from
    assert {"n0.html", "n1.html"} <= set(info["trained_on"]) and shipped <= set(info["trained_on"])
    assert "n3.html" not in info["trained_on"] and "s2.txt" not in info["trained_on"]  # held out, never trained
    assert info["init"].endswith("reader.npz") and info["per_set"] == "1" and info["held_fold"] == 1
    assert set(stamp["held_out"]) == {"realtimeqa-dev_span_hit", "realtimeqa-dev_none_auc", "realtimeqa-dev_near_auc"}


def test_fold_readers_of_both_halves_are_found_before_either_is_loaded_and_a_missing_half_names_its_run(
    tmp_path: object,
) -> None:
    import json
    from pathlib import Path

    import numpy as np
    import pytest

    from train.common import half_readers

    results = Path(str(tmp_path))
    # weightless files: loading either as a reader would fail with a traceback, not the one-line error
    np.savez(results / "reader_fold1.npz", info=np.array(json.dumps({"held_fold": 1})))
    np.savez(results / "reader_fold9.npz", info=np.array(json.dumps({"held_fold": -1})))  # holds no half out
    with pytest.raises(
        SystemExit,
        match=r"^error: no fold reader holding half 0 out: run `python -m train\.reader train --fold 0` first$",
    ):
        half_readers(results)
    (results / "reader_fold1.npz").unlink()
    with pytest.raises(SystemExit, match=r"half 0 or 1 out: run `.*--fold 0` and `.*--fold 1` first"):
        half_readers(results)


def test_a_news_question_made_unanswerable_searches_without_every_passage_holding_its_answer_or_without_its_sources(
    seed_qa: QA,
) -> None:
    q = {"question": "How long did the meeting last?", "answers": ["two hours"], "source_articles": [G8_2013]}
    deleted, away, stale = news_restrictions(seed_qa)(q)
    assert stale is None  # no day asked, no period said relative to it
    chunks = seed_qa.index.chunks
    assert 0 < len(deleted) < len(chunks) and 0 < len(away) < len(chunks)
    assert not [r for r in deleted if " two hours " in f" {normalize(chunks[r].text)} "]
    assert [r for r in range(len(chunks)) if r not in set(deleted)]  # some passage held it and was left out
    assert {chunks[r].article for r in away} == {a for a in seed_qa.index.articles if a != G8_2013}
    # the search restricted to those rows finds none of the left-out passages
    found = seed_qa.retriever.search("How long did the meeting last?", rows=away)
    assert found.passages and all(p.chunk.article != G8_2013 for p in found.passages)


def test_a_news_question_about_this_week_made_stale_searches_other_weeks_news_without_its_answer(seed_qa: QA) -> None:
    """The stale kind: a question saying a period relative to the day asked, asked of the index without the articles
    of that period and the month before the day asked, and without every passage holding its answer."""
    restrict = news_restrictions(seed_qa)
    q = {"question": "How long did this week's meeting last?", "answers": ["two hours"], "source_articles": [G8_2013]}
    chunks = seed_qa.index.chunks
    for asked, gone in (
        ("2013-06-20", {G8_2013}),
        ("2013-07-20", {G8_2013}),
        ("2013-08-10", set()),
        ("2012-06-21", {G20_2012}),
    ):
        deleted, _, stale = restrict({**q, "asked_at": asked})
        assert stale is not None and set(stale) <= set(deleted)  # the answer's passages are out either way
        assert {chunks[r].article for r in stale} == set(seed_qa.index.articles) - gone, asked
    _, _, named = restrict({**q, "question": "How long did the 2013 meeting last?", "asked_at": "2013-06-20"})
    assert named is None  # a year names the event, not the day asked


def test_held_out_second_stage_figures_rank_each_question_by_the_weights_of_the_half_that_left_it_out() -> None:
    # a question of each half whose hit only the other half's weights put first
    rows = [
        {"fold": 0, "feats": np.array([[0.0, 1.0], [1.0, 0.0]]), "hits": np.array([False, True])},
        {"fold": 1, "feats": np.array([[1.0, 0.0], [0.0, 1.0]]), "hits": np.array([False, True])},
    ]
    right = {0: np.array([1.0, 0.0]), 1: np.array([0.0, 1.0])}  # fold f's weights: fitted without fold f
    wrong = {0: right[1], 1: right[0]}
    assert held_out({"news": rows}, right)["news"]["hit@1"] == 1.0
    assert held_out({"news": rows}, wrong)["news"]["hit@1"] == 0.0


def test_the_gate_is_fitted_so_that_its_refusals_and_the_vetoes_together_refuse_at_most_the_share_asked() -> None:
    from train.gate import fit, score

    rng = np.random.default_rng(3)
    xs = [[rng.normal(1.0 if n % 2 == 0 else -1.0), rng.normal()] for n in range(400)]
    rows = []
    for name in ("squad-dev16", "realtimeqa-dev"):  # the same questions in both (the bias suits the harder set)
        for n, x in enumerate(xs):
            answerable = n % 2 == 0
            # a twentieth of the answerable questions is vetoed (a name unheld), and a tenth of the others
            vetoed = (n % 40 == 0) or (not answerable and n % 10 == 1)
            rows.append({"set": name, "kind": "deleted" if name == "realtimeqa-dev" else "near", "fold": 0,
                         "answerable": answerable, "x": x, "vetoed": vetoed})  # fmt: skip
    w, b = fit(rows, 0.08)
    alone_w, alone_b = fit(rows, 0.08, gate_alone=True)
    for kind in ("squad-dev16 near", "realtimeqa-dev deleted"):
        asked, alone = score(rows, w, b)[kind], score(rows, alone_w, alone_b)[kind]
        assert 0.06 <= asked["answerable_refused"] <= 0.08  # 5% by the vetoes, the gate the rest
        assert alone["answerable_refused"] > 0.09  # 8% by the gate, and the vetoes' 5% on top of some of them
        assert asked["recall"] < alone["recall"]  # refusing fewer answerable questions catches fewer of the others
    # rows dumped before the vetoes were recorded: the gate alone refuses the share asked
    old = [{k: v for k, v in r.items() if k != "vetoed"} for r in rows]
    w0, b0 = fit(old, 0.08)
    x = np.array([r["x"] for r in old if r["answerable"] and r["set"] == "realtimeqa-dev"])
    assert abs(float(((x @ w0 + b0) < 0).mean()) - 0.08) <= 0.01
