"""The reader: the packaged MiniLM with the shipped trained updates, exported to ONNX, reading seed passages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.answer.answerer import Answerer
from qa.answer.reader import INT8_FILE, MAX_ANSWER, Reader, best_span, best_spans, reader_export, shared_reader
from qa.config import Settings, default_cache_dir
from qa.embed.embedder import Embedder
from qa.index.build import build
from qa.index.store import Index
from qa.search.retrieve import Retriever

MEXICO = (
    "Obama and Putin met on the sidelines of the G20 summit in Los Cabos, Mexico, on Monday. "
    "The meeting lasted two hours, longer than scheduled, and the two leaders discussed Syria and Iran."
)
OIL = "The 1973 oil crisis began in October 1973 when the members of OAPEC proclaimed an oil embargo."


def test_best_span_keeps_to_allowed_tokens_and_the_longest_answer() -> None:
    start = np.array([0.0, 5.0, 0.0, 0.0, 3.0])
    end = np.array([0.0, 0.0, 4.0, 0.0, 6.0])
    # tokens 1..4 would score 11, but token 3 is not allowed: the best is 1..2 or 4..4 (both 9)
    score, a, b = best_span(start, end, np.array([True, True, True, False, True]))
    assert score == 9.0 and (a, b) in {(1, 2), (4, 4)}
    assert best_span(start, end, np.ones(5, dtype=bool)) == (11.0, 1, 4)
    long_start = np.zeros(MAX_ANSWER + 10)
    long_end = np.zeros(MAX_ANSWER + 10)
    long_start[0], long_end[-1] = 10.0, 10.0  # a span longer than MAX_ANSWER tokens is never chosen
    assert best_span(long_start, long_end, np.ones(len(long_start), dtype=bool))[0] == 10.0
    assert best_span(start, end, np.zeros(5, dtype=bool))[0] == -np.inf


def every_span_best(start: np.ndarray, end: np.ndarray, allowed: np.ndarray) -> tuple[float, int, int]:
    """The best span by looking at each one: shortest first, then the first, a tie never replacing it."""
    best: tuple[float, int, int] = (-np.inf, 0, 0)
    for length in range(1, MAX_ANSWER + 1):
        for i in range(len(start) - length + 1):
            if allowed[i : i + length].all() and float(start[i] + end[i + length - 1]) > best[0]:
                best = (float(start[i] + end[i + length - 1]), i, i + length - 1)
    return best


def test_best_span_is_the_span_a_look_at_every_span_finds_ties_going_to_the_shortest_then_the_first() -> None:
    rng = np.random.default_rng(0)
    for case in range(400):
        n = int(rng.integers(0, 2 * MAX_ANSWER))
        start, end = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
        if case % 2:  # whole logits: many spans tie
            start, end = np.round(start), np.round(end)
        allowed = rng.random(n) > (0.3 if case % 3 else 0.0)
        assert best_span(start, end, allowed) == every_span_best(start, end, allowed)


def test_the_k_best_spans_are_those_a_look_at_every_span_ranks_first_the_first_being_the_best_span() -> None:
    rng = np.random.default_rng(1)
    for case in range(200):
        n = int(rng.integers(0, 2 * MAX_ANSWER))
        start, end = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
        if case % 2:
            start, end = np.round(start), np.round(end)
        allowed = rng.random(n) > (0.3 if case % 3 else 0.0)
        every = sorted(
            (-float(start[i] + end[j]), j - i, i)
            for i in range(n)
            for j in range(i, min(n, i + MAX_ANSWER))
            if allowed[i : j + 1].all()
        )  # best first; a tie: the shortest, then the first
        k = int(rng.integers(1, 20))
        assert best_spans(start, end, allowed, k) == [(-s, i, i + d) for s, d, i in every[:k]]
        if every:
            assert best_spans(start, end, allowed, k)[0] == best_span(start, end, allowed)


def test_reader_reads_the_answer_and_its_scores_compare_across_passages() -> None:
    reader = shared_reader()
    readings = reader.read("How long did the meeting last?", [OIL, MEXICO])
    (s_oil, _, _), (s_mexico, a, b) = readings[0].span(), readings[1].span()
    assert MEXICO[a:b] in {"two hours", "lasted two hours"}
    assert s_mexico > s_oil  # the passage that answers scores higher than the one that does not
    # a span asked for inside a range of characters stays inside it
    lo = MEXICO.index("The meeting")
    _, a, b = readings[1].span(lo, len(MEXICO))
    assert lo <= a < b <= len(MEXICO)
    _, a, b = readings[1].span(0, lo)
    assert b <= lo and "two hours" not in MEXICO[a:b]
    # an empty passage has no span at all
    assert reader.read("How long did the meeting last?", [""])[0].span()[0] == -np.inf


@pytest.mark.slow  # exports the reader to ONNX in a fresh cache
def test_reader_export_is_cached_and_made_again_after_it_is_removed(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "qa"
    weights = Path(str(shared_reader().weights))
    folder = reader_export(weights, cache)
    assert folder.is_relative_to(cache / "onnx") and (folder / "model.onnx").exists()
    assert reader_export(weights, cache) == folder  # exported once
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no half-written folder left
    other = tmp_path / "reader-copy.npz"
    other.write_bytes(weights.read_bytes() + b"")
    assert reader_export(other, cache) == folder  # the same weights: the same export
    answer = Reader(weights, cache_dir=cache).read("When did the oil crisis begin?", [OIL])[0]
    _, a, b = answer.span()
    assert "October 1973" in OIL[a:b] or OIL[a:b] == "1973"


@pytest.fixture
def index_settings(tmp_path: Path, seeds_dir: Path, embedder: Embedder) -> Settings:
    settings = Settings(index=tmp_path / "index", articles=seeds_dir)
    build(settings, embedder=embedder)
    return settings


def test_answers_take_the_short_answer_from_the_reader_and_can_go_without_it(
    index_settings: Settings, embedder: Embedder
) -> None:
    index = Index.load(index_settings.index)
    with_reader = Answerer(Retriever(index, embedder, index_settings))
    assert index_settings.cache_dir == default_cache_dir()
    assert with_reader.reader is shared_reader() is shared_reader(index_settings.cache_dir)  # one per process
    answer = with_reader.ask("How long did the meeting in Mexico last?")
    assert answer.short in {"two hours", "lasted two hours"}
    assert answer.short in answer.citations[0].quote
    # QA_READER=0: the sentence features and the span model alone, still an exact answer
    off = index_settings.with_(reader=False)
    without = Answerer(Retriever(index, embedder, off))
    assert without.reader is None
    plain = without.ask("How long did the meeting in Mexico last?")
    assert not plain.refused and "two hours" in plain.citations[0].quote
    assert "read" in plain.timings_ms and plain.timings_ms["read"] < 1.0


def test_the_int8_reader_is_the_default_exported_apart_and_reads_the_answers_the_float_reader_reads(
    index_settings: Settings, embedder: Embedder
) -> None:
    weights = Path(str(shared_reader().weights))
    folder = reader_export(weights, default_cache_dir(), int8=True)
    assert folder != reader_export(weights, default_cache_dir())  # the float export is kept as it is
    assert (folder / INT8_FILE).exists() and not (folder / "model.onnx").exists()
    int8 = shared_reader(int8=True)
    assert int8.int8 and int8 is shared_reader() and int8 is not shared_reader(int8=False)
    readings = int8.read("How long did the meeting last?", [OIL, MEXICO])
    (s_oil, _, _), (s_mexico, a, b) = readings[0].span(), readings[1].span()
    assert MEXICO[a:b] in {"two hours", "lasted two hours"} and s_mexico > s_oil
    # by default answers are read by it; QA_READER_INT8=0 reads them with the float export
    index = Index.load(index_settings.index)
    for env, reader in (({}, int8), ({"QA_READER_INT8": "0"}, shared_reader(int8=False))):
        settings = Settings.from_env(env, index=index_settings.index, articles=index_settings.articles)
        answerer = Answerer(Retriever(index, embedder, settings))
        assert answerer.reader is reader
        answer = answerer.ask("How long did the meeting in Mexico last?")
        assert answer.short in {"two hours", "lasted two hours"} and answer.short in answer.citations[0].quote


@pytest.mark.parametrize("int8", [False, True], ids=["float", "int8"])
def test_the_reader_reads_the_best_passage_alone_only_when_it_is_sure_of_it_there(
    index_settings: Settings, embedder: Embedder, int8: bool
) -> None:
    index = Index.load(index_settings.index)
    question = "Who is the U.S. ambassador to Russia?"

    def answerer(sure: float) -> Answerer:
        return Answerer(Retriever(index, embedder, index_settings.with_(read_sure=sure, reader_int8=int8)))

    found = answerer(0.0).retriever.search(question)
    every = answerer(0.0).read(found)  # 0: every passage, in one batch
    assert every is not None and len(every) == index_settings.read_passages == 5
    first = answerer(1e9).read(found)  # never sure: the best passage alone, then the others
    assert first is not None and len(first) == 5
    # No passage sees another: each scores as it does read with any others (in int8 each is its own run, its
    # activations quantised alone: in one batch a passage's scores would move with the others, by up to 2.5)
    for a, b in zip(first, every, strict=True):
        assert np.allclose(a.start, b.start, atol=1e-3) and np.allclose(a.end, b.end, atol=1e-3)
        assert a.span()[1:] == b.span()[1:]
    margin = first[0].margin
    assert margin == first[0].span()[0] - first[0].none
    assert margin > 3.0  # the reader is sure of the best passage here
    alone = answerer(margin - 0.5).read(found)
    assert alone is not None and len(alone) == 1 and np.array_equal(alone[0].start, first[0].start)
    unsure = answerer(margin + 0.5).read(found)
    assert unsure is not None and len(unsure) == 5
    assert all(np.array_equal(a.start, b.start) for a, b in zip(unsure, first, strict=True))
    assert answerer(margin - 0.5).ask(question).short == answerer(0.0).ask(question).short


def test_a_negative_read_sure_is_refused_naming_the_setting() -> None:
    from qa.errors import SettingsError

    with pytest.raises(SettingsError, match=r"read_sure must be 0 or more.*QA_READ_SURE"):
        Settings.from_env({"QA_READ_SURE": "-1"})
    with pytest.raises(SettingsError, match="QA_READ_SURE must be a number"):
        Settings.from_env({"QA_READ_SURE": "sure"})
    assert Settings.from_env({"QA_READ_SURE": "0"}).read_sure == 0.0
