"""The chat app in a real browser: Playwright driving Debian's chromium (apt-get install chromium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from qa.config import Settings
from qa.embed import Embedder
from tests.conftest import ROOT
from tests.fixtures.app.server import LUNAR, SCRIPT, running_app

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots kept for people to look at; ignored by git
WAIT_MS = 90_000  # an upper bound for waiting on the app on a busy machine, not a speed requirement


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    yield page
    context.close()


def _offsite_requests(page: Page) -> list[str]:
    """Requests the page makes to anything but the app's own loopback server (there must be none)."""
    seen: list[str] = []
    page.on("request", lambda r: None if urlparse(r.url).hostname == "127.0.0.1" else seen.append(r.url))
    return seen


def _ask(page: Page, question: str) -> None:
    turns = page.locator("#qa-chat .message-row").count()
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-question textarea").press("Enter")
    expect(page.locator("#qa-chat .message-row")).to_have_count(turns + 2)
    expect(page.locator("#qa-chat .message-row").last).not_to_contain_text("Searching the articles")


def _screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    shutil.copy(shot, ARTIFACTS / name)
    return shot


def test_seed_question_then_an_uploaded_article_answered_in_the_browser(
    page: Page, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    with running_app(settings, embedder) as (url, _):
        offsite = _offsite_requests(page)
        page.goto(url)
        expect(page.locator("#qa-index-info")).to_contain_text("2 articles")

        _ask(page, "How long did the 2013 meeting between Obama and Putin last?")
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

        _ask(page, "Who won the 1998 football world cup?")
        refusal = page.locator("#qa-chat .message-row").last.locator(".qa-refusal")
        expect(refusal).to_contain_text("The articles don't say. ")  # as written: no Markdown escapes showing
        expect(sources).to_contain_text("No sources")

        with page.expect_file_chooser() as chooser:
            page.locator("#qa-upload").click()
        chooser.value.set_files(str(LUNAR))
        expect(page.locator("#qa-upload-status")).to_contain_text("Indexed lunar.txt: 1 added")
        expect(page.locator("#qa-index-info")).to_contain_text("3 articles")

        _ask(page, "How many tomatoes did the lunar greenhouse harvest?")
        expect(sources.locator(".qa-title").first).to_have_text("Lunar greenhouse harvests first tomatoes")
        expect(sources.locator("mark.qa-quote").first).to_contain_text("harvested its first crop of 42 tomatoes")
        expect(sources.locator(".qa-short").first).to_have_text("42")
        shot = _screenshot(page, tmp_path, "chat.png")
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
        _ask(page, "When will the Zorbat bridge open?")
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
        _screenshot(page, tmp_path, "script.png")

        for area in ("#qa-chat .message-row", "#qa-sources", "#qa-passages"):
            # the article's own tags never became elements (the app's own <b> rank labels are not in articles)
            assert page.locator(f"{area} script, {area} img[src='x'], {area} em").count() == 0
        assert page.locator("#qa-sources b").count() == 0
        assert page.evaluate("window.__pwned") is None
        assert dialogs == []
