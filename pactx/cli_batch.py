"""``pactx batch submit | status | collect | cancel``: provider Batch APIs from the command line.

Plain Typer commands over :mod:`pactx.batch_api`; ``pactx.cli`` registers the group.
Exit status: 0 done (or, for submit and status, nothing wrong), 1 some documents failed or
the provider could not be reached (nothing is lost: run the command again), 2 usage or
configuration error, 3 batches are still running (collect again later, or use ``--wait``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pactx.chunking import DEFAULT_MAX_CHUNK_CHARS
from pactx.errors import PactxError, ProviderError
from pactx.redaction import redact

__all__ = ["batch_app", "EXIT_RUNNING"]

EXIT_RUNNING = 3
"""Exit status of ``collect`` while batches still run."""

batch_app = typer.Typer(
    help="Provider Batch APIs (OpenAI's /v1/batches): submit, status, collect, cancel.",
    no_args_is_help=True,
)
err = Console(stderr=True)

_JOB = typer.Argument(help="The job folder (written by submit).")


def _fail(exc: Exception) -> typer.Exit:
    """Print an error by name and return the exit to raise (1 provider, 2 configuration)."""
    err.print(f"[red]error:[/red] {redact(str(exc))}")
    if isinstance(exc, ProviderError):
        err.print("nothing is lost: run the same command again to continue")
        return typer.Exit(1)
    return typer.Exit(2)


def _print_status(status: Any) -> None:
    table = Table(title=f"pactx batch {status.job_id} ({status.state})")
    for column in ("round", "part", "requests", "batch", "status", "done", "failed"):
        table.add_column(column)
    for part in status.parts:
        table.add_row(
            str(part.round), part.name, str(part.requests), part.batch_id or "-", part.status,
            str(part.completed), str(part.failed),
        )
    Console().print(table)
    typer.echo(f"documents {status.documents} ({status.cached} already in the cache), requests {status.requests}")
    for part in status.parts:
        for error in part.errors:
            err.print(f"[yellow]{part.name}[/yellow] {error}")


@batch_app.command("submit")
def submit_command(
    paths: Annotated[list[Path], typer.Argument(help="Text files, directories, globs or .jsonl files.")],
    out: Annotated[Path, typer.Option("--out", help="The job folder to create (or to continue).")],
    lines: Annotated[bool, typer.Option("--lines", help="One document per line.")] = False,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint (env PACTX_BASE_URL).")] = None,
    model: Annotated[str | None, typer.Option(help="Model name (env PACTX_MODEL).")] = None,
    mode: Annotated[str | None, typer.Option(help="tools, json_schema, json or md_json (env PACTX_MODE).")] = None,
    prompt: Annotated[str | None, typer.Option(help="Prompt name or .toml path.")] = None,
    min_confidence: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="As for extract.")] = None,
    max_reasks: Annotated[int, typer.Option(help="Validation re-asks after the first try.")] = 2,
    max_chunk_chars: Annotated[
        int, typer.Option(min=200, help="Longer documents are requested in chunks of this size.")
    ] = DEFAULT_MAX_CHUNK_CHARS,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for one live answer.")] = 60.0,
    max_requests: Annotated[int, typer.Option(min=1, help="Requests per batch at most.")] = 50_000,
    max_bytes: Annotated[int, typer.Option(min=1, help="Bytes per batch input file at most.")] = 200_000_000,
    reask: Annotated[str, typer.Option(help="Second round for invalid or unanswered: live or batch.")] = "live",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Request documents even if cached.")] = False,
) -> None:
    """Write the requests as batch JSONL, upload them and create the batches (run again to resume)."""
    from pactx import batch_api
    from pactx.documents import read_documents

    try:
        status = batch_api.submit(
            read_documents(paths, lines=lines),
            out,
            base_url=base_url, model=model, mode=mode, prompt=prompt, min_confidence=min_confidence,
            max_reasks=max_reasks, max_chunk_chars=max_chunk_chars, timeout=timeout,
            max_requests=max_requests, max_bytes=max_bytes, reask=reask, cache=not no_cache,
        )
    except (PactxError, FileNotFoundError, ValueError) as exc:
        raise _fail(exc) from None
    _print_status(status)
    typer.echo(f"next: pactx batch status {out}   then: pactx batch collect {out}")


@batch_app.command("status")
def status_command(job: Annotated[Path, _JOB]) -> None:
    """Ask the provider how the job's batches are doing."""
    from pactx import batch_api

    try:
        status = batch_api.status(job)
    except PactxError as exc:
        raise _fail(exc) from None
    _print_status(status)


@batch_app.command("cancel")
def cancel_command(job: Annotated[Path, _JOB]) -> None:
    """Cancel the job's running batches (collect still writes what they answered)."""
    from pactx import batch_api

    try:
        status = batch_api.cancel(job)
    except PactxError as exc:
        raise _fail(exc) from None
    _print_status(status)


@batch_app.command("collect")
def collect_command(
    job: Annotated[Path, _JOB],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="JSONL to write (default JOB/out.jsonl).")] = None,
    failures: Annotated[Path | None, typer.Option(help="Failures JSONL (default OUTPUT.failures.jsonl).")] = None,
    reask: Annotated[str | None, typer.Option(help="live or batch (default: the job's).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until every batch has ended.")] = False,
    poll_interval: Annotated[float, typer.Option(min=0.01, help="Seconds between polls with --wait.")] = 60.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Live re-asks in flight at once.")] = 8,
    rpm: Annotated[float | None, typer.Option("--rpm", min=1, help="Live requests per minute.")] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", min=1, help="Live tokens per minute.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor fill the result cache.")] = False,
) -> None:
    """Download, validate and ground the answers; write OUTPUT and its failures file (run again to resume)."""
    from pactx import batch_api

    try:
        report = batch_api.collect(
            job, output=output, failures=failures, reask=reask, wait=wait, poll_interval=poll_interval,
            concurrency=concurrency, requests_per_minute=rpm, tokens_per_minute=tpm, cache=not no_cache,
        )
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted:[/yellow] what is written is complete; run `pactx batch collect {job}` again")
        raise typer.Exit(130) from None
    except PactxError as exc:
        raise _fail(exc) from None
    for note in report.notes:
        err.print(f"[yellow]note[/yellow] {note}")
    table = Table(title=f"pactx batch collect ({report.state})", show_header=False)
    table.add_row("written", f"{report.written} ({report.from_cache} from cache)")
    table.add_row("failures", str(report.failed))
    if report.already_done:
        table.add_row("written by an earlier collect", str(report.already_done))
    table.add_row("answers from batches", str(report.batch_answers))
    table.add_row("live calls", str(report.live_calls))
    if report.unanswered or report.malformed:
        table.add_row("requests unanswered / malformed lines", f"{report.unanswered} / {report.malformed}")
    if report.pending:
        table.add_row("documents waiting for the next round", str(report.pending))
    table.add_row("rounds", str(report.rounds))
    table.add_row("output", str(report.output))
    err.print(table)
    if report.state != "done":
        err.print(f"batches are still running: run `pactx batch collect {job}` again later (or add --wait)")
        raise typer.Exit(EXIT_RUNNING)
    if report.failed:
        raise typer.Exit(1)
