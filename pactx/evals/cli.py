"""``pactx eval``: run the extractor over the fixtures, score, report, and gate CI.

* ``pactx eval [--mode live|record|replay] [--model M] [--split dev|test|holdout|all] [--check] [--update-baseline]``
* ``pactx eval score PREDICTIONS.jsonl`` scores any predictions file, no model needed
* ``pactx eval compare A.jsonl B.jsonl`` paired comparison of two prediction files
* ``pactx eval table`` the README table from the accepted baselines
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pactx.errors import PactxError
from pactx.evals.fixtures import SPLITS, Case, by_split, default_fixtures_path, evals_dir, load_cases
from pactx.evals.gate import DEFAULT_TOLERANCE, check_splits
from pactx.evals.metrics import HEADLINE_METRICS
from pactx.evals.predictions import Prediction, load_predictions
from pactx.evals.reports import print_terminal, write_reports
from pactx.evals.runner import (
    RunSpec,
    compare,
    evaluate,
    make_extractor,
    predict,
    score_splits,
    second_annotator_agreement,
    write_predictions,
)
from pactx.evals.scoring import RunScore, score_run
from pactx.providers import DEFAULT_EMBEDDED_MODEL, EMBEDDED_MODELS
from pactx.redaction import redact

eval_app = typer.Typer(
    help="Run and score the eval fixtures (live, record or replay) and check against baselines.",
    invoke_without_command=True,
    no_args_is_help=False,
)
err = Console(stderr=True)

FixturesOption = Annotated[Path | None, typer.Option("--fixtures", help="Fixture cases (JSONL).")]
OutOption = Annotated[Path, typer.Option("--out", help="Folder for report.json/.md/.html and predictions.")]
SplitOption = Annotated[str, typer.Option("--split", help="Fixture split: dev, test, holdout or all.")]
SPLIT_CHOICES = (*SPLITS, "all")


def _load(fixtures: Path, split: str) -> list[Case]:
    if split not in SPLIT_CHOICES:
        raise ValueError(f"unknown split {split!r}; choose {', '.join(SPLIT_CHOICES)}")
    return load_cases(fixtures, split=split)


def _baseline_splits(
    cases: list[Case], baseline: dict[str, Prediction], bootstrap: int
) -> dict[str, RunScore | None]:
    """The baseline's answers scored on each split; ``None`` for a split it has no answer for."""
    present = by_split([case for case in cases if case.id in baseline])
    scores = score_splits(cases, baseline, bootstrap=bootstrap)
    return {name: scores[name] if name in present else None for name in scores}


def baselines_dir() -> Path:
    return evals_dir() / "baselines"


