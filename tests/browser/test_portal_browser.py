"""The portal in headless Chromium (Debian's ``chromium``, driven by Playwright).

A researcher's path: search 社区矫正 成本指标, narrow by a region and a year,
open a hit in its filing, compare the indicators and download them as CSV; and
the search page at 390 px. Screenshots of each step go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from browser.webapp_index import ROOT, corpus_index, embedder
from werkzeug.serving import make_server

from indexer.store.embedded import EmbeddedStore
from webapp import create_app

ARTIFACTS = ROOT / "test-artifacts" / "browser"
QUERY = "社区矫正 成本指标"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "apt-get install -y chromium; pip install playwright (no `playwright install`)"


def chromium_path() -> str | None:
    """Debian's chromium, wherever it is on PATH."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The portal over an index of corpus/, served by werkzeug on a free local port."""
    index = corpus_index(tmp_path_factory)
    store = EmbeddedStore(index["store"], create=False)
    app = create_app(store=store, embedder=embedder())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(f"chromium not found; install it: {INSTALL_HINT}")
    sync_api = pytest.importorskip("playwright.sync_api", reason=f"needs {INSTALL_HINT}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


def total(page) -> int:  # noqa: ANN001 - a Playwright page
    return int(page.locator("#total").inner_text())


def params(page) -> dict[str, list[str]]:  # noqa: ANN001
    return parse_qs(urlparse(page.url).query)


def assert_indicators_of_several_filers(page) -> None:  # noqa: ANN001
    cards = page.locator("li.hit.kind-indicator")
    assert cards.count() >= 2
    filers = {card.locator(".meta span").first.inner_text() for card in cards.all()}
    assert len(filers) >= 2, filers
    assert page.locator("li.hit mark").count() > 0


def facet_counts(page, name: str) -> dict[str, int]:  # noqa: ANN001
    links = page.locator(f'#filters a[data-field="{name}"]').all()
    return {a.get_attribute("data-value"): int(a.locator(".count").inner_text()) for a in links}


def watch_console(page) -> list[str]:  # noqa: ANN001
    """Console errors (CSP violations show up here)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_search_narrow_open_compare_download(browser, base_url: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors = watch_console(page)

    # 1. type the query, see indicator results from at least two filers
    page.goto(base_url + "/")
    page.get_by_label("检索词").fill(QUERY)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q="))
    assert params(page)["q"] == [QUERY]
    assert_indicators_of_several_filers(page)
    page.screenshot(path=ARTIFACTS / "01-search.png", full_page=True)

    # keyword mode: its match set is exact, so a facet's count is what clicking it gives
    page.locator('label[for="mode-keyword"]').click()
    page.wait_for_url(re.compile(r"mode=keyword"))
    assert_indicators_of_several_filers(page)
    first_total = total(page)

    # 2. a region facet: fewer results, all in that province, the URL says so
    region = page.locator('#filters a[data-field="province"][data-value="河北省"]')
    region_count = int(region.locator(".count").inner_text())
    region.click()
    page.wait_for_url(re.compile(r"province="))
    assert params(page)["province"] == ["河北省"]
    assert total(page) == region_count < first_total
    for card in page.locator("li.hit").all():
        assert "河北省" in card.locator(".meta").inner_text()
    assert page.locator(".chip", has_text="河北省").count() == 1
    page.screenshot(path=ARTIFACTS / "02-region.png", full_page=True)

    # 3. a year facet: narrower still, and the other facets' counts follow
    year = page.locator('#filters a[data-field="year"][data-value="2021"]')
    year_count = int(year.locator(".count").inner_text())
    departments = facet_counts(page, "department")
    year.click()
    page.wait_for_url(re.compile(r"year=2021"))
    assert params(page)["year"] == ["2021"] and params(page)["province"] == ["河北省"]
    assert total(page) == year_count < region_count
    for card in page.locator("li.hit").all():
        assert "2021" in card.locator(".meta").inner_text()
    assert sum(facet_counts(page, "department").values()) < sum(departments.values())
    page.screenshot(path=ARTIFACTS / "03-year.png", full_page=True)
    narrowed_url = page.url

    # 4. open the first hit in its filing: scrolled to, and highlighted
    link = page.locator("li.hit a.open").first
    href = link.get_attribute("href")
    passage_id = href.split("#", 1)[1]
    link.click()
    page.wait_for_url(re.compile(r"/filing/"))
    target = page.locator(f'[id="{passage_id}"]')
    target.wait_for()
    assert (
        page.evaluate("document.querySelector(':target') && document.querySelector(':target').id")
        == passage_id
    )
    box = target.bounding_box()
    assert box is not None and 0 <= box["y"] < 900  # in view
    cell = target.locator("td").first if target.evaluate("e => e.tagName") == "TR" else target
    background = cell.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent", "rgb(255, 255, 255)")
    page.screenshot(path=ARTIFACTS / "04-filing.png")

    # 5. the compare view of the same state (back in 综合 mode), and its CSV
    page.goto(narrowed_url)
    page.get_by_role("link", name="比较指标").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    assert params(page)["year"] == ["2021"] and params(page)["province"] == ["河北省"]
    assert total(page) == year_count  # the one indicator found in keyword mode
    page.locator('label[for="mode-hybrid"]').click()
    page.wait_for_url(re.compile(r"mode=hybrid"))
    assert params(page)["year"] == ["2021"] and params(page)["province"] == ["河北省"]
    indicators = total(page)
    assert indicators > 0
    assert page.locator("#compare-table tbody tr:not(.group-head)").count() == indicators
    assert page.locator(".chart svg circle").count() > 0
    page.screenshot(path=ARTIFACTS / "05-compare.png", full_page=True)
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    download = info.value
    saved = ARTIFACTS / "compare.csv"
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert len(rows) == indicators
    for row in rows:
        assert row["year"] == "2021" and "河北省" in row["region"]
        assert row["level2"] is not None and row["filing_url"].startswith(base_url)
    assert any(row["level2"] == "成本指标" for row in rows)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_narrow_screen(browser, base_url: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    page.goto(base_url + "/?" + "q=" + QUERY)
    page.locator("li.hit").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "06-mobile-390.png")
    page.goto(base_url + "/compare?q=" + QUERY)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=ARTIFACTS / "07-mobile-compare-390.png")
    context.close()


def test_facets_are_keyboard_reachable(browser, base_url: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/?q=" + QUERY)
    for _ in range(80):  # Tab through the page until a facet value has the focus
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('#filters a[data-field=year]')"):
            break
    else:
        pytest.fail("no year facet value reached with Tab")
    chosen = page.evaluate("document.activeElement.dataset.value")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"year="))
    assert params(page)["year"] == [chosen]
    # focus comes back to the value just chosen, not to the top of the page
    page.wait_for_function("document.activeElement.dataset.field === 'year'")
    assert page.evaluate("document.activeElement.dataset.value") == chosen
    assert page.evaluate("window.scrollY") == 0  # without scrolling the results away
    context.close()


def test_on_a_narrow_screen_tab_goes_from_the_form_to_the_results(browser, base_url: str) -> None:  # noqa: ANN001
    """Results are shown above the filters there, so they come first in tab order too."""
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(base_url + "/?q=" + QUERY)
    page.locator("#mode-hybrid").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("!document.activeElement.closest('#filters')")
    assert page.evaluate("!!document.activeElement.closest('section.results')")
    context.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_long_unbroken_text_wraps(browser, base_url: str, width: int) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    for query in ("x" * 200, "9" * 200):
        page.goto(base_url + "/?q=" + query + "&department=" + "D" * 100)
        page.locator("#total").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, query[:5]
    context.close()


def test_arrow_keys_move_the_mode_without_leaving_the_page(browser, base_url: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/?q=" + QUERY)
    page.locator("#mode-hybrid").focus()
    page.keyboard.press("ArrowRight")  # moves the choice to 关键词: no navigation yet
    page.wait_for_timeout(500)
    assert "mode" not in params(page)
    assert page.evaluate("document.activeElement.id") == "mode-keyword"
    page.keyboard.press("Enter")  # applies it
    page.wait_for_url(re.compile(r"mode=keyword"))
    # a click still applies at once
    page.locator('label[for="mode-semantic"]').click()
    page.wait_for_url(re.compile(r"mode=semantic"))
    context.close()


def test_finding_a_province_keeps_its_cities(browser, base_url: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/?q=满意度")
    find = page.locator("input.facet-find[data-target='list-region']")
    shown = (
        "Array.from(document.querySelectorAll('#list-region li.fv'))"
        ".filter(li => !li.closest('li.fv[hidden]')).map(li => li.dataset.label)"
    )
    find.fill("河北")
    visible = page.evaluate(shown)
    assert {"河北省", "承德市", "唐山市"} <= set(visible) and "湖南省" not in visible, visible
    find.fill("承德")
    visible = page.evaluate(shown)
    assert {"河北省", "承德市"} <= set(visible) and "唐山市" not in visible, visible
    status = page.locator("#found-region")
    assert (
        status.get_attribute("role") == "status"
        and status.inner_text() == f"显示 {len(visible)} 项"
    )
    find.fill("没有这个地方")
    assert page.evaluate(shown) == [] and status.inner_text() == "无匹配"
    context.close()


def test_a_region_toggle_is_its_own_control_beside_the_link(browser, base_url: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/?q=满意度&province=河北省")
    assert page.locator("summary a, summary button, summary input").count() == 0
    branch = page.locator('#filters li.fv.branch[data-label="邢台市"]')
    details = branch.locator(":scope > details")
    assert not details.evaluate("d => d.open")
    branch.locator(':scope > a[data-value="邢台市"]').focus()
    page.keyboard.press("Tab")  # the next stop is the place's own toggle
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    box = details.locator(":scope > summary").bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24  # WCAG 2.5.8 target size
    page.keyboard.press("Enter")
    assert details.evaluate("d => d.open")
    assert params(page) == {"q": ["满意度"], "province": ["河北省"]}  # toggling did not navigate
    county = branch.locator("ul.tree a.fl").first
    assert county.is_visible()
    context.close()


def test_back_shows_the_mode_and_filters_of_the_url(browser, base_url: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/?q=社区矫正&mode=hybrid&year=2021")
    page.locator('label[for="mode-semantic"]').click()
    page.wait_for_url(re.compile(r"mode=semantic"))
    page.go_back()
    page.wait_for_url(re.compile(r"mode=hybrid"))
    page.wait_for_load_state("load")
    assert page.locator("#mode-hybrid").is_checked()
    assert not page.locator("#mode-semantic").is_checked()
    hidden = page.locator('form.search input[type="hidden"][name="year"]')
    assert hidden.input_value() == "2021"
    # the next search runs in the mode the page shows, with the URL's filters
    page.get_by_label("检索词").fill("社区矫正 成本指标")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"%E6%88%90%E6%9C%AC|成本"))
    assert params(page)["mode"] == ["hybrid"] and params(page)["year"] == ["2021"]
    context.close()
