"""Reading documents from files: one per file, one per line, or JSONL records.

Every problem with an input (missing path, empty file, undecodable bytes, a bad JSONL line)
becomes an :class:`InputFailure` naming the input, yielded in place of the document, so one
bad input never stops the rest.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Document", "InputFailure", "read_documents", "text_id"]

MAX_DOCUMENT_CHARS = 2_000_000
"""Documents longer than this are refused (2 million characters, about 400k words)."""

_TEXT_SUFFIXES = {".txt", ".text", ".md", ".jsonl", ".json", ""}


@dataclass(frozen=True)
class Document:
    """A document to extract from."""

    id: str
    text: str
    source: str | None = None


@dataclass(frozen=True)
class InputFailure:
    """An input that could not be read as a document."""

    id: str
    source: str
    error: str


def text_id(text: str) -> str:
    """A stable id for a bare string: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _expand(paths: Iterable[str | Path]) -> Iterator[Path | InputFailure]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _TEXT_SUFFIXES)
            if not found:
                yield InputFailure(str(path), str(path), "directory holds no text files")
            yield from found
        elif path.exists():
            yield path
        elif any(ch in str(raw) for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(raw), recursive=True))
            files = [p for p in matches if p.is_file()]
            if not files:
                yield InputFailure(str(raw), str(raw), "no file matches this pattern")
            yield from files
        else:
            yield InputFailure(str(raw), str(raw), "no such file or directory")


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None


def _check(doc_id: str, source: str, text: str) -> Document | InputFailure:
    if not text.strip():
        return InputFailure(doc_id, source, "empty document")
    if len(text) > MAX_DOCUMENT_CHARS:
        return InputFailure(
            doc_id, source, f"document too long ({len(text):,} characters; limit {MAX_DOCUMENT_CHARS:,})"
        )
    return Document(doc_id, text, source)


def read_documents(
    paths: Iterable[str | Path], *, lines: bool = False
) -> Iterator[Document | InputFailure]:
    """Documents from files, directories and globs.

    ``.jsonl`` files hold one ``{"id": ..., "text": ...}`` record per line. With ``lines``,
    every other file holds one document per non-blank line (id ``<file stem>:<line number>``);
    otherwise a file is one document (id: its stem).
    """
    for item in _expand(paths):
        if isinstance(item, InputFailure):
            yield item
            continue
        path = item
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield InputFailure(path.stem, str(path), f"cannot read: {exc.strerror or exc}")
            continue
        try:
            text = _decode(path, data)
        except ValueError as exc:
            yield InputFailure(path.stem, str(path), str(exc))
            continue
        if path.suffix == ".jsonl":
            yield from _jsonl_documents(path, text)
        elif lines:
            blank = True
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    blank = False
                    yield _check(f"{path.stem}:{number}", str(path), line.strip())
            if blank:
                yield InputFailure(path.stem, str(path), "empty file")
        else:
            yield _check(path.stem, str(path), text)


def _jsonl_documents(path: Path, text: str) -> Iterator[Document | InputFailure]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fallback_id = f"{path.stem}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InputFailure(fallback_id, str(path), f"line {number} is not JSON: {exc.msg}")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            yield InputFailure(fallback_id, str(path), f"line {number} has no string field 'text'")
            continue
        doc_id = str(record.get("id") or fallback_id)
        yield _check(doc_id, str(path), record["text"])
