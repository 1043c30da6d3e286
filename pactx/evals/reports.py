"""Eval reports: a terminal table, Markdown for a pull request, HTML to read document by document.

Every report states the model, provider, prompt version and hash, fixture-set hash, pactx
version, tokens, latency and date (the ``run`` section of the JSON report).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment
from rich.console import Console
from rich.table import Table

from pactx.evals.calibration import calibration_markdown
from pactx.evals.fixtures import Case
from pactx.evals.metrics import HEADLINE_METRICS
from pactx.evals.report_page import CSP, SCRIPT, STYLE, TEMPLATE
from pactx.pricing import Price, priced
from pactx.schema import SecurityAgreement

__all__ = [
    "EVAL_TABLE_MARKERS",
    "html_report",
    "markdown",
    "print_terminal",
    "split_table",
    "worst_first_key",
    "write_marked_table",
    "write_reports",
]

_SPLIT_LEGEND = (
    "dev: seen in development; test: held out; holdout splits: written blind after the rules were frozen"
)


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
        ("tokens", f"{tokens.get('total_tokens', 0):,} ({tokens.get('prompt_tokens', 0):,} prompt, "
                   f"{tokens.get('cached_tokens', 0):,} of them cached, {tokens.get('completion_tokens', 0):,} completion)"),
        ("cost", _cost_text(run)),
        ("latency", f"{run.get('seconds_per_document', 0):.2f} s/document, {run.get('latency_s_total', 0):.1f} s total"),
        ("failures", str(run.get("failures", 0))),
        ("date", str(run.get("date", "?"))),
    ]


def _cost_text(run: dict[str, Any]) -> str:
    cost = run.get("cost")
    if not cost:
        return "unknown (no price for this model; pass --price in=...,out=...)"
    return priced(cost["usd"], Price(**cost["price"]))


def _doc_tokens(tokens: dict[str, int] | None) -> str:
    if not tokens:
        return "–"
    return (f"{tokens.get('prompt_tokens', 0):,} prompt ({tokens.get('cached_tokens', 0):,} cached), "
            f"{tokens.get('completion_tokens', 0):,} completion")


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


def worst_first_key(doc: dict[str, Any]) -> tuple[int, float, float, str]:
    """Sort key of a scored document, worst first: failed or missing, then detection F1, then
    parties F1 (ascending; an undefined score last), then the id."""
    def score(name: str) -> float:
        value = doc.get(name)
        return 2.0 if value is None else float(value)

    failed = doc.get("status", "missing") != "ok"
    return (0 if failed else 1, score("detection_f1"), score("parties_f1"), str(doc.get("id", "")))


def _worst(report: dict[str, Any], n: int = 5) -> list[dict[str, Any]]:
    return sorted(report["scores"]["documents"], key=worst_first_key)[:n]


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


def _percent(value: float) -> str:
    return f"{100 * min(max(value, 0.0), 1.0):.1f}%"


def _bar(label: str, metric: dict[str, Any], floor: float | None) -> dict[str, Any] | None:
    """Positions (CSS percentages of a 0-to-1 track) of a metric's interval, value and floor."""
    value, low, high = metric.get("value"), metric.get("ci_low"), metric.get("ci_high")
    if value is None:
        return None
    ci = None if low is None or high is None else (_percent(low), _percent(max(high - low, 0.0)))
    text = f"{label} {value:.3f}" + ("" if ci is None else f", 95% CI {low:.3f} to {high:.3f}")
    text += "" if floor is None else f", floor {floor:.3f}"
    return {"ci": ci, "value": _percent(value), "floor": None if floor is None else _percent(floor), "label": text}


def _anchors(ids: list[str]) -> dict[str, str]:
    """A distinct HTML id for each document id (whitespace, which ids cannot hold, becomes _)."""
    anchors: dict[str, str] = {}
    used: set[str] = set()
    for doc_id in ids:
        anchor = base = "doc-" + "_".join(doc_id.split())
        n = 1
        while anchor in used:
            n += 1
            anchor = f"{base}-{n}"
        used.add(anchor)
        anchors[doc_id] = anchor
    return anchors


