"""The chat app in a real browser: Playwright driving Debian's chromium (apt-get install chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from qa.config import Settings
from qa.embed.embedder import Embedder
from tests.helpers import LUNAR, SCRIPT, ask_in_page, offsite_requests, running_app, screenshot

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
