"""Reading articles: every format, metadata, web leftovers, and bad input that is skipped, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import ArticlesError
from qa.ingest.chunk import chunk_article
from qa.ingest.read import read_file
from qa.ingest.scan import list_files
from tests.helpers import SEED_LEFTOVERS, SEEDS, write


def read_one(path: Path, folder: Path):  # type: ignore[no-untyped-def]
    got = read_file(path.relative_to(folder).as_posix(), path)
    assert not got.problems, got.problems
    assert len(got.articles) == 1
    return got.articles[0]


def test_txt_front_matter_gives_title_date_source_url(tmp_path: Path) -> None:
    p = write(
        tmp_path, "a.txt", '---\ntitle: "Dam opens"\ndate: 2021-03-04\nsource: Daily\nurl: http://x/y\n---\nBody one.\n'
    )
    a = read_one(p, tmp_path)
    assert (a.id, a.title, a.date, a.source, a.url, a.text) == (
        "a.txt",
        "Dam opens",
        "2021-03-04",
        "Daily",
        "http://x/y",
        "Body one.",
    )


def test_txt_without_front_matter_takes_first_nonempty_line_as_title(tmp_path: Path) -> None:
    a = read_one(write(tmp_path, "sub/b.txt", "\n\nCity Council Votes\n\nThe council voted on Monday.\n"), tmp_path)
    assert a.id == "sub/b.txt"
    assert a.title == "City Council Votes"
    assert a.date is None
    assert a.text.startswith("City Council Votes")


def test_markdown_title_drops_heading_marks(tmp_path: Path) -> None:
    a = read_one(write(tmp_path, "c.md", "# Storm Hits Coast\n\nWinds reached 120 km/h.\n"), tmp_path)
    assert a.title == "Storm Hits Coast"


def test_html_main_text_and_metadata_are_extracted(tmp_path: Path) -> None:
    html = """<html><head><title>Bridge Reopens After Repairs</title>
    <meta property="og:site_name" content="Valley Times"><meta name="date" content="2019-05-02"></head>
    <body><nav><a href="/">Home</a> | <a href="/sport">Sport</a></nav>
    <article><h1>Bridge Reopens After Repairs</h1>
    <p>The Old Mill bridge reopened on Thursday after eight months of repairs costing 4.2 million dollars.</p>
    <p>Engineers replaced the steel deck and strengthened the piers, the county said in a statement.</p>
    <p>Traffic is expected to return to normal levels within a week, officials added on Friday.</p></article>
    <footer>Copyright 2019 Valley Times</footer></body></html>"""
    a = read_one(write(tmp_path, "d.html", html), tmp_path)
    assert a.title == "Bridge Reopens After Repairs"
    assert a.date == "2019-05-02"
    assert a.source == "Valley Times"
    assert "eight months of repairs" in a.text and "strengthened the piers" in a.text
    assert "Sport" not in a.text
    assert "\n\nEngineers replaced" in a.text  # paragraphs stay paragraphs


def test_jsonl_gives_one_article_per_line_with_id_or_line_number(tmp_path: Path) -> None:
    lines = [
        {"id": "x1", "text": "First story text.", "title": "First", "date": "2020-01-02", "source": "Wire"},
        {"text": "Second story\n\nwith a body."},
    ]
    p = write(tmp_path, "feed.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    got = read_file("feed.jsonl", p)
    assert not got.problems
    assert [(a.id, a.title, a.date, a.source) for a in got.articles] == [
        ("feed.jsonl#x1", "First", "2020-01-02", "Wire"),
        ("feed.jsonl#2", "Second story", None, None),
    ]


def test_bad_files_and_lines_are_skipped_with_a_warning_naming_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", "Good Title\n\nGood text.")
    write(tmp_path, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    write(tmp_path, "latin1.txt", "Caf\xe9 news".encode("latin-1"))
    write(tmp_path, "empty.md", "   \n\n")
    write(tmp_path, "frontonly.txt", "---\ntitle: Nothing\n---\n")
    write(tmp_path, "badyaml.txt", "---\ntitle: [unclosed\n---\nText.")
    write(tmp_path, "mixed.jsonl", '{"text": "ok one"}\n{not json\n["list"]\n{"text": "ok two"}\n')
    write(tmp_path, "notes.pdf", b"%PDF-1.4")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nowhere.txt")  # unreadable: a dangling link

    files, problems = list_files(tmp_path)
    articles = []
    for rel, path in files:
        got = read_file(rel, path)
        articles += got.articles
        problems += got.problems
    assert sorted(a.id for a in articles) == ["good.txt", "mixed.jsonl#1", "mixed.jsonl#4"]
    messages = {str(p).split(":")[0] + (f":{p.line}" if p.line else ""): str(p) for p in problems}
    assert set(messages) == {
        "binary.txt",
        "latin1.txt",
        "empty.md",
        "frontonly.txt",
        "badyaml.txt",
        "mixed.jsonl:2",
        "mixed.jsonl:3",
        "notes.pdf",
        "gone.txt",
    }
    assert "binary" in messages["binary.txt"]
    assert "UTF-8" in messages["latin1.txt"]
    assert "empty" in messages["empty.md"]
    assert "malformed JSON" in messages["mixed.jsonl:2"]
    assert "cannot read" in messages["gone.txt"]
    assert all("\n" not in m for m in messages.values())


def test_missing_or_empty_folder_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ArticlesError, match=r"does not exist.*--articles"):
        list_files(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArticlesError, match="no articles in"):
        list_files(tmp_path / "empty")


def test_seed_web_leftovers_are_never_chunked_but_stay_in_the_text() -> None:
    chunks, texts = [], ""
    for path in sorted(SEEDS.glob("*.txt")):
        article = read_one(path, SEEDS)
        texts += article.text
        chunks += chunk_article(article, 1000, 200)
    for leftover in SEED_LEFTOVERS:
        assert leftover in texts  # offsets stay true to the source...
        assert not any(leftover in c.text for c in chunks), leftover  # ...but nothing retrievable holds it
    assert any("stretched two hours Monday" in c.text for c in chunks)
    assert any("Camp David presidential retreat" in c.text for c in chunks)


def test_seeds_carry_their_dates_and_sources() -> None:
    got = {p.name: read_one(p, SEEDS) for p in SEEDS.glob("*.txt")}
    assert {(a.date, a.source) for a in got.values()} == {
        ("2012-06-18", "Bloomberg News"),
        ("2013-06-17", "U.S. News & World Report"),
    }


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("Council Votes\n\nPublished 3:04 PM EDT, Mon June 17, 2013\n\nThe council voted.", "2013-06-17"),
        ("Council Votes\n\n17 Jun 2013\n\nThe council voted.", "2013-06-17"),
        ("Council Votes\n\nUpdated: 2013-06-17\n\nThe council voted.", "2013-06-17"),
        ("Council Votes\n\nThe mayor spoke in Enniskillen on June 17, 2013, after the vote.", "2013-06-17"),
    ],
)
def test_an_article_without_a_date_takes_one_its_top_lines_state_marked_inferred(
    tmp_path: Path, text: str, date: str
) -> None:
    a = read_one(write(tmp_path, "a.txt", text), tmp_path)
    assert (a.date, a.date_inferred) == (date, True)


@pytest.mark.parametrize(
    "text",
    [
        "Nikola Tesla\n\nNikola Tesla (10 July 1856 - 7 January 1943) was an inventor.",  # a life, not a dateline
        "Council Votes\n\nThe council voted on Monday to build a bridge, the mayor said.",
        "Council Votes\n\n" + "The council voted. " * 30 + "It was built on June 17, 2013.",  # too far down
    ],
)
def test_dates_that_are_not_the_articles_are_not_inferred(tmp_path: Path, text: str) -> None:
    a = read_one(write(tmp_path, "a.txt", text), tmp_path)
    assert (a.date, a.date_inferred) == (None, False)


def test_a_given_date_is_never_replaced_by_one_in_the_text(tmp_path: Path) -> None:
    a = read_one(write(tmp_path, "a.txt", "---\ndate: 2021-03-04\n---\nVotes\n\nPublished June 17, 2013\n"), tmp_path)
    assert (a.date, a.date_inferred) == ("2021-03-04", False)


def test_the_folder_scan_survives_what_a_folder_can_hold(tmp_path: Path) -> None:
    import socket

    folder = tmp_path / "articles"
    write(folder, "a.txt", "A\n\nThe first article.")
    write(folder, "sub/b.md", "B\n\nThe second article.")
    outside = write(tmp_path, "outside.txt", "Outside\n\nAn article out of the folder.")
    (folder / "self").symlink_to(".")  # a loop
    (folder / "sublink").symlink_to("sub")  # a link to a folder inside
    (folder / "out.txt").symlink_to(outside)  # a link out of the folder
    (folder / "alias.txt").symlink_to("a.txt")  # a link to a file inside: read
    (folder / "nowhere.pdf").symlink_to("missing.pdf")  # a dangling link, not an article
    (folder / "loop1.md").symlink_to("loop2.md")
    (folder / "loop2.md").symlink_to("loop1.md")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.txt"))
    try:
        files, problems = list_files(folder)
        follow, _ = list_files(folder, follow_links=True)
    finally:
        sock.close()
    assert [rel for rel, _ in files] == ["a.txt", "alias.txt", "loop1.md", "loop2.md", "sub/b.md"]
    why = {p.path: p.message for p in problems}
    assert "a link out of the articles folder" in why["out.txt"] and "--follow-links" in why["out.txt"]
    assert "read under its own name" in why["self"] and "read under its own name" in why["sublink"]
    assert "a link to nothing" in why["nowhere.pdf"] and "not a regular file" in why["sock.txt"]
    assert "out.txt" in [rel for rel, _ in follow]
    # the looping links are articles that cannot be read: the build says so, one line each, and reads the rest
    read = [read_file(rel, path) for rel, path in files]
    assert [r.problems[0].message.split(" (")[0] for r in read if r.problems] == ["cannot read file"] * 2


def test_an_unreadable_folder_is_one_warning_and_the_rest_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    folder = tmp_path / "articles"
    write(folder, "a.txt", "A\n\nThe first article.")
    write(folder, "locked/b.txt", "B\n\nUnreachable.")
    real = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        # as root (CI) permissions do not stop a read: the refusal a locked folder gives is made here
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    files, problems = list_files(folder)
    assert [rel for rel, _ in files] == ["a.txt"]
    assert [str(p) for p in problems] == ["locked: cannot read this folder (Permission denied): check its permissions"]