def _number(value: Any) -> str:
    return "" if value is None else f"{float(value):g}"


def html_report(report: dict[str, Any], cases: list[Case], predictions: dict[str, Any]) -> str:
    """A page to open in a browser: the headline metrics with interval bars; the documents, worst
    first, sortable and filtered by tag; each document's text with evidence highlighted and its
    gold beside its predicted records. All text is escaped."""
    environment = Environment(autoescape=True)
    by_doc = {d["id"]: d for d in report["scores"]["documents"]}
    ordered = sorted(cases, key=lambda case: worst_first_key({"id": case.id, **by_doc.get(case.id, {})}))
    anchors = _anchors([case.id for case in ordered])
    documents = []
    tag_counts: dict[str, int] = {}
    for rank, case in enumerate(ordered, start=1):
        prediction = predictions.get(case.id)
        predicted = prediction.agreements if prediction is not None else None
        doc = by_doc.get(case.id, {})
        for tag in case.tags:
            tag_counts[tag] = tag_counts.get(tag, 0) + 1
        documents.append(
            {
                "id": case.id,
                "anchor": anchors[case.id],
                "rank": rank,
                "split": case.split,
                "tags": sorted(set(case.tags)),
                "f1": _fmt(doc.get("detection_f1")),
                "pf1": _fmt(doc.get("parties_f1")),
                "detection": _number(doc.get("detection_f1")),
                "parties": _number(doc.get("parties_f1")),
                "n_gold": len(case.gold),
                "n_pred": "" if predicted is None else len(predicted),
                "tokens": _doc_tokens(report.get("tokens_by_document", {}).get(case.id)),
                "error": getattr(prediction, "error", None) if prediction is not None else "missing",
                "text_html": _highlight(case.text, _spans(case.gold, case.text), _spans(predicted or [], case.text)),
                "gold": _brief(case.gold),
                "pred": _brief(predicted),
            }
        )
    metrics = []
    for name in HEADLINE_METRICS:
        metric, floor = report["headline"][name], report["floor"]["headline"][name]["value"]
        metrics.append(
            {
                "name": name,
                "label": _LABELS[name],
                "value": _fmt(metric["value"]),
                "ci": _ci(metric),
                "bar": _bar(_LABELS[name], metric, floor),
                "floor": _fmt(floor),
                "counts": _counts(metric),
            }
        )
    split_columns, split_rows = split_table(report)
    template = environment.from_string(TEMPLATE)
    return template.render(
        run=report["run"], run_lines=_run_lines(report["run"]), metrics=metrics, documents=documents,
        tags=sorted(tag_counts.items()), split_columns=split_columns, split_rows=split_rows,
        calibration=report.get("calibration"), csp=CSP, style=STYLE, script=SCRIPT,
    )


EVAL_TABLE_MARKERS = ("<!-- eval-table:start -->", "<!-- eval-table:end -->")
"""The lines between which ``pactx eval table --readme FILE`` writes its table."""


def write_marked_table(path: Path, table: str, markers: tuple[str, str] = EVAL_TABLE_MARKERS) -> bool:
    """Replace what stands between the two marker lines of a Markdown file with ``table``.

    Returns whether the file changed. Raises ``ValueError`` naming the file when it lacks the
    markers (in order), and leaves the file as it was.
    """
    start_marker, end_marker = markers
    text = path.read_text(encoding="utf-8")
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"{path}: no {start_marker} ... {end_marker} lines to write the table between")
    body = table if table.endswith("\n") else table + "\n"
    updated = text[: start + len(start_marker)] + "\n" + body + text[end:]
    if updated == text:
        return False
    path.write_text(updated, encoding="utf-8")
    return True


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
