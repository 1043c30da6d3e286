"""``pactx consolidate`` and ``pactx export``: from extraction JSONL to a dataset.

These are plain Typer command functions; ``pactx.cli`` registers them on its app. Both read
either the JSONL that ``pactx extract`` writes (lines ``{"id", "source", "result"}``; lines
with ``"error"`` are skipped) or the ``records.jsonl`` that ``pactx consolidate`` writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from pactx.records import ConsolidatedAgreement
    from pactx.schema import ExtractionResult

__all__ = ["DatasetFormat", "consolidate", "export", "read_inputs"]

err = Console(stderr=True)


class DatasetFormat(StrEnum):
    """Table formats of the dataset."""

    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


class InputFileError(ValueError):
    """An input file cannot be read; the message names the file (and line)."""


@dataclass
class Inputs:
    """What the input files held."""

    results: list[tuple[str, ExtractionResult]] = field(default_factory=list)
    records: list[ConsolidatedAgreement] = field(default_factory=list)
    skipped: int = 0
    files: list[Path] = field(default_factory=list)


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.jsonl") if not p.name.endswith(".failures.jsonl"))
            if not found:
                raise InputFileError(f"{path}: directory holds no .jsonl files")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise InputFileError(f"{path}: no such file or directory")
    return files


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def _read_line(path: Path, lineno: int, data: dict[str, Any], inputs: Inputs) -> None:
    """Add one parsed line (an extraction line or a consolidated record) to ``inputs``."""
    from pactx.records import ConsolidatedAgreement
    from pactx.schema import ExtractionResult

    where = f"{path}:{lineno}"
    if "error" in data:
        inputs.skipped += 1
    elif "result" in data:
        try:
            result = ExtractionResult.model_validate(data["result"])
        except ValidationError as exc:
            raise InputFileError(f"{where}: not a pactx extraction result ({_first_error(exc)})") from None
        source_id = data.get("id") or result.metadata.source_id or where
        inputs.results.append((str(source_id), result))
    elif "mentions" in data and "timeline" in data:
        try:
            inputs.records.append(ConsolidatedAgreement.model_validate(data))
        except ValidationError as exc:
            raise InputFileError(f"{where}: not a consolidated record ({_first_error(exc)})") from None
    elif "agreement_id" in data:
        raise InputFileError(
            f"{where}: this is a flat dataset table; pass records.jsonl or the extraction JSONL instead"
        )
    else:
        raise InputFileError(f"{where}: expected a pactx extraction line with 'result' or 'error'")


def read_inputs(paths: list[Path]) -> Inputs:
    """Read extraction JSONL files and/or consolidated ``records.jsonl`` files, in order."""
    inputs = Inputs(files=_expand(paths))
    for path in inputs.files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{path}: cannot read ({exc})") from None
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(data, dict):
                raise InputFileError(f"{path}:{lineno}: expected a JSON object")
            _read_line(path, lineno, data, inputs)
    if inputs.results and inputs.records:
        raise InputFileError("inputs mix extraction results and consolidated records; pass one kind")
    return inputs


def _records(inputs: Inputs) -> list[ConsolidatedAgreement]:
    from pactx.consolidation import consolidate as consolidate_results

    return inputs.records if inputs.records else consolidate_results(inputs.results)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _load(paths: list[Path]) -> tuple[Inputs, list[ConsolidatedAgreement]]:
    try:
        inputs = read_inputs(paths)
    except InputFileError as exc:
        raise _fail(str(exc)) from None
    if not inputs.results and not inputs.records:
        err.print("[yellow]warning:[/yellow] no extraction results in the input; writing an empty dataset")
    return inputs, _records(inputs)


def _write(
    records: list[ConsolidatedAgreement],
    output_dir: Path,
    formats: list[str],
    *,
    include_records: bool = True,
) -> list[Path]:
    from pactx.exports import write_dataset

    try:
        return write_dataset(records, output_dir, formats, include_records=include_records)
    except ImportError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{output_dir}: cannot write ({exc})") from None


def _summary(title: str, inputs: Inputs, records: list[ConsolidatedAgreement], written: list[Path]) -> None:
    table = Table(title=title, show_header=False)
    table.add_row("input files", str(len(inputs.files)))
    if inputs.results or not inputs.records:
        table.add_row("documents", str(len(inputs.results)))
        table.add_row("skipped (error lines)", str(inputs.skipped))
    table.add_row("mentions", str(sum(len(r.mentions) for r in records)))
    table.add_row("records", str(len(records)))
    table.add_row("merged clusters", str(sum(1 for r in records if len(r.mentions) > 1)))
    table.add_row("membership changes", str(sum(len(r.membership_changes) for r in records)))
    table.add_row("files written", "\n".join(str(p) for p in written) or "-")
    err.print(table)


def consolidate(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Extraction JSONL files (from `pactx extract`) or directories of them."),
    ],
    output_dir: Annotated[
        Path, typer.Option("-o", "--output-dir", help="Directory to write the dataset into.")
    ] = Path("dataset"),
    formats: Annotated[
        list[DatasetFormat] | None,
        typer.Option("-f", "--format", help="Table format; repeat for several (default: all three)."),
    ] = None,
) -> None:
    """Merge the agreements of extraction results into one record per real agreement and write the dataset."""
    chosen = [f.value for f in formats] if formats else [f.value for f in DatasetFormat]
    loaded, records = _load(inputs)
    written = _write(records, output_dir, chosen)
    _summary("pactx consolidate", loaded, records, written)


def export(
    input_file: Annotated[
        Path,
        typer.Argument(
            help="Extraction JSONL (from `pactx extract`) or records.jsonl (from `pactx consolidate`)."
        ),
    ],
    fmt: Annotated[
        DatasetFormat, typer.Option("-f", "--format", help="Table format to write.")
    ] = DatasetFormat.CSV,
    output_dir: Annotated[
        Path, typer.Option("-o", "--output-dir", help="Directory to write the tables into.")
    ] = Path("dataset"),
) -> None:
    """Write the agreements, mentions and dyads tables in one format (consolidating extraction results first)."""
    loaded, records = _load([input_file])
    written = _write(records, output_dir, [fmt.value], include_records=False)
    _summary("pactx export", loaded, records, written)
