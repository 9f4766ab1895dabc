"""The API page (``/docs``) in a real headless Chromium: Swagger UI, served by the node itself
(offline), renders every route of the bundled OpenAPI document, and a request sent from the
page reaches the node and gets its answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RosettaClient
from tests.support.browser import Browser, Page

pytestmark = pytest.mark.devnet

BUNDLE = Path(__file__).resolve().parents[1] / "rosetta_node" / "openapi.json"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser().start()
    try:
        yield chromium
    finally:
        chromium.stop()


def _paths() -> set[str]:
    return set(json.loads(BUNDLE.read_text())["paths"])


async def _open_docs(page: Page, url: str) -> list[str]:
    await page.send("Page.navigate", url=url + "/docs")
    count = "document.querySelectorAll('.opblock-summary-path').length"
    await page.wait_for(f"{count} >= {len(_paths())}")
    shown: list[str] = await page.evaluate(
        "Array.from(document.querySelectorAll('.opblock-summary-path'))"
        ".map(e => e.getAttribute('data-path'))"
    )
    return shown


def test_the_page_renders_every_route(
    browser: Browser, node: RosettaClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def run() -> tuple[list[str], Path, list[str]]:
        async with browser.page() as page:
            shown = await _open_docs(page, node.url)
            # Swagger UI shows no error or warning about the document.
            problems = await page.evaluate(
                "Array.from(document.querySelectorAll('.errors-wrapper, .version-pragma'))"
                ".map(e => e.textContent)"
            )
            assert problems == [], problems
            shot = await page.screenshot(tmp_path / "api-page.png")
            # Everything the page loaded came from the node: no CDN.
            loaded = [r["response"]["url"] for r in page.responses]
            return shown, shot, loaded

    shown, shot, loaded = asyncio.run(run())
    with capsys.disabled():  # in the run's output, captured or not
        print(f"\nAPI page screenshot: {shot}")
    assert set(shown) == _paths()
    assert shot.stat().st_size > 10_000
    assert loaded and all(u.startswith(node.url) for u in loaded), loaded


def test_a_request_sent_from_the_page_gets_its_answer(
    browser: Browser, node: RosettaClient
) -> None:
    """Open /network/list, Try it out, Execute: the page's request reaches the node and the
    page shows the node's answer (its status and the network it serves)."""

    async def run() -> tuple[str, str, list[int]]:
        async with browser.page() as page:
            await _open_docs(page, node.url)
            block = "document.querySelector('.opblock-post [data-path=\"/network/list\"]')"
            summary = f"{block}.closest('.opblock-summary')"
            control = f"({summary}.querySelector('.opblock-summary-control') || {summary})"
            await page.evaluate(f"{control}.click()")
            execute = f"{block}.closest('.opblock').querySelector('.btn.execute')"
            try_out = f"{block}.closest('.opblock').querySelector('.try-out__btn')"
            await page.wait_for(f"!!({execute} || {try_out})")
            await page.evaluate(f"{execute} ? null : {try_out}.click()")
            await page.wait_for(f"!!{execute}")
            await page.evaluate(f"{execute}.click()")
            status_cell = (
                f"{block}.closest('.opblock')"
                ".querySelector('.live-responses-table tbody .response-col_status')"
            )
            status = await page.wait_for(f"{status_cell} && {status_cell}.textContent.trim()")
            body = await page.wait_for(
                f"{block}.closest('.opblock').querySelector('.live-responses-table pre')"
                "?.textContent"
            )
            sent = [
                r["response"]["status"]
                for r in page.responses
                if r["response"]["url"] == node.url + "/network/list"
            ]
            return str(status), str(body), sent

    status, body, sent = asyncio.run(run())
    assert sent == [200]
    assert status.startswith("200")
    served = node.ok("/network/list", {})["network_identifiers"]
    assert json.loads(body)["network_identifiers"] == served
