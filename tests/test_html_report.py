"""The HTML eval report, opened in a real headless browser (Debian's chromium).

The browser tests skip only when no chromium is installed and this is not CI (``CI=true``
fails instead: install.sh, which .ci/run runs, installs chromium).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from pactx.cli import app
from pactx.evals.fixtures import load_cases
from pactx.evals.report_page import script_hash

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "evals" / "fixtures" / "cases.jsonl"
BASELINE_PREDICTIONS = ROOT / "evals" / "baselines" / "smollm2-135m.staged.predictions.jsonl"
runner = CliRunner()


# -- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> str:
    """Path of a chromium binary, or a skip (a failure in CI) saying why there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    reason = "no chromium on PATH (install.sh installs Debian's chromium: apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser test")
    pytest.skip(reason)


def dump_dom(browser: str, page: Path, profile: Path, suffix: str = "") -> str:
    """The page's DOM after its scripts ran, serialized by the browser."""
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri() + suffix,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "</html>" in done.stdout, done.stderr[-3000:]
    return done.stdout


class Dom(HTMLParser):
    """What the tests read from a page: body attributes, metric rows and bars, document rows
    and sections (in DOM order, with their ``hidden`` state), element ids."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.body: dict[str, str | None] = {}
        self.metrics: dict[str, dict[str, str]] = {}
        self.rows: list[dict[str, Any]] = []
        self.sections: list[dict[str, Any]] = []
        self.ids: set[str] = set()
        self.tables: dict[str, dict[str, str | None]] = {}
        self.scripts = 0
        self._metric: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "body":
            self.body = a
        elif tag == "script":
            self.scripts += 1
        elif tag == "table" and a.get("id"):
            self.tables[str(a["id"])] = a
        elif tag == "tr" and a.get("data-metric"):
            self._metric = str(a["data-metric"])
            self.metrics[self._metric] = {}
        elif tag == "tr" and "doc-row" in classes:
            self.rows.append({"id": a.get("data-id"), "hidden": "hidden" in a, "rank": a.get("data-rank")})
        elif tag == "section" and "doc" in classes:
            self.sections.append({"id": a.get("data-id"), "hidden": "hidden" in a, "anchor": a.get("id")})
        elif tag == "span" and self._metric and {"ci", "value", "floor"} & set(classes):
            kind = next(iter({"ci", "value", "floor"} & set(classes)))
            self.metrics[self._metric][kind] = str(a.get("style"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._metric = None

    def visible(self) -> list[str]:
        return [s["id"] for s in self.sections if not s["hidden"]]


# -- a real report: the committed baseline's answers on the committed fixtures -----------------


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    result = runner.invoke(app, ["eval", "score", str(BASELINE_PREDICTIONS), "--fixtures", str(FIXTURES),
                                 "--out", str(out), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    return out


def expected_worst_first(report: dict[str, Any]) -> list[str]:
    """Worst first, computed here from the JSON report: failures, then detection F1, parties F1, id."""
    def key(doc: dict[str, Any]) -> tuple[Any, ...]:
        det, par = doc["detection_f1"], doc["parties_f1"]
        return (doc["status"] == "ok", 2.0 if det is None else det, 2.0 if par is None else par, doc["id"])

    return [doc["id"] for doc in sorted(report["scores"]["documents"], key=key)]


def left(style: str) -> float:
    match = re.search(r"left:\s*([\d.]+)%", style)
    assert match, style
    return float(match.group(1))


def test_report_renders_in_a_browser_worst_first_with_interval_bars(
    browser: str, real_report: Path, tmp_path: Path
) -> None:
    report = json.loads((real_report / "report.json").read_text(encoding="utf-8"))
    dom = Dom(dump_dom(browser, real_report / "report.html", tmp_path / "profile"))
    assert dom.body.get("data-js") == "ready"  # the inline script ran (the CSP let it)
    assert dom.tables["documents"].get("data-sort") == "rank asc"
    # the metrics table: every headline metric, a bar whose marks sit at the value, interval, floor
    assert len(dom.metrics) == len(report["headline"]) == 11
    for name, metric in report["headline"].items():
        bar = dom.metrics[name]
        assert left(bar["value"]) == pytest.approx(100 * metric["value"], abs=0.06), name
        if metric["ci_low"] is not None:
            assert left(bar["ci"]) == pytest.approx(100 * metric["ci_low"], abs=0.06), name
            width = float(re.search(r"width:\s*([\d.]+)%", bar["ci"]).group(1))  # type: ignore[union-attr]
            assert width == pytest.approx(100 * (metric["ci_high"] - metric["ci_low"]), abs=0.11), name
        floor = report["floor"]["headline"][name]["value"]
        if floor is not None:
            assert left(bar["floor"]) == pytest.approx(100 * floor, abs=0.06), name
    # one section per document, worst first, none hidden; the table rows in the same order
    expected = expected_worst_first(report)
    assert len(expected) == len(load_cases(FIXTURES)) == len(report["scores"]["documents"])
    assert [s["id"] for s in dom.sections] == expected
    assert [r["id"] for r in dom.rows] == expected
    assert dom.visible() == expected
    assert len({s["anchor"] for s in dom.sections}) == len(expected)
    # the worst document scores below the best, so the order is not trivially the file's
    docs = {d["id"]: d for d in report["scores"]["documents"]}
    assert docs[expected[0]]["detection_f1"] < docs[expected[-1]]["detection_f1"]


def test_tag_filter_and_sort_from_the_url(browser: str, real_report: Path, tmp_path: Path) -> None:
    page = real_report / "report.html"
    tagged = [case.id for case in load_cases(FIXTURES) if "no_agreement" in case.tags]
    everything = len(load_cases(FIXTURES))
    assert 0 < len(tagged) < everything
    filtered = Dom(dump_dom(browser, page, tmp_path / "p1", "#tag=no_agreement"))
    assert filtered.body.get("data-js") == "ready"
    assert filtered.tables["documents"].get("data-tag") == "no_agreement"
    assert sorted(filtered.visible()) == sorted(tagged)
    assert len(filtered.sections) == everything  # the others are hidden, not lost
    assert sorted(r["id"] for r in filtered.rows if not r["hidden"]) == sorted(tagged)
    # the query string works too, and a sort by another column reorders rows and sections
    by_id = Dom(dump_dom(browser, page, tmp_path / "p2", "?sort=id&dir=desc"))
    ids = [s["id"] for s in by_id.sections]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(load_cases(FIXTURES))
    assert [r["id"] for r in by_id.rows] == ids
    assert by_id.tables["documents"].get("data-sort") == "id desc"


# -- escaping: text from a document never becomes markup or script ----------------------------

HOSTILE = '<b id="pwned-text">bold</b><script>document.body.setAttribute("data-pwned", "1")</script>'


def hostile_report(tmp_path: Path) -> Path:
    metadata = json.loads(FIXTURES.read_text(encoding="utf-8").splitlines()[0])["gold"]["metadata"]
    cases = [
        {"id": 'x"><b id="pwned-id">', "split": "dev", "tags": ['<b id="pwned-tag">', "plain"],
         "text": "Mali and Niger signed a pact. " + HOSTILE,
         "gold": {"agreements": [{"evidence": [{"quote": "Mali and Niger signed a pact"}],
                                  "parties": [{"name": "Mali"}, {"name": '<img id="pwned-gold" src=x>'}],
                                  "agreement_type": "defense_pact", "status": "signed"}], "metadata": metadata}},
        {"id": "calm", "split": "test", "tags": ["plain"], "text": "Nothing was agreed.",
         "gold": {"agreements": [], "metadata": metadata}},
    ]
    fixtures = tmp_path / "cases.jsonl"
    fixtures.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(
        json.dumps({"id": cases[0]["id"], "error": {"type": "Boom", "message": '<i id="pwned-error">x</i>'}}) + "\n"
        + json.dumps({"id": "calm", "agreements": []}) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", "score", str(predictions), "--fixtures", str(fixtures),
                                 "--out", str(out), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    return out / "report.html"


def test_all_text_is_escaped_and_only_the_page_script_may_run(tmp_path: Path) -> None:
    page = hostile_report(tmp_path).read_text(encoding="utf-8")
    for planted in ('<b id="pwned', '<script>document.body', '<img id="pwned', '<i id="pwned', 'x"><b'):
        assert planted not in page, planted
    assert re.search(r"&lt;b id=(&quot;|&#34;)pwned-text", page)  # shown as text
    assert re.search(r"&lt;img id=(&quot;|&#34;)pwned-gold", page) and "&lt;i id=" in page
    # the page loads nothing and runs only its own script, allowed by its hash
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    assert len(scripts) == 1
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp
    policy = html.unescape(csp.group(1))
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy.split("script-src")[1]
    assert script_hash(scripts[0]) in policy
    assert "http://" not in page and "https://" not in page


def test_hostile_text_stays_text_in_the_browser(browser: str, tmp_path: Path) -> None:
    page = hostile_report(tmp_path)
    dom = Dom(dump_dom(browser, page, tmp_path / "p1"))
    assert dom.body.get("data-js") == "ready" and "data-pwned" not in dom.body
    assert not {i for i in dom.ids if i.startswith("pwned")}
    assert dom.scripts == 1
    # the failed document is worst; the filter works on a tag that looks like markup
    assert [s["id"] for s in dom.sections] == ['x"><b id="pwned-id">', "calm"]
    tag = '<b id="pwned-tag">'
    filtered = Dom(dump_dom(browser, page, tmp_path / "p2", "#tag=" + quote(tag)))
    assert filtered.visible() == ['x"><b id="pwned-id">']
    assert filtered.tables["documents"].get("data-tag") == tag


def test_clicks_and_the_tag_menu_sort_filter_and_update_the_url(browser: str, real_report: Path, tmp_path: Path) -> None:
    """What a reader does: click a column twice (descending), pick a tag from the menu."""
    page = (real_report / "report.html").read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)  # let the harness run
    harness = (
        "<script>var b = document.querySelector('th[data-sort=\"id\"] button'); b.click(); b.click();"
        "var m = document.getElementById('tag-filter'); m.value = 'signed'; m.dispatchEvent(new Event('change'));"
        "document.body.setAttribute('data-url', location.hash);</script></body>"
    )
    clicked = tmp_path / "clicked.html"
    clicked.write_text(page.replace("</body>", harness), encoding="utf-8")
    dom = Dom(dump_dom(browser, clicked, tmp_path / "profile"))
    assert dom.tables["documents"].get("data-sort") == "id desc"
    assert dom.tables["documents"].get("data-tag") == "signed"
    assert dom.body.get("data-url") == "#tag=signed&sort=id&dir=desc"
    signed = sorted((case.id for case in load_cases(FIXTURES) if "signed" in case.tags), reverse=True)
    assert dom.visible() == signed
