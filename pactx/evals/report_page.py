"""The HTML eval report's page: markup (a Jinja2 template), style and a small inline script.

The page is one self-contained file that works offline: no CDN, no fetch. Its Content Security
Policy lets only the script below run (by its SHA-256), so text from a document can never
become script, even if it escaped the template's autoescaping.

The script, on load and when the URL changes:

* sorts the documents table and the document sections together: worst first (``rank``, the
  order the page is rendered in) by default, or by a clicked column;
* filters both by tag, from the tag menu or the URL (``report.html#tag=no_agreement``,
  ``?tag=...`` too; ``#sort=id&dir=desc`` picks the order);
* marks ``<body data-js="ready">`` and ``data-tag``/``data-sort`` on the table, so a test
  can tell it ran.

This module imports nothing from pactx.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["CSP", "SCRIPT", "STYLE", "TEMPLATE", "script_hash"]

SCRIPT = r"""
(function () {
  "use strict";
  var table = document.getElementById("documents");
  var sections = document.getElementById("doc-sections");
  var menu = document.getElementById("tag-filter");
  var count = document.getElementById("doc-count");
  if (!table || !sections) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var sectionOf = {};
  Array.prototype.forEach.call(sections.children, function (s) { sectionOf[s.id] = s; });
  var state = { tag: "", sort: "rank", dir: "asc" };

  function tagsOf(row) {
    return Array.prototype.map.call(row.querySelectorAll(".tag"), function (t) { return t.textContent; });
  }

  function readUrl() {
    var found = {};
    [location.search.slice(1), location.hash.slice(1)].forEach(function (part) {
      if (part.indexOf("=") < 0) { return; }  // a plain #doc-... anchor is not state
      new URLSearchParams(part).forEach(function (value, key) { found[key] = value; });
    });
    if ("tag" in found) { state.tag = found.tag; }
    if ("sort" in found) { state.sort = found.sort; }
    if ("dir" in found) { state.dir = found.dir === "desc" ? "desc" : "asc"; }
  }

  function writeUrl() {
    var params = new URLSearchParams();
    if (state.tag) { params.set("tag", state.tag); }
    if (state.sort !== "rank") { params.set("sort", state.sort); }
    if (state.dir !== "asc") { params.set("dir", state.dir); }
    var text = params.toString();
    try {
      history.replaceState(null, "", text ? "#" + text : location.pathname + location.search);
    } catch (e) { /* some browsers refuse it for file: pages; the page works the same */ }
  }

  function key(row, name, numeric) {
    var raw = row.getAttribute("data-" + name);
    if (raw === null || raw === "") { return null; }
    return numeric ? parseFloat(raw) : raw;
  }

  function apply() {
    var header = table.querySelector('th[data-sort="' + CSS.escape(state.sort) + '"]');
    if (!header) { state.sort = "rank"; header = table.querySelector('th[data-sort="rank"]'); }
    var numeric = header.getAttribute("data-type") === "number";
    var sign = state.dir === "desc" ? -1 : 1;
    rows.sort(function (a, b) {
      var x = key(a, state.sort, numeric), y = key(b, state.sort, numeric);
      if (x === null || y === null) {
        if (x !== y) { return x === null ? 1 : -1; }  // missing values last, either way
      } else if (x !== y) {
        return sign * (numeric ? x - y : (x < y ? -1 : 1));
      }
      return key(a, "rank", true) - key(b, "rank", true);
    });
    var shown = 0;
    rows.forEach(function (row) {
      var visible = !state.tag || tagsOf(row).indexOf(state.tag) >= 0;
      var section = sectionOf[row.getAttribute("data-doc")];
      row.hidden = !visible;
      body.appendChild(row);
      if (section) { section.hidden = !visible; sections.appendChild(section); }
      if (visible) { shown += 1; }
    });
    Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
      th.setAttribute("aria-sort", th === header ? (state.dir === "desc" ? "descending" : "ascending") : "none");
    });
    table.setAttribute("data-sort", state.sort + " " + state.dir);
    table.setAttribute("data-tag", state.tag);
    if (menu) { menu.value = state.tag; }
    if (count) {
      count.textContent = "showing " + shown + " of " + rows.length + " documents" +
        (state.tag ? " tagged " + state.tag : "");
    }
  }

  Array.prototype.forEach.call(table.querySelectorAll("th[data-sort] button"), function (button) {
    button.addEventListener("click", function () {
      var name = button.parentNode.getAttribute("data-sort");
      state.dir = state.sort === name && state.dir === "asc" ? "desc" : "asc";
      state.sort = name;
      apply();
      writeUrl();
    });
  });
  if (menu) {
    menu.addEventListener("change", function () { state.tag = menu.value; apply(); writeUrl(); });
  }
  window.addEventListener("hashchange", function () { readUrl(); apply(); });
  readUrl();
  apply();
  document.body.setAttribute("data-js", "ready");
})();
"""
"""The page's only script: sorting and tag filtering of the documents."""