def _baseline_paths(model: str, strategy: str) -> tuple[Path, Path]:
    """The accepted baseline of one model and strategy: its report and its predictions."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{model}.{strategy}")
    return baselines_dir() / f"{safe}.json", baselines_dir() / f"{safe}.predictions.jsonl"


def _second_annotator(fixtures: Path) -> list[Case]:
    path = fixtures.with_name("second_annotator.jsonl")
    return load_cases(path) if path.exists() else []


def _cluster_scores(cases: list[Case], predictions: dict[str, Prediction], fixtures: Path) -> dict[str, Any] | None:
    clusters_file = fixtures.with_name("clusters.json")
    if not clusters_file.exists():
        return None
    try:
        from pactx.evals.consolidation_scores import cluster_report
    except ImportError:  # pragma: no cover - consolidation not installed
        return None
    return cluster_report(cases, predictions, clusters_file)


def _finish(
    report: dict[str, Any],
    cases: list[Case],
    predictions: dict[str, Prediction],
    out: Path,
    lines: list[dict[str, Any]] | None,
) -> None:
    if lines is not None:
        write_predictions(lines, out / "predictions.jsonl")
    paths = write_reports(report, out, cases, predictions)
    print_terminal(report, err)
    err.print("reports: " + ", ".join(str(p) for p in paths.values()))


@eval_app.callback()
def run(
    ctx: typer.Context,
    mode: Annotated[str, typer.Option(help="live, record (live and store answers) or replay (stored answers only).")] = "replay",
    model: Annotated[str | None, typer.Option(help="Model (embedded name or endpoint model).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint (env PACTX_BASE_URL).")] = None,
    prompt: Annotated[str | None, typer.Option(help="Prompt name or .toml path (default: the strategy's).")] = None,
    strategy: Annotated[str | None, typer.Option(help="direct or staged (default: PACTX_STRATEGY, else the model's best).")] = None,
    fixtures: Annotated[Path | None, typer.Option("--fixtures", help="Fixture cases (JSONL).")] = None,
    split: SplitOption = "all",
    out: OutOption = Path("eval-report"),
    check_baseline: Annotated[bool, typer.Option("--check", help="Fail if worse than the accepted baseline.")] = False,
    update_baseline: Annotated[bool, typer.Option("--update-baseline", help="Accept this run as the new baseline.")] = False,
    tolerance: Annotated[float, typer.Option(help="Allowed drop of a headline metric.")] = DEFAULT_TOLERANCE,
    limit: Annotated[int | None, typer.Option(help="Only the first N cases (not with --check).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 1000,
) -> None:
    """Run the extractor over the fixtures, score it and write the reports."""
    if ctx.invoked_subcommand is not None:
        return
    fixtures = fixtures or default_fixtures_path()
    try:
        cases = _load(fixtures, split)
        if limit:
            cases = cases[:limit]
        extractor = make_extractor(
            RunSpec(mode=mode, model=model, base_url=base_url, prompt=prompt, strategy=strategy)
        )
    except (PactxError, OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {redact(str(exc))}")
        raise typer.Exit(2) from None
    progress = Progress(
        TextColumn(f"[bold]eval {mode}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=not err.is_terminal,
    )
    with progress:
        task = progress.add_task("eval", total=len(cases))
        output = predict(cases, extractor, on_done=lambda _id, _ok: progress.advance(task))
    if output.replay_misses:
        err.print(f"[red]{len(output.replay_misses)} case(s) have no recording[/red] (first: {output.replay_misses[0]})")
    report, _ = evaluate(
        cases, output.predictions, fixtures_path=fixtures,
        run_info={"mode": mode, "split": split, "model": output.model, "provider": output.provider,
                  "prompt_version": output.prompt.version, "prompt_hash": output.prompt.sha256,
                  "strategy": extractor.strategy,
                  "wall_seconds": round(output.seconds, 2)},
        bootstrap=bootstrap,
    )
    report["annotator_agreement"] = second_annotator_agreement(cases, _second_annotator(fixtures), bootstrap=bootstrap)
    report["clusters"] = _cluster_scores(cases, output.predictions, fixtures)
    failed = False
    report_path, predictions_path = _baseline_paths(output.model, extractor.strategy)
    if check_baseline:
        if not report_path.exists() or not predictions_path.exists():
            err.print(f"[red]no baseline for {output.model}[/red] at {report_path}; run with --update-baseline")
            raise typer.Exit(1)
        baseline_scores = _baseline_splits(cases, load_predictions(predictions_path), bootstrap)
        current_scores = score_splits(cases, output.predictions, bootstrap=bootstrap)
        verdict = check_splits(current_scores, baseline_scores, missing=output.replay_misses, tolerance=tolerance)
        report["gate"] = verdict.to_dict()
        failed = not verdict.passed
    _finish(report, cases, output.predictions, out, output.lines)
    if update_baseline:
        if output.replay_misses or limit or split != "all":
            err.print("[red]refusing to update the baseline from an incomplete run[/red]")
            raise typer.Exit(1)
        report_path.parent.mkdir(parents=True, exist_ok=True)
        baseline = {k: v for k, v in report.items() if k != "gate"}
        report_path.write_text(json.dumps(baseline, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        write_predictions(output.lines, predictions_path)
        err.print(f"baseline updated: {report_path}")
    if failed or output.replay_misses:
        raise typer.Exit(1)


@eval_app.command("score")
def score_command(
    predictions: Annotated[list[Path], typer.Argument(help="Predictions JSONL (pactx extract output, failures files too).")],
    fixtures: FixturesOption = None,
    split: SplitOption = "all",
    out: OutOption = Path("eval-report"),
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
) -> None:
    """Score any predictions file against the gold, without calling a model."""
    fixtures = fixtures or default_fixtures_path()
    try:
        cases = _load(fixtures, split)
        loaded = load_predictions(*predictions)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    report, _ = evaluate(cases, loaded, fixtures_path=fixtures, run_info={"mode": "score", "split": split, "predictions": [str(p) for p in predictions]}, bootstrap=bootstrap)
    report["annotator_agreement"] = second_annotator_agreement(cases, _second_annotator(fixtures), bootstrap=bootstrap)
    report["clusters"] = _cluster_scores(cases, loaded, fixtures)
    _finish(report, cases, loaded, out, None)


@eval_app.command("compare")
def compare_command(
    baseline: Annotated[Path, typer.Argument(help="Predictions JSONL of run A (the reference).")],
    candidate: Annotated[Path, typer.Argument(help="Predictions JSONL of run B.")],
    fixtures: FixturesOption = None,
    split: SplitOption = "all",
    output: Annotated[Path | None, typer.Option("-o", help="Write the comparison as JSON.")] = None,
) -> None:
    """Paired comparison of two runs: bootstrap interval of each difference, exact McNemar."""
    try:
        cases = load_cases(fixtures or default_fixtures_path(), split=split)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    gold = {case.id: case.gold for case in cases}
    texts = {case.id: case.text for case in cases}
    a = score_run(gold, load_predictions(baseline), texts)
    b = score_run(gold, load_predictions(candidate), texts)
    result = compare(a, b)
    from rich.table import Table

    title = f"B ({candidate.name}) minus A ({baseline.name}), {split} split, paired bootstrap 95% CI"
    table = Table(title=title)
    for column in ("metric", "A", "B", "B - A", "95% CI", "beyond noise"):
        table.add_column(column)
    for name in HEADLINE_METRICS:
        d = result["metrics"][name]
        fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
        ci = "–" if d["ci_low"] is None else f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
        table.add_row(name, fmt(d["a"]), fmt(d["b"]), "–" if d["diff"] is None else f"{d['diff']:+.3f}", ci, "yes" if d["significant"] else "no")
    err.print(table)
    for field_name, test in result["mcnemar"].items():
        err.print(f"McNemar {field_name}: {test}")
    if output:
        output.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _fmt2(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _table_cells(head: dict[str, Any], *, with_ci: bool) -> str:
    def cell(name: str) -> str:
        metric = head[name]
        ci = "" if not with_ci or metric.get("ci_low") is None else f" [{metric['ci_low']:.2f}, {metric['ci_high']:.2f}]"
        return _fmt2(metric["value"]) + ci

    return (
        f"{cell('detection_f1')} | {cell('parties_f1')} "
        f"| {_fmt2(head['status_accuracy']['value'])} | {_fmt2(head['type_accuracy']['value'])}"
    )


def _report_splits(report: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Per-split headline and floor of a baseline report, in ``SPLITS`` order.

    A split the report has no scores for (added after it was recorded) maps to ``None``; a
    report older than the splits gives one ``all`` entry.
    """
    if report.get("splits"):
        recorded = dict(report["splits"])
        return {name: recorded.get(name) for name in SPLITS} | recorded
    return {"all (baseline predates the split)": {"headline": report["headline"], "floor": report["floor"]}}


