"""``pactx eval``: run the extractor over the fixtures, score, report, and gate CI.

* ``pactx eval [--mode live|record|replay] [--model M] [--split dev|test|holdout|holdout2|holdout3|holdout4|all] [--check] [--update-baseline]``
* ``pactx eval init`` a starter ``evals/`` folder in the current project
* ``pactx eval score PREDICTIONS.jsonl`` scores any predictions file, no model needed
* ``pactx eval compare A.jsonl B.jsonl`` paired comparison of two prediction files
* ``pactx eval table`` the README table from the accepted baselines

Every command finds the evals folder as :mod:`pactx.evals.locations` says (``--evals-dir``,
``PACTX_EVALS_DIR``, ``[tool.pactx]`` in pyproject.toml, ``./evals``); ``--suite builtin``
reads the fixtures that ship with pactx instead of the project's.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pactx.errors import PactxError
from pactx.evals.baselines import baseline_paths, check_against_baseline
from pactx.evals.fixtures import SPLITS, Case, load_cases
from pactx.evals.gate import DEFAULT_TOLERANCE
from pactx.evals.locations import SUITES, Suite, locate_evals_dir
from pactx.evals.metrics import HEADLINE_METRICS
from pactx.evals.predictions import Prediction, load_predictions
from pactx.evals.reports import print_terminal, write_marked_table, write_reports
from pactx.evals.scaffold import init_evals
from pactx.evals.runner import (
    RunSpec,
    compare,
    evaluate,
    make_extractor,
    predict,
    second_annotator_agreement,
    write_predictions,
)
from pactx.evals.scoring import RunScore, score_run
from pactx.pricing import parse_price
from pactx.providers import DEFAULT_EMBEDDED_MODEL, EMBEDDED_MODELS
from pactx.redaction import redact

eval_app = typer.Typer(
    help="Run and score the eval fixtures (live, record or replay) and check against baselines.",
    invoke_without_command=True,
    no_args_is_help=False,
)
err = Console(stderr=True)

FixturesOption = Annotated[Path | None, typer.Option("--fixtures", help="Fixture cases (JSONL); default: the suite's.")]
EvalsDirOption = Annotated[
    Path | None,
    typer.Option("--evals-dir", help="The evals folder (else PACTX_EVALS_DIR, [tool.pactx] evals-dir, ./evals)."),
]
SuiteOption = Annotated[str, typer.Option("--suite", help="project (the evals folder's fixtures) or builtin (pactx's own).")]
OutOption = Annotated[Path, typer.Option("--out", help="Folder for report.json/.md/.html and predictions.")]
SplitOption = Annotated[str, typer.Option("--split", help="Fixture split: dev, test, holdout, holdout2, holdout3, holdout4 or all.")]
SPLIT_CHOICES = (*SPLITS, "all")
PriceOption = Annotated[
    str | None,
    typer.Option("--price", help="USD per million tokens, in=...,out=...[,cached=...] (default: the built-in table)."),
]


def _load(fixtures: Path, split: str) -> list[Case]:
    if split not in SPLIT_CHOICES:
        raise ValueError(f"unknown split {split!r}; choose {', '.join(SPLIT_CHOICES)}")
    return load_cases(fixtures, split=split)


def _suite(name: str, evals_dir: Path | None, fixtures: Path | None = None) -> Suite:
    if name not in SUITES:
        raise typer.BadParameter(f"unknown suite {name!r}; choose {' or '.join(SUITES)}", param_hint="--suite")
    return Suite(name, evals_dir=evals_dir, fixtures=fixtures)


def _fail(exc: Exception) -> typer.Exit:
    """Print a usage error (never a traceback) and give the exit to raise."""
    err.print(f"[red]error:[/red] {redact(str(exc))}", soft_wrap=True)  # paths stay whole
    return typer.Exit(2)


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
    fixtures: FixturesOption = None,
    evals_dir: EvalsDirOption = None,
    suite: SuiteOption = "project",
    split: SplitOption = "all",
    out: OutOption = Path("eval-report"),
    check_baseline: Annotated[bool, typer.Option("--check", help="Fail if worse than the accepted baseline.")] = False,
    update_baseline: Annotated[bool, typer.Option("--update-baseline", help="Accept this run as the new baseline.")] = False,
    tolerance: Annotated[float, typer.Option(help="Allowed drop of a headline metric.")] = DEFAULT_TOLERANCE,
    limit: Annotated[int | None, typer.Option(help="Only the first N cases (not with --check).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 1000,
    price: PriceOption = None,
) -> None:
    """Run the extractor over the fixtures, score it and write the reports."""
    if ctx.invoked_subcommand is not None:
        return
    where = _suite(suite, evals_dir, fixtures)
    try:
        fixtures = where.fixtures
        run_price = parse_price(price) if price else None
        cases = _load(fixtures, split)
        if limit:
            cases = cases[:limit]
        extractor = make_extractor(
            RunSpec(mode=mode, model=model, base_url=base_url, prompt=prompt, strategy=strategy,
                    recordings=where.recordings if mode != "live" else None)
        )
        baselines = where.baselines if check_baseline or update_baseline else None
    except (PactxError, OSError, ValueError) as exc:
        raise _fail(exc) from None
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
        bootstrap=bootstrap, price=run_price,
    )
    report["annotator_agreement"] = second_annotator_agreement(cases, _second_annotator(fixtures), bootstrap=bootstrap)
    report["clusters"] = _cluster_scores(cases, output.predictions, fixtures)
    failed = False
    if baselines is not None:
        report_path, predictions_path = baseline_paths(baselines, output.model, extractor.strategy)
    if check_baseline:
        if not report_path.exists() or not predictions_path.exists():
            err.print(f"[red]no baseline for {output.model}[/red] at {report_path}; run with --update-baseline")
            raise typer.Exit(1)
        verdict = check_against_baseline(
            cases, output.predictions, predictions_path,
            missing=output.replay_misses, tolerance=tolerance, bootstrap=bootstrap,
        )
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
    evals_dir: EvalsDirOption = None,
    suite: SuiteOption = "project",
    split: SplitOption = "all",
    out: OutOption = Path("eval-report"),
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    price: PriceOption = None,
) -> None:
    """Score any predictions file against the gold, without calling a model."""
    try:
        fixtures = _suite(suite, evals_dir, fixtures).fixtures
        run_price = parse_price(price) if price else None
        cases = _load(fixtures, split)
        loaded = load_predictions(*predictions)
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    report, _ = evaluate(cases, loaded, fixtures_path=fixtures, run_info={"mode": "score", "split": split, "predictions": [str(p) for p in predictions]}, bootstrap=bootstrap, price=run_price)
    report["annotator_agreement"] = second_annotator_agreement(cases, _second_annotator(fixtures), bootstrap=bootstrap)
    report["clusters"] = _cluster_scores(cases, loaded, fixtures)
    _finish(report, cases, loaded, out, None)


@eval_app.command("compare")
def compare_command(
    baseline: Annotated[Path, typer.Argument(help="Predictions JSONL of run A (the reference).")],
    candidate: Annotated[Path, typer.Argument(help="Predictions JSONL of run B.")],
    fixtures: FixturesOption = None,
    evals_dir: EvalsDirOption = None,
    suite: SuiteOption = "project",
    split: SplitOption = "all",
    output: Annotated[Path | None, typer.Option("-o", help="Write the comparison as JSON.")] = None,
) -> None:
    """Paired comparison of two runs: bootstrap interval of each difference, exact McNemar."""
    try:
        fixtures = _suite(suite, evals_dir, fixtures).fixtures
        cases = _load(fixtures, split)
        runs = load_predictions(baseline), load_predictions(candidate)
        ids = {case.id for case in cases}
        for path, run in zip((baseline, candidate), runs, strict=True):
            if not ids & set(run):
                raise ValueError(f"no id in {path} is a case of {fixtures} ({split} split); pass the right --fixtures")
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    gold = {case.id: case.gold for case in cases}
    texts = {case.id: case.text for case in cases}
    a = score_run(gold, runs[0], texts)
    b = score_run(gold, runs[1], texts)
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
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(OSError(f"cannot write {output}: {exc}")) from None


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


def _report_splits(report: dict[str, Any], held: Collection[str] = SPLITS) -> dict[str, dict[str, Any] | None]:
    """Per-split headline and floor of a baseline report, in ``SPLITS`` order.

    A split the fixtures hold (``held``) that the report has no scores for (added after it was
    recorded) maps to ``None``; a split no fixture holds any more (its cases moved to ``dev``,
    guidelines §16) is left out unless the report scored it; a report older than the splits
    gives one ``all`` entry.
    """
    if report.get("splits"):
        recorded = dict(report["splits"])
        return {name: recorded.get(name) for name in SPLITS if name in held or name in recorded} | recorded
    return {"all (baseline predates the split)": {"headline": report["headline"], "floor": report["floor"]}}


def _seconds(run: dict[str, Any]) -> str:
    """A baseline's seconds per document; none for a replayed one (it timed no model)."""
    return "– (replayed)" if run.get("mode") == "replay" else f"{run.get('seconds_per_document', 0):.1f}"


