"""Shared fixtures: a seeded rng, and a tiny embedded dataset built once per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_caches(tmp_path_factory):  # noqa: ANN001, ANN202
    """Activation cache and torch hub under tmp: tests never write to the user's caches."""
    root = tmp_path_factory.mktemp("caches")
    saved = {k: os.environ.get(k) for k in ("SYNCACT_CACHE_DIR", "TORCH_HOME")}
    os.environ["SYNCACT_CACHE_DIR"] = str(root / "activations")
    os.environ["TORCH_HOME"] = str(root / "torch")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):  # noqa: ANN001, ANN201
    """5 subjects x 2 runs x 60 volumes of the embedded dataset (real movie, real CNN drivers)."""
    from syncact.simulate import make_dataset

    root = tmp_path_factory.mktemp("tiny") / "bids"
    return make_dataset(root, n_subjects=5, n_runs=2, n_timepoints=60, seed=3)


@pytest.fixture(scope="session")
def tiny_surface_dataset(tmp_path_factory):  # noqa: ANN001, ANN201
    """The same on the fsLR 32k cortical grayordinates: HCP layout, CIFTI dense time series."""
    from syncact.simulate import make_dataset

    root = tmp_path_factory.mktemp("tiny-surface") / "hcp"
    return make_dataset(root, n_subjects=5, n_runs=2, n_timepoints=60, seed=3, space="fsLR32k")


BACKGROUND_SIZES = """async () => {
  const urls = new Set();
  for (const sheet of document.styleSheets) for (const rule of sheet.cssRules) {
    const m = rule.style && rule.style.backgroundImage.match(/url\\("(.*)"\\)/);
    if (m) urls.add(m[1]);
  }
  return Promise.all(Array.from(urls).map(u => new Promise(ok => {
    const im = new Image(); im.onload = () => ok(im.naturalWidth); im.onerror = () => ok(0); im.src = u; })));
}"""
"""Natural width of every image a style sheet shows as a CSS background (0: it did not decode)."""


@pytest.fixture
def browse():  # noqa: ANN201
    """Open an HTML report in headless Chromium as a person would; return what a reader would notice.

    ``browse(path, name)`` returns a dict: ``problems`` (console errors/warnings, page errors),
    ``outside_requests`` (requests other than the page and data: URIs), ``broken`` (images that do not
    decode), ``backgrounds`` (natural widths of CSS background images), ``page_width`` and ``too_wide``
    (elements wider than the 1280 px viewport outside a scroll box), ``toc_links``, ``count`` /
    ``count_fbn03`` / ``pshift_order`` (the cards' search and sort, when the page has cards),
    ``sorted_first_column`` (after a click on the first sortable table's first header) and ``screenshots``
    (top, first table, first card or figure: PNGs in ``test-artifacts/``). Skips without chromium, fails
    under CI.
    """
    import shutil
    from pathlib import Path

    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make browser` (apt-get install chromium) installs it for CI")
        pytest.skip("chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    artifacts = Path(os.environ.get("SYNCACT_TEST_ARTIFACTS", Path(__file__).parent / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)

    def look(page_path, name: str, width: int = 1280) -> dict:  # noqa: ANN001
        url = Path(page_path).resolve().as_uri()
        problems, requests, facts = [], [], {"screenshots": {}}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            try:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.on("request", lambda r: requests.append(r.url))
                page.goto(url)
                page.wait_for_load_state("load")
                facts["broken"] = page.evaluate(
                    "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)")
                facts["backgrounds"] = page.evaluate(BACKGROUND_SIZES)
                facts["page_width"] = page.evaluate("document.documentElement.scrollWidth")
                facts["too_wide"] = page.evaluate(f"""Array.from(document.querySelectorAll('body *'))
                  .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > {width} + 0.5)
                  .map(e => e.tagName + '.' + e.className).slice(0, 5)""")
                facts["toc_links"] = page.locator("nav#toc a").count()
                for shot, selector in (("top", None), ("table", "table.tbl"), ("card", ".card, figure")):
                    if selector is not None:
                        if not page.locator(selector).count():
                            continue
                        page.locator(selector).first.scroll_into_view_if_needed()
                    facts["screenshots"][shot] = artifacts / f"{name}-{shot}.png"
                    page.screenshot(path=str(facts["screenshots"][shot]))
                if page.locator("#count").count():
                    facts["count"] = page.locator("#count").inner_text()
                    page.fill("#query", "fbn-03")
                    facts["count_fbn03"] = page.locator("#count").inner_text()
                    page.fill("#query", "")
                    page.select_option("#sort", "pshift:-1")
                    facts["pshift_order"] = page.evaluate(
                        "Array.from(document.querySelectorAll('.card')).map(c => parseFloat(c.dataset.pshift))")
                if page.locator("table.sortable").count():
                    table = page.locator("table.sortable").first
                    table.locator("th").first.click()
                    facts["sorted_first_column"] = table.evaluate(
                        "t => Array.from(t.tBodies[0].rows).map(r => r.cells[0].dataset.v !== undefined ? "
                        "parseFloat(r.cells[0].dataset.v) : r.cells[0].textContent)")
            finally:
                browser.close()
        facts["problems"] = problems
        facts["outside_requests"] = [u for u in requests if not u.startswith("data:") and u != url]
        if url not in requests:
            facts["outside_requests"].append("(the page itself was not requested)")
        return facts

    return look


@pytest.fixture
def check_quotes():  # noqa: ANN201
    """``check_quotes(page_html, folder)``: recompute every quoted number of a page (``a.q`` links of
    :func:`syncact.report.quotes.quote_html`) from ``folder/tables/<table>.csv``; return how many were checked."""
    import html as html_lib
    import json
    import re

    import pandas as pd

    from syncact.report.quotes import AGGREGATES, select
    from syncact.report.tables import format_value

    def check(page: str, folder) -> int:  # noqa: ANN001
        from pathlib import Path

        quotes = re.findall(r'<a class="q" href="#([^"]+)" data-table="([^"]+)" data-column="([^"]+)" '
                            r'data-aggregate="([^"]+)" data-where="([^"]*)" data-value="([^"]+)" data-kind="([^"]+)">([^<]*)</a>',
                            page)
        tables = {}
        for anchor, table, name, aggregate, where, value, kind, text in quotes:
            assert f'id="{anchor}"' in page, anchor  # the link lands on the table
            frame = tables.setdefault(table, pd.read_csv(Path(folder) / "tables" / f"{table}.csv"))
            rows = select(frame, json.loads(html_lib.unescape(where)))
            expected = float(AGGREGATES[aggregate](rows[name].astype(float)))
            assert float(value) == pytest.approx(expected, rel=1e-12, abs=1e-15), (table, name, aggregate, where)
            assert html_lib.unescape(text) == format_value(expected, kind), (text, table, name)
        return len(quotes)

    return check


@pytest.fixture
def torchrun():  # noqa: ANN201
    """``python -m torch.distributed.run`` with 2 processes on localhost (gloo on CPUs): ``run(*args, port=...)`` returns
    the finished process, asserted to have succeeded (its stderr's end shown otherwise)."""
    import subprocess
    import sys

    def run(*args, port):  # noqa: ANN001, ANN002, ANN202
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr",
                               "127.0.0.1", "--master-port", str(port), *map(str, args)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    return run
