"""The chat app in a real browser: Playwright driving Debian's chromium (apt-get install chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from qa.config import Settings
from qa.embed.embedder import Embedder
from tests.helpers import (
    LONG_QUESTION_SIZES,
    LUNAR,
    SCRIPT,
    ask_in_page,
    cut_notice,
    long_question,
    offsite_requests,
    running_app,
    screenshot,
    write,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_seed_question_then_an_uploaded_article_answered_in_the_browser(
    page: Page, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    with running_app(settings, embedder) as (url, _):
        offsite = offsite_requests(page)
        page.goto(url)
        expect(page.locator("#qa-index-info")).to_contain_text("2 articles")

        ask_in_page(page, "How long did the 2013 meeting between Obama and Putin last?")
        answer = page.locator("#qa-chat .message-row").last
        expect(answer.locator(".qa-cite").first).to_have_text("[1]")
        sources = page.locator("#qa-sources")
        expect(sources.locator(".qa-title").first).to_have_text("Obama, Putin Seek Common Ground on Syria")
        quote = sources.locator("mark.qa-quote").first
        expect(quote).to_be_visible()
        expect(quote).to_contain_text("stretched two hours Monday, longer than had been scheduled")
        expect(quote.locator(".qa-short")).to_have_text("two hours")
        expect(sources).to_contain_text("002_0691e4ad82986c2d.txt")

        page.locator("#qa-passages-panel").get_by_text("Retrieved passages and timings").click()
        expect(page.locator("#qa-passages .qa-timings")).to_contain_text("retrieve")
        expect(page.locator("#qa-passages .qa-retrieved").first).to_be_visible()

        ask_in_page(page, "Who won the 1998 football world cup?")
        refusal = page.locator("#qa-chat .message-row").last.locator(".qa-refusal")
        expect(refusal).to_contain_text("The articles don't say. ")  # as written: no Markdown escapes showing
        expect(sources).to_contain_text("No sources")

        asked_on = page.locator("#qa-as-of textarea, #qa-as-of input").first  # "this week" read against that day
        asked_on.fill("2014-06-20")
        ask_in_page(page, "Where did Obama and Putin meet this week?")
        refusal = page.locator("#qa-chat .message-row").last.locator(".qa-refusal")
        expect(refusal).to_contain_text("None of them was published this week (asked on 2014-06-20)")
        asked_on.fill("")

        with page.expect_file_chooser() as chooser:
            page.locator("#qa-upload").click()
        chooser.value.set_files(str(LUNAR))
        expect(page.locator("#qa-upload-status")).to_contain_text("Indexed lunar.txt: 1 added")
        expect(page.locator("#qa-index-info")).to_contain_text("3 articles")

        ask_in_page(page, "How many tomatoes did the lunar greenhouse harvest?")
        expect(sources.locator(".qa-title").first).to_have_text("Lunar greenhouse harvests first tomatoes")
        expect(sources.locator("mark.qa-quote").first).to_contain_text("harvested its first crop of 42 tomatoes")
        expect(sources.locator(".qa-short").first).to_have_text("42")
        shot = screenshot(page, tmp_path, "chat.png")
        assert shot.stat().st_size > 10_000

        page.locator("#qa-clear").click()
        expect(page.locator("#qa-chat .message-row")).to_have_count(0)
        expect(sources.locator(".qa-source")).to_have_count(0)
    assert offsite == []  # offline: no fonts, scripts or telemetry fetched from anywhere else


def test_summaries_and_timelines_show_what_they_are_and_every_cited_sentence_in_the_sources(
    page: Page, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    with running_app(settings, embedder) as (url, _):
        page.goto(url)
        ask_in_page(page, "Summarize the article about the 2013 meeting in Northern Ireland.")
        answer = page.locator("#qa-chat .message-row").last
        expect(answer.locator(".qa-kind")).to_have_text("Summary of 1 article")
        expect(answer.locator(".qa-short")).to_have_count(0)
        sources = page.locator("#qa-sources")
        blocks = sources.locator(".qa-source")
        expect(blocks.first.locator("mark.qa-quote")).to_contain_text("A critical meeting between President")
        n = blocks.count()
        assert n >= 3
        expect(answer.locator(".qa-cite")).to_have_count(n)
        for i in range(n):  # each cited passage with its own sentence highlighted
            expect(blocks.nth(i).locator("mark.qa-quote")).to_have_count(1)
            expect(blocks.nth(i).locator(".qa-cite")).to_have_text(f"[{i + 1}]")

        ask_in_page(page, "Give me a timeline of the Obama-Putin meetings.")
        answer = page.locator("#qa-chat .message-row").last
        expect(answer.locator(".qa-kind")).to_have_text("Timeline of 2 articles")
        expect(answer).to_contain_text("June 18, 2012 (Bloomberg News):")
        expect(answer).to_contain_text("June 17, 2013 (U.S. News & World Report):")
        lines = answer.inner_text().splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith("June 18, 2012"))
        assert lines[first + 1].startswith("June 17, 2013")  # one dated line each
        expect(sources.locator(".qa-source")).to_have_count(2)
        expect(sources.locator(".qa-title").nth(1)).to_have_text("Obama, Putin Seek Common Ground on Syria")
        assert screenshot(page, tmp_path, "timeline.png").stat().st_size > 10_000


def test_article_markup_and_scripts_are_shown_as_text_never_run(
    page: Page, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    (settings.articles / "script.txt").write_bytes(SCRIPT.read_bytes())
    with running_app(settings, embedder) as (url, _):
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        ask_in_page(page, "When will the Zorbat bridge open?")
        sources = page.locator("#qa-sources")
        expect(sources.locator(".qa-title").first).to_contain_text("<script>window.__pwned = 'title'</script>")
        expect(sources.locator("mark.qa-quote").first).to_contain_text(
            "The mayor said <script>window.__pwned = 'script'</script> the Zorbat bridge will open in <b>May 2031</b>"
        )
        chat = page.locator("#qa-chat .message-row").last
        expect(chat).to_contain_text("<img src=x onerror=\"window.__pwned = 'img'\">")
        expect(chat).to_contain_text("*no* __markdown__ either")  # Markdown is not applied to article text

        page.locator("#qa-passages-panel").get_by_text("Retrieved passages and timings").click()
        expect(page.locator("#qa-passages")).to_contain_text("<b>May 2031</b>")
        screenshot(page, tmp_path, "script.png")

        for area in ("#qa-chat .message-row", "#qa-sources", "#qa-passages"):
            # the article's own tags never became elements (the app's own <b> rank labels are not in articles)
            assert page.locator(f"{area} script, {area} img[src='x'], {area} em").count() == 0
        assert page.locator("#qa-sources b").count() == 0
        assert page.evaluate("window.__pwned") is None
        assert dialogs == []


def no_error_badges(page: Page) -> None:
    """Gradio shows no error of its own: no red "Error" badge on a component, no error toast."""
    expect(page.locator(".toast-body")).to_have_count(0)
    expect(page.get_by_text("Error", exact=True)).to_have_count(0)


def test_long_questions_and_failures_are_answered_in_the_chat(
    page: Page, settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.errors import QuestionError

    with running_app(settings, embedder) as (url, library):
        page.goto(url)
        expect(page.locator("#qa-index-info")).to_contain_text("2 articles")
        chat = page.locator("#qa-chat .message-row")
        box = page.locator("#qa-question textarea")
        for n in LONG_QUESTION_SIZES:
            ask_in_page(page, long_question(n))
            answer = chat.last
            expect(answer.locator(".qa-refusal, .qa-cite").first).to_be_visible()  # an answer or a refusal
            expect(answer.locator(".qa-error")).to_have_count(0)
            if n <= 2000:
                expect(answer.locator(".qa-notice")).to_have_count(0)
            else:
                expect(answer.locator(".qa-notice")).to_contain_text(f"Note: {cut_notice(n)}")
                expect(answer.locator(".qa-notice")).to_contain_text(" were used")
            expect(box).to_have_value("")
        no_error_badges(page)

        # Any failure while answering: a message in the conversation, the question kept, the next question works.
        # (A real failure is hard to cause: the index is held in memory, so even deleting its files under the
        # running app leaves answering working; the Library is made to fail instead, as a bug or a QAError would.)
        real = library.ask
        for error, said in (
            (RuntimeError("the reader fell over"), "something went wrong (RuntimeError: the reader fell over)"),
            (QuestionError("the question cannot be read: rephrase it"), "the question cannot be read: rephrase it"),
        ):

            def failing(*args: Any, error: Exception = error, **kwargs: Any) -> Any:
                raise error

            monkeypatch.setattr(library, "ask", failing)
            question = "How long did the 2013 meeting between Obama and Putin last?"
            ask_in_page(page, question)
            expect(chat.last.locator(".qa-error")).to_contain_text(said)
            expect(chat.nth(-2)).to_contain_text(question)  # the question is in the conversation
            expect(box).to_have_value(question)  # and still in the textbox, to ask again
            no_error_badges(page)
            monkeypatch.setattr(library, "ask", real)
            box.press("Enter")  # asked again as it stands
            expect(chat.last.locator(".qa-short")).to_have_text("two hours")
            expect(box).to_have_value("")
            no_error_badges(page)


def test_uploads_are_checked_by_qa_leave_no_temporary_files_and_a_new_tab_sees_them(
    page: Page, settings: Settings, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gradio_tmp = tmp_path / "gradio"  # Gradio's upload cache, for this app only
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(gradio_tmp))
    exe = write(tmp_path / "to-upload", "run.exe", b"MZ\x90\x00 not an article")
    status = page.locator("#qa-upload-status")

    def upload(path: Path) -> None:
        with page.expect_file_chooser() as chooser:
            page.locator("#qa-upload").click()
        chooser.value.set_files(str(path))

    def cached() -> list[Path]:
        return [p for p in gradio_tmp.rglob("*") if not p.is_dir()]

    with running_app(settings, embedder) as (url, _):
        page.goto(url)
        expect(page.locator("#qa-index-info")).to_contain_text("2 articles")
        upload(exe)
        expect(status).to_have_text("Refused run.exe is not an article file: upload .txt, .md, .html, .jsonl files")
        assert cached() == []  # deleted at once
        no_error_badges(page)

        upload(LUNAR)
        expect(status).to_contain_text("Indexed lunar.txt: 1 added")
        expect(page.locator("#qa-index-info")).to_contain_text("3 articles")
        assert cached() == []  # Gradio's copy deleted once saved
        assert (settings.uploads / "lunar.txt").read_bytes() == LUNAR.read_bytes()
        assert not (settings.articles / "lunar.txt").exists()

        tab = page.context.new_page()  # a new tab reads the index as it is now
        tab.goto(url)
        expect(tab.locator("#qa-index-info")).to_contain_text("3 articles")
        expect(tab.locator("#qa-index-info")).to_contain_text(f"{settings.uploads} (1 uploaded)")
        ask_in_page(tab, "How many tomatoes did the lunar greenhouse harvest?")
        expect(tab.locator("#qa-sources")).to_contain_text("uploads/lunar.txt")
