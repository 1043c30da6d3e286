"""The ``pactx`` command line."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

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
from pactx.chunking import DEFAULT_MAX_CHUNK_CHARS
from pactx.documents import Document, InputFailure, read_documents
from pactx.errors import PactxError
from pactx.pricing import Price, cost_line, resolve_price, usage_line
from pactx.redaction import redact
from pactx.schema import TokenUsage

app = typer.Typer(
    name="pactx",
    help="Extract validated, source-grounded security-agreement records from news text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cache_app = typer.Typer(help="The on-disk result cache (PACTX_CACHE_DIR).", no_args_is_help=True)
err = Console(stderr=True)

EXIT_INTERRUPTED = 130


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


# -- output files ---------------------------------------------------------------------------


class JsonlSink:
    """An append-only JSON-lines file: each record is written whole and flushed at once."""

    def __init__(self, path: Path | None, *, append: bool) -> None:
        self.path = path
        self.lines = 0
        if path is None:
            self._file: IO[bytes] = sys.stdout.buffer
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "ab" if append else "wb", buffering=0)  # noqa: SIM115

    def write(self, record: dict[str, Any]) -> None:
        """Write one record as one line, in one system call where the OS allows."""
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[self._file.write(view) or 0 :]
        self._file.flush()
        self.lines += 1

    def close(self) -> None:
        if self.path is not None:
            self._file.close()


def completed_ids(path: Path) -> set[str]:
    """Ids already written to an output file; a torn last line (killed run) is cut off first."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):  # the last line never got its newline: drop it
        with path.open("r+b") as handle:
            handle.truncate(end)
        err.print(f"[yellow]note[/yellow] cut an incomplete last line from {path}")
    ids: set[str] = set()
    unreadable: list[int] = []
    for number, raw in enumerate(data[:end].splitlines(), start=1):
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if isinstance(record, dict) and "result" in record and "id" in record:
            ids.add(str(record["id"]))
        elif raw.strip():
            unreadable.append(number)
    if unreadable:
        err.print(
            f"[yellow]warning[/yellow] {len(unreadable)} line(s) of {path} are not pactx result records "
            f"(first: line {unreadable[0]}); --resume cannot tell which documents they were, so those "
            "documents are extracted again"
        )
    return ids


def _default_failures(output: Path | None) -> Path | None:
    return output.with_suffix(".failures.jsonl") if output is not None else None


# -- the extract command ----------------------------------------------------------------------


@dataclass
class _Tally:
    """Counts for the progress bar and the closing summary."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    cached: int = 0
    agreements: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    """Tokens this run's model calls used (results from the cache used none)."""
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def rate(self) -> str:
        finished = self.done + self.failed
        return f"{finished / self.elapsed:.1f} docs/s" if self.elapsed > 0 else ""


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]extract"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[done]} done[/green] [red]{task.fields[failed]} failed[/red]"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal and not _force_progress(),
    )


def _force_progress() -> bool:
    return os.environ.get("PACTX_PROGRESS") == "1"


def _make_extractor(options: dict[str, Any]) -> Any:
    """The configured extractor, or exit 2 with the reason."""
    from pactx.extraction import Extractor

    try:
        return Extractor(**options)
    except (PactxError, FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/red] {redact(str(exc))}")
        raise typer.Exit(2) from None


@dataclass(frozen=True)
class _Inventory:
    """What a first pass over the inputs found: counts and ids, never the texts."""

    total: int
    done: int

    @classmethod
    def take(cls, items: Iterable[Document | InputFailure], done_ids: set[str]) -> _Inventory:
        ids: Counter[str] = Counter()
        total = 0
        for item in items:
            total += 1
            if isinstance(item, Document):
                ids[item.id] += 1
        duplicates = [i for i, n in ids.items() if n > 1]
        if duplicates:
            err.print(f"[yellow]warning[/yellow] {len(duplicates)} id(s) occur more than once, e.g. {duplicates[0]!r}")
        return cls(total, sum(n for i, n in ids.items() if i in done_ids))


