"""The ``pactx`` command line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pactx._version import __version__
from pactx.documents import Document, InputFailure, read_documents
from pactx.errors import PactxError
from pactx.redaction import redact

app = typer.Typer(
    name="pactx",
    help="Extract validated, source-grounded security-agreement records from news text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pactx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """pactx: security agreements from news text, validated and grounded."""


def _open_output(path: Path | None, append: bool) -> TextIO:
    if path is None or str(path) == "-":
        return sys.stdout
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a" if append else "w", encoding="utf-8")


def _failure_line(doc_id: str, source: str | None, kind: str, message: str) -> str:
    return json.dumps(
        {"id": doc_id, "source": source, "error": {"type": kind, "message": redact(message)}},
        ensure_ascii=False,
    )


@app.command()
def extract(
    paths: Annotated[list[Path], typer.Argument(help="Text files, directories, globs or .jsonl files.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="JSONL file to write (default: stdout).")
    ] = None,
    lines: Annotated[bool, typer.Option("--lines", help="One document per line.")] = False,
    failures: Annotated[
        Path | None,
        typer.Option(help="JSONL file for failed documents (default: OUTPUT.failures.jsonl)."),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible endpoint (env PACTX_BASE_URL).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name, or embedded model (env PACTX_MODEL).")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="tools, json_schema, json or md_json (env PACTX_MODE).")
    ] = None,
    prompt: Annotated[str, typer.Option(help="Prompt name or .toml path.")] = "extract_v1",
    max_reasks: Annotated[int, typer.Option(help="Validation re-asks after the first try.")] = 2,
) -> None:
    """Extract agreements from documents, one JSON line per document."""
    from pactx.extraction import Extractor

    try:
        extractor = Extractor(base_url=base_url, model=model, mode=mode, prompt=prompt, max_reasks=max_reasks)
    except PactxError as exc:
        err.print(f"[red]error:[/red] {redact(str(exc))}")
        raise typer.Exit(2) from None

    items = list(read_documents(paths, lines=lines))
    out = _open_output(output, append=False)
    failures_path = failures or (
        output.with_suffix(".failures.jsonl") if output and str(output) != "-" else None
    )
    failed_lines: list[str] = []
    done = agreements = 0
    started = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]extract"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal and not _force_progress(),
    )
    try:
        with progress:
            task = progress.add_task("extract", total=len(items), failed=0)
            for item in items:
                if isinstance(item, InputFailure):
                    failed_lines.append(_failure_line(item.id, item.source, "InputError", item.error))
                    err.print(f"[yellow]skipped[/yellow] {item.source}: {item.error}")
                else:
                    found = _extract_one(extractor, item, out, failed_lines)
                    if found is not None:
                        done += 1
                        agreements += found
                progress.update(task, advance=1, failed=len(failed_lines))
    finally:
        if out is not sys.stdout:
            out.close()
    if failures_path and failed_lines:
        failures_path.write_text("\n".join(failed_lines) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    _summary(len(items), done, agreements, len(failed_lines), elapsed, output, failures_path)
    if failed_lines:
        raise typer.Exit(1)


def _extract_one(
    extractor: Any, doc: Document, out: TextIO, failed_lines: list[str]
) -> int | None:
    """Extract one document; write its line and return its agreement count, or None on failure."""
    try:
        result = extractor.extract(doc.text, source_id=doc.id)
    except PactxError as exc:
        failed_lines.append(_failure_line(doc.id, doc.source, type(exc).__name__, str(exc)))
        err.print(f"[red]failed[/red] {redact(str(exc))[:300]}")
        return None
    line = {"id": doc.id, "source": doc.source, "result": result.model_dump(mode="json")}
    out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()
    return len(result.agreements)


def _force_progress() -> bool:
    import os

    return os.environ.get("PACTX_PROGRESS") == "1"


def _summary(
    total: int,
    done: int,
    agreements: int,
    failed: int,
    elapsed: float,
    output: Path | None,
    failures_path: Path | None,
) -> None:
    table = Table(title="pactx extract", show_header=False)
    table.add_row("documents", str(total))
    table.add_row("extracted", str(done))
    table.add_row("agreements found", str(agreements))
    table.add_row("failures", str(failed))
    table.add_row("time", f"{elapsed:.1f} s ({elapsed / max(total, 1):.2f} s/document)")
    if output:
        table.add_row("output", str(output))
    if failures_path and failed:
        table.add_row("failures file", str(failures_path))
    err.print(table)




def _register_subcommands() -> None:
    """Commands that live in their own modules: eval harness and dataset building."""
    from pactx import cli_dataset
    from pactx.evals.cli import eval_app

    app.add_typer(eval_app, name="eval")
    app.command("consolidate")(cli_dataset.consolidate)
    app.command("export")(cli_dataset.export)


_register_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
