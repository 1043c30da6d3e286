"""Eval reports: a terminal table, Markdown for a pull request, HTML to read document by document.

Every report states the model, provider, prompt version and hash, fixture-set hash, pactx
version, tokens, latency and date (the ``run`` section of the JSON report).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from rich.console import Console
from rich.table import Table

from pactx.evals.calibration import calibration_markdown
from pactx.evals.fixtures import Case
from pactx.evals.metrics import HEADLINE_METRICS
from pactx.schema import SecurityAgreement

_SPLIT_LEGEND = "dev: seen in development; test: held out; holdout: written blind after the rules were frozen"

__all__ = ["print_terminal", "markdown", "html_report", "split_table", "write_reports"]

_LABELS = {
    "detection_f1": "agreement detection F1",
    "parties_f1": "parties F1 (codes)",
    "status_accuracy": "status accuracy",
    "type_accuracy": "type accuracy",
    "obligations_f1": "obligations F1",
    "areas_f1": "cooperation areas F1",
    "provisions_f1": "provisions F1",
    "dates_exact": "dates exact",
    "dates_partial": "dates exact or partial",
    "evidence_grounding": "evidence grounding rate",
    "schema_valid": "schema-valid rate",
}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _ci(metric: dict[str, Any]) -> str:
    low, high = metric.get("ci_low"), metric.get("ci_high")
    return "–" if low is None or high is None else f"[{low:.2f}, {high:.2f}]"


def _counts(metric: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in metric.get("counts", {}).items())


def _run_lines(run: dict[str, Any]) -> list[tuple[str, str]]:
    tokens = run.get("tokens", {})
    return [
        ("model", f"{run.get('model', '?')} ({run.get('provider', '?')})"),
        ("mode", str(run.get("mode", "?"))),
        ("prompt", f"{run.get('prompt_version', '?')} sha256:{str(run.get('prompt_hash', ''))[:12]}"),
        ("fixtures", f"{run.get('cases', '?')} cases sha256:{str(run.get('fixture_hash', ''))[:12]}"),
        ("split", _split_line(run)),
        ("pactx", str(run.get("pactx_version", "?"))),
        ("constraints", f"sha256:{str(run['constraints_hash'])[:12]}" if run.get("constraints_hash") else "none"),
        ("tokens", f"{tokens.get('total_tokens', 0):,} ({tokens.get('prompt_tokens', 0):,} prompt, {tokens.get('completion_tokens', 0):,} completion)"),
        ("latency", f"{run.get('seconds_per_document', 0):.2f} s/document, {run.get('latency_s_total', 0):.1f} s total"),
        ("failures", str(run.get("failures", 0))),
        ("date", str(run.get("date", "?"))),
    ]


def _split_line(run: dict[str, Any]) -> str:
    counts = ", ".join(f"{name} {n}" for name, n in run.get("cases_by_split", {}).items())
    return f"{run.get('split', 'all')}" + (f" ({counts})" if counts else "")


def split_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the per-split table: each headline metric, model and floor, per split."""
    splits = report.get("splits") or {}
    columns = ["metric"] + [f"{name}{suffix}" for name in splits for suffix in ("", " floor")]
    rows = [
        [_LABELS[metric]] + [
            _fmt(cell["value"])
            for entry in splits.values()
            for cell in (entry["headline"][metric], entry["floor"]["headline"][metric])
        ]
        for metric in HEADLINE_METRICS
    ]
    return columns, rows


def _worst(report: dict[str, Any], n: int = 5) -> list[dict[str, Any]]:
    documents = report["scores"]["documents"]

    def key(doc: dict[str, Any]) -> tuple[float, str]:
        value = doc.get("detection_f1")
        return (2.0 if value is None else float(value), doc["id"])

    return sorted(documents, key=key)[:n]


def print_terminal(report: dict[str, Any], console: Console | None = None) -> None:
    """Headline metrics with intervals and the floor, then the worst documents."""
    console = console or Console(stderr=True)
    info = Table(show_header=False, title="pactx eval")
    for label, value in _run_lines(report["run"]):
        info.add_row(label, value)
    console.print(info)
    table = Table(title="headline metrics (micro, 95% bootstrap CI)")
    for column in ("metric", "value", "95% CI", "floor", "counts"):
        table.add_column(column)
    for name in HEADLINE_METRICS:
        metric = report["headline"][name]
        floor = report["floor"]["headline"][name]
        table.add_row(_LABELS[name], _fmt(metric["value"]), _ci(metric), _fmt(floor["value"]), _counts(metric))
    console.print(table)
    columns, rows = split_table(report)
    if rows and len(columns) > 1:
        by_split = Table(title=f"by split ({_SPLIT_LEGEND})")
        for column in columns:
            by_split.add_column(column)
        for row in rows:
            by_split.add_row(*row)
        console.print(by_split)
    if report.get("annotator_agreement"):
        agreement = report["annotator_agreement"]
        line = ", ".join(
            f"{_LABELS[n]} {_fmt(agreement['headline'][n]['value'])}"
            for n in ("detection_f1", "parties_f1", "status_accuracy")
        )
        console.print(f"annotator agreement on {agreement['cases']} cases (ceiling): {line}")
    worst = Table(title="worst documents (detection F1)")
    for column in ("document", "detection F1", "parties F1", "gold", "predicted", "status"):
        worst.add_column(column)
    for doc in _worst(report):
        worst.add_row(doc["id"], _fmt(doc.get("detection_f1")), _fmt(doc.get("parties_f1")),
                      str(doc.get("n_gold")), str(doc.get("n_pred")), str(doc.get("status")))
    console.print(worst)
    gate = report.get("gate")
    if gate:
        verdict = "[green]passed[/green]" if gate["passed"] else "[red]FAILED[/red]"
        console.print(f"baseline check: {verdict}")
        for reason in gate["reasons"]:
            console.print(f"  - {reason}")