@eval_app.command("table")
def table_command() -> None:
    """Print the README table: each model and strategy on each split (detection, parties, status, type, s/doc)."""
    rows = [
        "| model · strategy | split | detection F1 | parties F1 | status accuracy | type accuracy | schema-valid | s/document |",
        "|---|---|---|---|---|---|---|---|",
    ]
    floor_rows: list[str] = []
    agreement = None
    for path in sorted(baselines_dir().glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        floor_rows = []
        model, strategy = report["run"].get("model"), report["run"].get("strategy", "direct")
        known = EMBEDDED_MODELS.get(str(model))
        default = model == DEFAULT_EMBEDDED_MODEL and known is not None and known.default_strategy == strategy
        label = f"{model} · {strategy}{' (default)' if default else ''}"
        for split, entry in _report_splits(report).items():
            if entry is None:  # a split added after this baseline was recorded
                note = f"{split} (not in this baseline) | – | – | – | – | – | –"
                rows.append(f"| {label} | {note} |")
                floor_rows.append(f"| floor (rules, no LLM) | {note} |")
                continue
            head = entry["headline"]
            rows.append(
                f"| {label} | {split} | {_table_cells(head, with_ci=True)} "
                f"| {_fmt2(head['schema_valid']['value'])} | {report['run'].get('seconds_per_document', 0):.1f} |"
            )
            floor = entry["floor"]["headline"]
            floor_rows.append(
                f"| floor (rules, no LLM) | {split} | {_table_cells(floor, with_ci=False)} "
                f"| {_fmt2(floor['schema_valid']['value'])} | 0.0 |"
            )
        agreement = report.get("annotator_agreement")
    rows += floor_rows
    if floor_rows and agreement:
        head = agreement["headline"]
        rows.append(
            f"| second annotator vs first ({agreement['cases']} cases; the ceiling) | dev | {_table_cells(head, with_ci=False)} | – | – |"
        )
    sys.stdout.write("\n".join(rows) + "\n")