@eval_app.command("table")
def table_command(
    evals_dir: EvalsDirOption = None,
    suite: SuiteOption = "project",
    readme: Annotated[Path | None, typer.Option("--readme", help="Also write the table into this Markdown file, between its <!-- eval-table:start --> and <!-- eval-table:end --> lines.")] = None,
) -> None:
    """Print the README table: each model and strategy on each split (detection, parties, status, type, s/doc)."""
    try:
        chosen = _suite(suite, evals_dir)
        baselines_dir = chosen.baselines
        held = {case.split for case in load_cases(chosen.fixtures)} if chosen.fixtures.is_file() else set(SPLITS)
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    rows = [
        "| model · strategy | split | detection F1 | parties F1 | status accuracy | type accuracy | schema-valid | s/document |",
        "|---|---|---|---|---|---|---|---|",
    ]
    floor_rows: list[str] = []
    agreement = None
    for path in sorted(baselines_dir.glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        floor_rows = []
        model, strategy = report["run"].get("model"), report["run"].get("strategy", "direct")
        known = EMBEDDED_MODELS.get(str(model))
        default = model == DEFAULT_EMBEDDED_MODEL and known is not None and known.default_strategy == strategy
        label = f"{model} · {strategy}{' (default)' if default else ''}"
        for split, entry in _report_splits(report, held).items():
            if entry is None:  # a split added after this baseline was recorded
                note = f"{split} (not in this baseline) | – | – | – | – | – | –"
                rows.append(f"| {label} | {note} |")
                floor_rows.append(f"| floor (rules, no LLM) | {note} |")
                continue
            head = entry["headline"]
            rows.append(
                f"| {label} | {split} | {_table_cells(head, with_ci=True)} "
                f"| {_fmt2(head['schema_valid']['value'])} | {_seconds(report['run'])} |"
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
    table = "\n".join(rows) + "\n"
    sys.stdout.write(table)
    if readme is not None:
        try:
            changed = write_marked_table(readme, table)
        except (OSError, ValueError) as exc:
            raise _fail(exc) from None
        err.print(f"{readme}: eval table {'updated' if changed else 'already up to date'}")


@eval_app.command("init")
def init_command(
    evals_dir: EvalsDirOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the starter files if they exist.")] = False,
) -> None:
    """Create a starter evals folder here: example fixtures, a guidelines stub, baselines/ and recordings/."""
    try:
        target = locate_evals_dir(evals_dir)
        written = init_evals(target.path, force=force)
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    for path in written:
        err.print(f"wrote {path}", soft_wrap=True)
    err.print(
        f"evals folder {target.path} (from {target.source}). Next: replace the example cases, then\n"
        "  PACTX_BASE_URL=... pactx eval --mode record --update-baseline\n"
        "  pactx eval --mode replay --check --model MODEL",
        soft_wrap=True,
    )