def markdown(report: dict[str, Any]) -> str:
    """A Markdown summary fit for a pull-request comment."""
    run = report["run"]
    lines = [f"### pactx eval: {run.get('model', '?')}", ""]
    lines += [f"- **{label}**: {value}" for label, value in _run_lines(run)]
    lines += ["", "| metric | value | 95% CI | floor | counts |", "|---|---|---|---|---|"]
    for name in HEADLINE_METRICS:
        metric, floor = report["headline"][name], report["floor"]["headline"][name]
        lines.append(f"| {_LABELS[name]} | {_fmt(metric['value'])} | {_ci(metric)} | {_fmt(floor['value'])} | {_counts(metric)} |")
    columns, rows = split_table(report)
    if len(columns) > 1:
        lines += ["", f"By split ({_SPLIT_LEGEND}):", ""]
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    agreement = report.get("annotator_agreement")
    if agreement:
        lines += ["", f"Annotator agreement on {agreement['cases']} doubly labeled cases (the practical ceiling):", ""]
        lines += ["| metric | annotator B vs A |", "|---|---|"]
        lines += [f"| {_LABELS[n]} | {_fmt(agreement['headline'][n]['value'])} |" for n in HEADLINE_METRICS]
    clusters = report.get("clusters")
    if clusters:
        lines += ["", "Consolidation against gold clusters:", "", "| score | precision | recall | F1 |", "|---|---|---|---|"]
        for name in ("pairwise", "bcubed"):
            c = clusters[name]
            lines.append(f"| {name} | {_fmt(c['precision'])} | {_fmt(c['recall'])} | {_fmt(c['f1'])} |")
    lines += ["", "Worst documents:", "", "| document | detection F1 | parties F1 | gold | predicted |", "|---|---|---|---|---|"]
    for doc in _worst(report):
        lines.append(f"| {doc['id']} | {_fmt(doc.get('detection_f1'))} | {_fmt(doc.get('parties_f1'))} | {doc.get('n_gold')} | {doc.get('n_pred')} |")
    if report.get("calibration"):
        lines += calibration_markdown(report["calibration"])
    gate = report.get("gate")
    if gate:
        lines += ["", f"**Baseline check: {'passed' if gate['passed'] else 'FAILED'}**"]
        lines += [f"- {reason}" for reason in gate["reasons"]]
    return "\n".join(lines) + "\n"


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pactx eval: {{ run.model }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 1200px; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { border: 1px solid #ccc; padding: .3rem .6rem; vertical-align: top; }
.text { line-height: 1.6; background: #fafafa; padding: .8rem; border: 1px solid #eee; }
mark.gold { background: #c8f7c5; } mark.pred { background: #fde2a7; } mark.both { background: #9fd8f5; }
.doc { border-top: 2px solid #333; margin-top: 2rem; } pre { white-space: pre-wrap; font-size: .85rem; }
.bad { color: #b00; }
</style></head><body>
<h1>pactx eval: {{ run.model }}</h1>
<table>{% for label, value in run_lines %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}</table>
<h2>Headline metrics</h2>
<table><tr><th>metric</th><th>value</th><th>95% CI</th><th>floor</th><th>counts</th></tr>
{% for row in metrics %}<tr><td>{{ row.label }}</td><td>{{ row.value }}</td><td>{{ row.ci }}</td><td>{{ row.floor }}</td><td>{{ row.counts }}</td></tr>{% endfor %}
</table>
{% if calibration and calibration.forecasts %}<h2>Calibration</h2>
<p>{{ calibration.forecasts }} records with a confidence; Brier score {{ "%.3f"|format(calibration.brier) }} (lower is better).</p>
<table class="calibration"><tr><th>confidence</th><th>records</th><th>mean confidence</th><th>share correct</th></tr>
{% for b in calibration.bins if b.count %}<tr><td>{{ "%.1f"|format(b.low) }}–{{ "%.1f"|format(b.high) }}</td><td>{{ b.count }}</td><td>{{ b.mean_confidence }}</td><td>{{ b.accuracy }}</td></tr>{% endfor %}
</table>
<table class="thresholds"><tr><th>min_confidence</th><th>kept</th><th>precision</th><th>recall</th><th>F1</th></tr>
{% for t in calibration.thresholds %}<tr><td>{{ t.threshold }}</td><td>{{ t.kept }}</td><td>{{ t.precision }}</td><td>{{ t.recall }}</td><td>{{ t.f1 }}</td></tr>{% endfor %}
</table>{% endif %}
{% if split_columns|length > 1 %}<h2>By split</h2>
<table><tr>{% for column in split_columns %}<th>{{ column }}</th>{% endfor %}</tr>
{% for row in split_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
<p>Evidence highlighting: <mark class="gold">gold only</mark> <mark class="pred">predicted only</mark> <mark class="both">both</mark></p>
{% for doc in documents %}<div class="doc" id="{{ doc.id }}">
<h3>{{ doc.id }} <small>{{ doc.split }} · detection F1 {{ doc.f1 }} · parties F1 {{ doc.pf1 }}{% if doc.error %} · <span class="bad">{{ doc.error }}</span>{% endif %}</small></h3>
<div class="text">{{ doc.text_html | safe }}</div>
<table><tr><th>gold</th><th>predicted</th></tr><tr><td><pre>{{ doc.gold }}</pre></td><td><pre>{{ doc.pred }}</pre></td></tr></table>
</div>{% endfor %}
</body></html>
"""


def _spans(agreements: list[SecurityAgreement], text: str) -> set[tuple[int, int]]:
    from pactx.grounding import SourceText

    source = SourceText(text)
    spans: set[tuple[int, int]] = set()
    for agreement in agreements:
        for quote in agreement.evidence:
            found = source.find(quote.quote)
            if found is not None:
                spans.add((found.start, found.end))
    return spans


def _highlight(text: str, gold: set[tuple[int, int]], pred: set[tuple[int, int]]) -> str:
    marks = [0] * len(text)
    for start, end in gold:
        for i in range(start, end):
            marks[i] |= 1
    for start, end in pred:
        for i in range(start, end):
            marks[i] |= 2
    out: list[str] = []
    current = 0
    run: list[str] = []
    classes = {1: "gold", 2: "pred", 3: "both"}

    def flush() -> None:
        chunk = html.escape("".join(run))
        out.append(f'<mark class="{classes[current]}">{chunk}</mark>' if current else chunk)

    for char, mark in zip(text, marks, strict=True):
        if mark != current and run:
            flush()
            run.clear()
        current = mark
        run.append(char)
    if run:
        flush()
    return "".join(out)


def _brief(agreements: list[SecurityAgreement] | None) -> str:
    if agreements is None:
        return "(failed)"
    if not agreements:
        return "(no agreement)"
    rows = []
    for a in agreements:
        parties = ", ".join(f"{p.name}={p.code or '?'}" for p in a.parties)
        rows.append(
            f"{a.status.value} · {a.agreement_type.value}{' · ' + a.name if a.name else ''}\n"
            f"  parties: {parties}\n  obligations: {', '.join(o.value for o in a.obligations) or '–'}"
        )
    return "\n".join(rows)


def html_report(report: dict[str, Any], cases: list[Case], predictions: dict[str, Any]) -> str:
    """Each document's text with evidence highlighted, gold beside predicted."""
    environment = Environment(autoescape=select_autoescape(default=True))
    by_doc = {d["id"]: d for d in report["scores"]["documents"]}
    documents = []
    for case in cases:
        prediction = predictions.get(case.id)
        predicted = prediction.agreements if prediction is not None else None
        doc = by_doc.get(case.id, {})
        documents.append(
            {
                "id": case.id,
                "split": case.split,
                "f1": _fmt(doc.get("detection_f1")),
                "pf1": _fmt(doc.get("parties_f1")),
                "error": getattr(prediction, "error", None) if prediction is not None else "missing",
                "text_html": _highlight(case.text, _spans(case.gold, case.text), _spans(predicted or [], case.text)),
                "gold": _brief(case.gold),
                "pred": _brief(predicted),
            }
        )
    metrics = [
        {
            "label": _LABELS[name],
            "value": _fmt(report["headline"][name]["value"]),
            "ci": _ci(report["headline"][name]),
            "floor": _fmt(report["floor"]["headline"][name]["value"]),
            "counts": _counts(report["headline"][name]),
        }
        for name in HEADLINE_METRICS
    ]
    split_columns, split_rows = split_table(report)
    template = environment.from_string(_HTML)
    return template.render(
        run=report["run"], run_lines=_run_lines(report["run"]), metrics=metrics, documents=documents,
        split_columns=split_columns, split_rows=split_rows, calibration=report.get("calibration"),
    )


def write_reports(
    report: dict[str, Any], out_dir: Path, cases: list[Case], predictions: dict[str, Any]
) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "markdown": out_dir / "report.md",
        "html": out_dir / "report.html",
    }
    paths["json"].write_text(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(report), encoding="utf-8")
    paths["html"].write_text(html_report(report, cases, predictions), encoding="utf-8")
    return paths
