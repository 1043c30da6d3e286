"""Reading documents from files: one per file, one per line, or JSONL records.

Every problem with an input (missing path, empty file, undecodable bytes, a bad JSONL line)
becomes an :class:`InputFailure` naming the input, yielded in place of the document, so one
bad input never stops the rest. :func:`text_problem` holds the rules a text must meet (used
here and by :func:`pactx.extraction.check_text`); :func:`as_document` turns any batch input
(a string, bytes, an ``(id, text)`` pair, a :class:`Document`) into a document or a failure.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Document",
    "InputFailure",
    "MAX_DOCUMENT_CHARS",
    "as_document",
    "decode_text",
    "read_documents",
    "text_id",
    "text_problem",
]

MAX_DOCUMENT_CHARS = 2_000_000
"""Documents longer than this are refused (2 million characters, about 400k words)."""

_MAX_FILE_BYTES = 4 * MAX_DOCUMENT_CHARS  # a one-document file this big is refused unread
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
    source: str | None
    error: str


def text_id(text: str) -> str:
    """A stable id for a bare string: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def text_problem(text: object) -> str | None:
    """Why ``text`` cannot be extracted from (empty, binary, not Unicode, too long), or ``None``."""
    if not isinstance(text, str):
        return f"expected text, got {type(text).__name__}"
    if not text.strip():
        return "empty document"
    if "\x00" in text:
        return "binary data (contains NUL bytes)"
    if len(text) > MAX_DOCUMENT_CHARS:
        return f"document too long ({len(text):,} characters; limit {MAX_DOCUMENT_CHARS:,})"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid Unicode text (lone surrogate at character {exc.start})"
    return None


def decode_text(data: bytes) -> str:
    """Decode UTF-8 bytes (a BOM is dropped); ``ValueError`` for binary or non-UTF-8 data."""
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})"
        ) from None


def as_document(item: object) -> Document | InputFailure:
    """A batch input as a checked :class:`Document`, or the :class:`InputFailure` it is.

    Accepts a :class:`Document`, an :class:`InputFailure` (passed through), a string (id:
    :func:`text_id`), UTF-8 bytes, or an ``(id, text)`` pair whose text is a string or bytes.
    """
    if isinstance(item, InputFailure):
        return item
    if isinstance(item, Document):
        return _check(item.id, item.source, item.text)
    if isinstance(item, tuple) and len(item) == 2:
        doc_id, body = str(item[0]), item[1]
    elif isinstance(item, (str, bytes, bytearray)):
        doc_id, body = None, item
    else:
        return InputFailure(repr(item)[:40], None, f"expected text, got {type(item).__name__}")
    if isinstance(body, (bytes, bytearray)):
        raw = bytes(body)
        try:
            body = decode_text(raw)
        except ValueError as exc:
            return InputFailure(doc_id or hashlib.sha256(raw).hexdigest()[:16], None, str(exc))
    if doc_id is None:
        doc_id = text_id(body)
    return _check(doc_id, None, body)


def _check(doc_id: str, source: str | None, text: object) -> Document | InputFailure:
    problem = text_problem(text)
    if problem is not None:
        return InputFailure(doc_id, source, problem)
    assert isinstance(text, str)
    return Document(doc_id, text, source)


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


def read_documents(
    paths: Iterable[str | Path], *, lines: bool = False, exclude: Iterable[str | Path] = ()
) -> Iterator[Document | InputFailure]:
    """Documents from files, directories and globs.

    ``.jsonl`` files hold one ``{"id": ..., "text": ...}`` record per line. With ``lines``,
    every other file holds one document per non-blank line (id ``<file stem>:<line number>``);
    otherwise a file is one document (id: its stem). Files in ``exclude`` (a run's own output
    and failures files, say, written into the folder being read) are passed over.
    """
    skipped = {Path(p).resolve() for p in exclude}
    for item in _expand(paths):
        if isinstance(item, InputFailure):
            yield item
        elif item.resolve() not in skipped:
            yield from _file_documents(item, lines=lines)


def _file_documents(path: Path, *, lines: bool) -> Iterator[Document | InputFailure]:
    single = path.suffix != ".jsonl" and not lines
    try:
        if single and path.stat().st_size > _MAX_FILE_BYTES:
            yield InputFailure(path.stem, str(path), f"document too long (over {_MAX_FILE_BYTES:,} bytes)")
            return
        text = decode_text(path.read_bytes())
    except OSError as exc:
        yield InputFailure(path.stem, str(path), f"cannot read: {exc.strerror or exc}")
        return
    except ValueError as exc:
        yield InputFailure(path.stem, str(path), str(exc))
        return
    if path.suffix == ".jsonl":
        yield from _jsonl_documents(path, text)
    elif lines:
        yield from _line_documents(path, text)
    else:
        yield _check(path.stem, str(path), text)


def _line_documents(path: Path, text: str) -> Iterator[Document | InputFailure]:
    blank = True
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            blank = False
            yield _check(f"{path.stem}:{number}", str(path), line.strip())
    if blank:
        yield InputFailure(path.stem, str(path), "empty file")


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