def script_hash(script: str = SCRIPT) -> str:
    """The CSP source (``'sha256-...'``) that allows exactly ``script`` to run inline."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src {script_hash()}"
"""Content Security Policy of the page: nothing loads from anywhere; only :data:`SCRIPT` runs."""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 1200px; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { border: 1px solid #ccc; padding: .3rem .6rem; vertical-align: top; }
.text { line-height: 1.6; background: #fafafa; padding: .8rem; border: 1px solid #eee; }
mark.gold { background: #c8f7c5; } mark.pred { background: #fde2a7; } mark.both { background: #9fd8f5; }
.doc { border-top: 2px solid #333; margin-top: 2rem; } pre { white-space: pre-wrap; font-size: .85rem; }
.bad { color: #b00; } .metrics td:nth-child(3) { white-space: nowrap; }
.bar { position: relative; width: 14rem; height: 1rem; background: #eee; border-radius: 2px; }
.bar .ci { position: absolute; top: 0; bottom: 0; background: #8ab4e8; }
.bar .value { position: absolute; top: -2px; bottom: -2px; width: 2px; margin-left: -1px; background: #123; }
.bar .floor { position: absolute; top: -2px; bottom: -2px; width: 0; margin-left: -1px; border-left: 2px dashed #b00; }
.legend span { display: inline-block; margin-right: 1rem; }
th button { font: inherit; font-weight: bold; background: none; border: 0; padding: 0; cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; } th[aria-sort="descending"] button::after { content: " \\25BC"; }
.tag { display: inline-block; background: #eef; border-radius: 3px; padding: 0 .3rem; margin: 0 .2rem .2rem 0; font-size: .85rem; }
"""
"""The page's style sheet."""

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<title>pactx eval: {{ run.model }}</title>
<style>{{ style | safe }}</style></head><body>
<h1>pactx eval: {{ run.model }}</h1>
<table class="run">{% for label, value in run_lines %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}</table>
<h2>Headline metrics</h2>
<p class="legend">Micro-averaged, with 95% bootstrap intervals over documents. Bars run from 0 to 1:
<span><span class="bar" style="display:inline-block;width:2rem"><span class="ci" style="left:0;width:100%"></span></span> interval</span>
<span>▮ value</span> <span style="color:#b00">┆ floor (rules, no LLM)</span></p>
<table class="metrics" id="metrics"><thead><tr><th>metric</th><th>value</th><th>95% CI</th><th>interval</th><th>floor</th><th>counts</th></tr></thead>
<tbody>{% for row in metrics %}<tr data-metric="{{ row.name }}"><td>{{ row.label }}</td><td>{{ row.value }}</td><td>{{ row.ci }}</td>
<td>{% if row.bar %}<div class="bar" role="img" aria-label="{{ row.bar.label }}" title="{{ row.bar.label }}">
{%- if row.bar.ci %}<span class="ci" style="left:{{ row.bar.ci[0] }};width:{{ row.bar.ci[1] }}"></span>{% endif -%}
<span class="value" style="left:{{ row.bar.value }}"></span>
{%- if row.bar.floor %}<span class="floor" style="left:{{ row.bar.floor }}"></span>{% endif -%}
</div>{% else %}–{% endif %}</td><td>{{ row.floor }}</td><td>{{ row.counts }}</td></tr>
{% endfor %}</tbody></table>
{% if calibration and calibration.forecasts %}<h2>Calibration</h2>
<p>{{ calibration.forecasts }} records with a confidence; Brier score {{ "%.3f"|format(calibration.brier) }} (lower is better).</p>
<table class="calibration"><tr><th>confidence</th><th>records</th><th>mean confidence</th><th>share correct</th></tr>
{% for b in calibration.bins if b.count %}<tr><td>{{ "%.1f"|format(b.low) }}–{{ "%.1f"|format(b.high) }}</td><td>{{ b.count }}</td><td>{{ b.mean_confidence }}</td><td>{{ b.accuracy }}</td></tr>{% endfor %}
</table>
<table class="thresholds"><tr><th>min_confidence</th><th>kept</th><th>precision</th><th>recall</th><th>F1</th></tr>
{% for t in calibration.thresholds %}<tr><td>{{ t.threshold }}</td><td>{{ t.kept }}</td><td>{{ t.precision }}</td><td>{{ t.recall }}</td><td>{{ t.f1 }}</td></tr>{% endfor %}
</table>{% endif %}
{% if split_columns|length > 1 %}<h2>By split</h2>
<table class="splits"><tr>{% for column in split_columns %}<th>{{ column }}</th>{% endfor %}</tr>
{% for row in split_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
<h2>Documents</h2>
<p>Worst first: failed documents, then by detection F1, then parties F1. Click a column to sort.
<label>Tag: <select id="tag-filter"><option value="">all</option>
{% for tag, n in tags %}<option value="{{ tag }}">{{ tag }} ({{ n }})</option>{% endfor %}</select></label>
<span id="doc-count">{{ documents|length }} documents</span></p>
<table class="documents" id="documents"><thead><tr>
<th data-sort="rank" data-type="number"><button type="button">rank</button></th>
<th data-sort="id"><button type="button">document</button></th>
<th data-sort="split"><button type="button">split</button></th>
<th data-sort="detection" data-type="number"><button type="button">detection F1</button></th>
<th data-sort="parties" data-type="number"><button type="button">parties F1</button></th>
<th data-sort="gold" data-type="number"><button type="button">gold</button></th>
<th data-sort="pred" data-type="number"><button type="button">predicted</button></th>
<th>tags</th></tr></thead>
<tbody>{% for doc in documents %}<tr class="doc-row" data-doc="{{ doc.anchor }}" data-rank="{{ doc.rank }}" data-id="{{ doc.id }}" data-split="{{ doc.split }}" data-detection="{{ doc.detection }}" data-parties="{{ doc.parties }}" data-gold="{{ doc.n_gold }}" data-pred="{{ doc.n_pred }}">
<td>{{ doc.rank }}</td><td><a href="#{{ doc.anchor }}">{{ doc.id }}</a>{% if doc.error %} <span class="bad">failed</span>{% endif %}</td><td>{{ doc.split }}</td><td>{{ doc.f1 }}</td><td>{{ doc.pf1 }}</td><td>{{ doc.n_gold }}</td><td>{{ doc.n_pred }}</td>
<td>{% for tag in doc.tags %}<span class="tag">{{ tag }}</span>{% endfor %}</td></tr>
{% endfor %}</tbody></table>
<p>Evidence highlighting: <mark class="gold">gold only</mark> <mark class="pred">predicted only</mark> <mark class="both">both</mark></p>
<div id="doc-sections">{% for doc in documents %}<section class="doc" id="{{ doc.anchor }}" data-rank="{{ doc.rank }}" data-id="{{ doc.id }}">
<h3>{{ doc.id }} <small>{{ doc.split }} · detection F1 {{ doc.f1 }} · parties F1 {{ doc.pf1 }} · tokens {{ doc.tokens }}{% if doc.error %} · <span class="bad">{{ doc.error }}</span>{% endif %}</small></h3>
<p>{% for tag in doc.tags %}<span class="tag">{{ tag }}</span>{% endfor %}</p>
<div class="text">{{ doc.text_html | safe }}</div>
<table class="gold-pred"><tr><th>gold</th><th>predicted</th></tr><tr><td><pre>{{ doc.gold }}</pre></td><td><pre>{{ doc.pred }}</pre></td></tr></table>
</section>
{% endfor %}</div>
<script>{{ script | safe }}</script>
</body></html>
"""
"""The Jinja2 template of the page (rendered with autoescaping on)."""
