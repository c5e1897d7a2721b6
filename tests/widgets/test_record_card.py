"""The record card's two views (overview, full metadata) on hostile harvested metadata, and the browser at
100,000 entries (the harvested volume).  Timing targets are measured by benchmarks/bench_widgets.py; here a
loose bound only catches a per-entry Python loop creeping back into the first render."""
from __future__ import annotations

import sys
import time
from html.parser import HTMLParser
from pathlib import Path

from vre_catalog import CatalogIndex
from vre_widgets import DatasetBrowser
from vre_widgets.card import card_html, full_metadata_html

from .conftest import record

ALLOWED = {"div", "h4", "small", "code", "p", "table", "tr", "th", "td", "ul", "ol", "li", "b", "i", "a", "pre",
           "svg", "rect", "line", "path"}  # path: the card map's Natural Earth outlines
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    def __init__(self, html):
        super().__init__()
        self.tags, self.hrefs, self.handlers = set(), [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.hrefs += [v for k, v in attrs if k == "href"]
        self.handlers += [k for k, _ in attrs if k.startswith("on")]


def hostile_index():
    rec = record("sextant.syn_hostile", f"SYNTHETIC {HOSTILE} title", [("sst", "degC")], (-10, 40, 5, 50),
                 ("2001-01-01", None), keywords=[HOSTILE, "ocean"],
                 links=[{"url": "javascript:alert(1)", "protocol": "api", "name": HOSTILE},
                        {"url": "https://example.org/data.nc?a=1&b=<x>", "protocol": "http", "name": "data"}],
                 harvest={"source": "sextant", "identifier": "syn-hostile", "datestamp": "2024", "harvested": "2024",
                          "readable": False, "note": HOSTILE})
    rec["description"] = f"Abstract {HOSTILE}"
    return CatalogIndex.from_entries([rec])


def test_overview_and_full_views_escape_everything():
    entry = hostile_index()["sextant.syn_hostile"]
    for html in (card_html(entry), full_metadata_html(entry)):
        parsed = Tags(html)
        assert parsed.tags <= ALLOWED, parsed.tags - ALLOWED
        assert parsed.handlers == [] and not any(h.startswith("javascript") for h in parsed.hrefs)
        assert "&lt;script&gt;" in html  # the text is shown, as text
    overview = card_html(entry)
    assert "https://example.org/data.nc?a=1&amp;b=&lt;x&gt;" in overview  # kept as an escaped link
    assert "No distribution intake can read" in overview and "<svg class='vre-card-extent'" in overview
    full = full_metadata_html(entry)
    for key in entry.metadata:  # every field is in the full view
        assert f">{key}</th>" in full


def test_browser_shows_both_tabs(small_index):
    browser = DatasetBrowser(index=small_index, namespace={}, auto_preview=False)
    browser.selected = small_index.ids[0]
    assert browser.card_tabs.titles == ("Overview", "Full metadata")
    assert browser.card_tabs.children == (browser.card, browser.card_full)
    assert small_index[small_index.ids[0]].title in browser.card.value
    assert ">publisher_name</th>" in browser.card_full.value


def test_browser_at_100k_entries():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bench_catalog import make_records

    index = CatalogIndex.from_entries(make_records(100_000))
    t0 = time.perf_counter()
    browser = DatasetBrowser(index=index, namespace={}, auto_preview=False)
    first_render = time.perf_counter() - t0
    assert "100,000</b> datasets" in browser.count_label.value
    assert len(browser.results_list.options) == 200
    assert all(len(w.options) <= 50 for w in browser.facet_widgets.values())
    assert first_render < 5, f"first render took {first_render:.2f} s at 100,000 entries"
    browser.query = "temperature"
    assert browser.result.total == index.search(text="temperature").total
    browser.selected = browser.result.entries[0].id
    assert browser.result.entries[0].title in browser.card.value