def _pending(items: Iterable[Document | InputFailure], done_ids: set[str]) -> Iterator[Document | InputFailure]:
    """Items still to process, read lazily: documents whose id is not already in the output."""
    return (i for i in items if not (isinstance(i, Document) and i.id in done_ids))


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
        str | None,
        typer.Option(help="tools, json_schema, json_object_schema, json or md_json (env PACTX_MODE; default: the server family's)."),
    ] = None,
    prompt: Annotated[
        str | None, typer.Option(help="Prompt name or .toml path (default: the strategy's).")
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="direct (the model fills the schema) or staged (it chooses among pactx's "
            "candidates); default: PACTX_STRATEGY, else the model's best."
        ),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Drop agreements whose confidence is below this."),
    ] = None,
    max_reasks: Annotated[int, typer.Option(help="Validation re-asks after the first try.")] = 2,
    concurrency: Annotated[int, typer.Option(min=1, help="Documents in flight at once.")] = 8,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes sharing the batch (default: one per 64 of concurrency, at most one per CPU)."),
    ] = None,
    rpm: Annotated[float | None, typer.Option("--rpm", min=1, help="Model requests per minute.")] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", min=1, help="Model tokens per minute.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip documents already in OUTPUT and append the rest.")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the result cache.")] = False,
    max_chunk_chars: Annotated[
        int, typer.Option(min=200, help="Longer documents are extracted in chunks of this size.")
    ] = DEFAULT_MAX_CHUNK_CHARS,
    timeout: Annotated[float | None, typer.Option(min=0.1, help="Seconds to wait for one answer.")] = None,
    unordered: Annotated[
        bool, typer.Option("--unordered", help="Write lines as documents finish, not in input order.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Count tokens and estimate the cost per document; call no model, write no file."),
    ] = False,
    price: Annotated[
        str | None,
        typer.Option(help="USD per million tokens, in=...,out=...[,cached=...] (default: a built-in table of a few hosted models)."),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (a Ray cluster; needs pactx[ray]).")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: RAY_ADDRESS, else a local cluster).")
    ] = None,
    ray_workers: Annotated[
        int | None, typer.Option(min=1, help="Ray actors, each with --concurrency in flight (default: one per CPU).")
    ] = None,
) -> None:
    """Extract agreements from documents, one JSON line per document.

    Each line is appended and flushed as soon as its document is done (in input order unless
    --unordered); failures go to a separate file. Ctrl-C stops cleanly; run the command again
    with --resume to continue (finished results come back from the cache).
    """
    from pactx.cache import ResultCache

    output = None if output is not None and str(output) == "-" else output
    if resume and output is None:
        err.print("[red]error:[/red] --resume needs an output file (-o)")
        raise typer.Exit(2)
    options: dict[str, Any] = {
        "base_url": base_url,
        "model": model,
        "mode": mode,
        "prompt": prompt,
        "strategy": strategy,
        "min_confidence": min_confidence,
        "max_reasks": max_reasks,
        "max_chunk_chars": max_chunk_chars,
        "cache": None if no_cache else ResultCache(),
    }
    if timeout is not None:
        options["timeout"] = timeout
    if dry_run:
        options.update(_check_dry_run(base_url, model))
    extractor = _make_extractor(options)
    run_price = _price(price, extractor)
    run = None if dry_run else _engine(engine, ray_address, ray_workers)  # a dry run starts no engine
    logging.getLogger("instructor").addHandler(logging.NullHandler())  # pactx reports failures itself

    failures_path = failures or _default_failures(output)
    own_files = [p for p in (output, failures_path) if p is not None]  # never read back as input
    done_ids = completed_ids(output) if resume and output else set()
    try:  # a first pass counts the documents (for the progress bar); texts are read again lazily
        inventory = _Inventory.take(read_documents(paths, lines=lines, exclude=own_files), done_ids)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow] while reading the inputs; nothing was written")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    pending = _pending(read_documents(paths, lines=lines, exclude=own_files), done_ids)
    tally = _Tally(total=inventory.total, skipped=inventory.done)
    if tally.skipped:
        err.print(f"resuming: {tally.skipped} document(s) already in {output}")
    if dry_run:
        _dry_run(extractor, pending, run_price)
        return
    out = JsonlSink(output, append=resume)
    failed_sink = JsonlSink(failures_path, append=False) if failures_path else None
    interrupted = False
    assert run is not None
    try:
        outcomes = run(
            pending,
            extractor=extractor,
            concurrency=concurrency,
            requests_per_minute=rpm,
            tokens_per_minute=tpm,
            ordered=not unordered,
            workers=workers,
        )
        with _progress() as progress, closing(outcomes):
            task = progress.add_task("extract", total=inventory.total - inventory.done, done=0, failed=0, rate="")
            for outcome in outcomes:
                _record(outcome, out, failed_sink, tally)
                progress.update(task, advance=1, done=tally.done, failed=tally.failed, rate=tally.rate())
    except KeyboardInterrupt:
        interrupted = True
    except PactxError as exc:  # e.g. --workers with the embedded model
        err.print(f"[red]error:[/red] {redact(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        out.close()
        if failed_sink is not None:
            failed_sink.close()
        extractor.close()
    _summary(tally, output, failures_path, run_price, extractor.backend.model)
    if interrupted:
        _interrupted_message(tally, output)
        raise typer.Exit(EXIT_INTERRUPTED)
    if tally.failed:
        raise typer.Exit(1)


def _engine(engine: str, ray_address: str | None, ray_workers: int | None) -> Callable[..., Iterator[Any]]:
    """The ``extract_many`` of the chosen engine, or exit 2 when it cannot run."""
    from pactx.batch import extract_many

    if engine == "local":
        if ray_address or ray_workers:
            err.print("[red]error:[/red] --ray-address and --ray-workers need --engine ray")
            raise typer.Exit(2)
        return extract_many
    if engine != "ray":
        err.print(f"[red]error:[/red] unknown engine {engine!r}; choose local or ray")
        raise typer.Exit(2)
    try:
        from pactx import ray as ray_engine

        ray_engine.init(ray_address)
    except (ImportError, PactxError) as exc:
        err.print(f"[red]error:[/red] {redact(str(exc))}")
        raise typer.Exit(2) from None
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # pactx shows its own progress and failures
    return functools.partial(ray_engine.extract_many, workers=ray_workers)


def _record(outcome: Any, out: JsonlSink, failed_sink: JsonlSink | None, tally: _Tally) -> None:
    """Write one outcome where it belongs and count it."""
    if outcome.ok:
        out.write(outcome.to_record())
        tally.done += 1
        tally.agreements += len(outcome.result.agreements)
        tally.cached += bool(outcome.result.metadata.cached)
        if not outcome.result.metadata.cached:
            tally.usage = tally.usage.add(outcome.result.metadata.usage)
        return
    tally.failed += 1
    if outcome.error.usage is not None:
        tally.usage = tally.usage.add(outcome.error.usage)
    if failed_sink is not None:
        failed_sink.write(outcome.to_record())
    where = outcome.source or outcome.id
    verb = "skipped" if outcome.error.type == "InputError" else "failed"
    err.print(f"[yellow]{verb}[/yellow] {where}: {outcome.error.message[:300]}")


def _interrupted_message(tally: _Tally, output: Path | None) -> None:
    left = tally.total - tally.skipped - tally.done - tally.failed
    err.print(
        f"[yellow]interrupted:[/yellow] {tally.done} document(s) written this run, {left} not done. "
        + (f"Run the same command with --resume to continue ({output} is complete up to here)."
           if output else "Write to a file (-o) to be able to resume.")
    )


def _summary(
    tally: _Tally, output: Path | None, failures_path: Path | None, price: Price | None, model: str
) -> None:
    processed = tally.done + tally.failed
    table = Table(title="pactx extract", show_header=False)
    table.add_row("documents", str(tally.total))
    if tally.skipped:
        table.add_row("already done (--resume)", str(tally.skipped))
    table.add_row("extracted", f"{tally.done} ({tally.cached} from cache)")
    table.add_row("agreements found", str(tally.agreements))
    table.add_row("failures", str(tally.failed))
    table.add_row("time", f"{tally.elapsed:.1f} s ({tally.elapsed / max(processed, 1):.2f} s/document)")
    table.add_row("tokens", usage_line(tally.usage))
    table.add_row("cost", cost_line(tally.usage, price, model))
    if output:
        table.add_row("output", str(output))
    if failures_path and tally.failed:
        table.add_row("failures file", str(failures_path))
    err.print(table)


def _price(option: str | None, extractor: Any) -> Price | None:
    """The run's price (``--price``, else the built-in table), or exit 2 on a malformed one."""
    try:
        return resolve_price(option, extractor.backend.model, extractor.backend.provider)
    except ValueError as exc:
        err.print(f"[red]error:[/red] --price: {exc}")
        raise typer.Exit(2) from None


def _check_dry_run(base_url: str | None, model: str | None) -> dict[str, Any]:
    """A dry run never contacts the endpoint, so it cannot ask which model it serves, nor
    detect the server's family: that is ``PACTX_SERVER``, else generic (OpenAI's request shapes).
    Returns the extractor options this adds."""
    from pactx.providers import ProviderConfig

    config = ProviderConfig.from_env(base_url=base_url, model=model)
    if config.base_url and not config.model:
        err.print("[red]error:[/red] --dry-run with an endpoint needs --model (or PACTX_MODEL): it makes no request")
        raise typer.Exit(2)
    return {"server": "generic"} if config.base_url and not config.server else {}


def _dry_run(extractor: Any, pending: Iterable[Document | InputFailure], price: Price | None) -> None:
    """Print each document's estimate as a JSON line (stdout) and the totals (stderr); exit 1 on unreadable inputs."""
    from pactx.dryrun import DryRun, DryRunTotals

    dry, totals = DryRun(extractor), DryRunTotals()
    out = JsonlSink(None, append=False)
    try:
        for item in pending:
            if isinstance(item, InputFailure):
                totals.unreadable += 1
                err.print(f"[yellow]skipped[/yellow] {item.source or item.id}: {item.error[:300]}")
                continue
            try:
                estimate = dry.estimate(item.id, item.text, item.source)
            except PactxError as exc:
                totals.unreadable += 1
                err.print(f"[yellow]skipped[/yellow] {item.source or item.id}: {redact(str(exc))[:300]}")
                continue
            totals.add(estimate)
            out.write(estimate.to_record())
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        extractor.close()
    table = Table(title="pactx extract --dry-run", show_header=False)
    for label, value in totals.rows(dry, price):
        table.add_row(label, value)
    err.print(table)
    if totals.unreadable:
        raise typer.Exit(1)


# -- the cache commands -----------------------------------------------------------------------


@cache_app.command("info")
def cache_info() -> None:
    """Where the result cache is, how many results it holds and its size."""
    from pactx.cache import ResultCache

    info = ResultCache().info()
    table = Table(title="pactx cache", show_header=False)
    table.add_row("path", str(info.path))
    table.add_row("results", str(info.entries))
    table.add_row("size", f"{info.size_bytes / 1e6:.2f} MB")
    Console().print(table)


@cache_app.command("clear")
def cache_clear() -> None:
    """Delete every cached result."""
    from pactx.cache import ResultCache

    cache = ResultCache()
    removed = cache.clear()
    cache.close()
    typer.echo(f"removed {removed} cached result(s) from {cache.path}")


@cache_app.command("merge")
def cache_merge(
    files: Annotated[list[Path], typer.Argument(help="Cache files to copy in (other machines' results.sqlite3).")],
) -> None:
    """Copy into the result cache the entries of other cache files it lacks (idempotent)."""
    from pactx.cache import ResultCache

    cache = ResultCache()
    try:
        for path in files:
            try:
                added = cache.merge(path)
            except (OSError, ValueError) as exc:
                err.print(f"[red]error:[/red] {exc}")
                raise typer.Exit(1) from None
            typer.echo(f"{path}: {added} new result(s) in {cache.path}")
    finally:
        cache.close()


app.add_typer(cache_app, name="cache")


def _register_subcommands() -> None:
    """Commands that live in their own modules: eval harness, dataset building, Batch APIs."""
    from pactx import cli_dataset
    from pactx.cli_batch import batch_app
    from pactx.evals.cli import eval_app

    app.add_typer(eval_app, name="eval")
    app.add_typer(batch_app, name="batch")
    app.command("consolidate")(cli_dataset.consolidate)
    app.command("export")(cli_dataset.export)


_register_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
