"""Provider Batch APIs: OpenAI's ``/v1/files`` and ``/v1/batches``, and servers that copy them.

:func:`submit` writes one request per document (per chunk for a long one; identical requests
once) in OpenAI's batch input format, uploads the files and creates the batches;
:func:`status` reports progress; :func:`collect` downloads the results, validates and grounds
every answer exactly as a live answer, writes the records ``pactx extract`` writes and fills
the result cache. :func:`cancel` cancels the batches still running.

Every request body comes from the live path itself: the :class:`~pactx.extraction.Extractor`
builds the call (prompt, schema, mode, generation parameters) and instructor prepares it, and
the openai client the live backend uses serializes it, into a transport that keeps the bytes
instead of sending them (:mod:`pactx.batch_requests`). ``collect`` then runs each document
through the same ``Extractor``, whose backend answers a request from the batch's results when
its body was in a batch. Answers
that fail validation are re-asked live (default) or in a follow-up batch (``reask="batch"``);
requests the batch did not answer (error lines, malformed or missing lines, a failed, expired or
cancelled batch) take the same second round, and a request left unanswered by two batches fails
with a ``ProviderError``.

A job is a folder; every step is recorded in its ``manifest.json`` before and after it is
taken, so each command can be run again after a crash and continues where it stopped::

    manifest.json            settings, rounds, parts (one batch each) and the steps taken
    documents.jsonl          the inputs: {"id", "source", "text"} or {"id", "source", "error"}
    prompt/NAME.toml         the prompt file as it was at submit
    requests/r1-p0001.jsonl  batch input files (at most ``max_requests`` lines, ``max_bytes``)
    results/r1-p0001.output.jsonl, .error.jsonl   what the provider returned
    answers.sqlite3          every answer and error by ``custom_id``
    out.jsonl, out.failures.jsonl                  written by collect
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai

from pactx.batch import Item, Outcome, extract_many
from pactx.batch_requests import BATCH_ENDPOINT, CUSTOM_ID, AnswerBook, BatchBackend, BatchRequest, Pending
from pactx.cache import ResultCache
from pactx.chunking import DEFAULT_MAX_CHUNK_CHARS
from pactx.documents import Document, InputFailure, as_document
from pactx.errors import ConfigurationError, ProviderError
from pactx.extraction import Extractor, default_prompt, resolve_strategy
from pactx.prompts import load_prompt
from pactx.providers import MODES, OpenAIBackend, ProviderConfig
from pactx.redaction import redact
from pactx.transport import RetryPolicy, RetryTransport

__all__ = [
    "BATCH_ENDPOINT",
    "DEFAULT_MAX_BATCH_BYTES",
    "DEFAULT_MAX_BATCH_REQUESTS",
    "REASK_POLICIES",
    "BatchPart",
    "BatchStatus",
    "CollectReport",
    "submit",
    "status",
    "collect",
    "cancel",
]

DEFAULT_MAX_BATCH_REQUESTS = 50_000
"""OpenAI's documented limit of requests per batch."""
DEFAULT_MAX_BATCH_BYTES = 200_000_000
"""OpenAI's documented limit of a batch input file (200 MB)."""
REASK_POLICIES = ("live", "batch")
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
MANIFEST_FORMAT = 1
_ATTEMPTS = 3  # tries of an upload or a batch creation (each after looking for an earlier one)
_FILE_TIMEOUT = 600.0  # seconds for an upload or a download of up to 200 MB
_sleep = time.sleep  # between tries of an upload or a creation (tests replace it)


# -- the job folder ---------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class _Job:
    """A job folder and its manifest."""

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder = folder
        self.data = data

    @classmethod
    def load(cls, folder: str | Path) -> _Job:
        folder = Path(folder)
        path = folder / "manifest.json"
        if not path.is_file():
            raise ConfigurationError(f"{folder}: not a batch job folder (no manifest.json); create one with submit")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigurationError(f"{path}: not a readable manifest ({exc})") from None
        if data.get("format") != MANIFEST_FORMAT:
            raise ConfigurationError(f"{path}: manifest format {data.get('format')!r}, this pactx reads {MANIFEST_FORMAT}")
        return cls(folder, data)

    def save(self) -> None:
        _write_atomic(self.folder / "manifest.json", json.dumps(self.data, indent=1).encode("utf-8"))

    @property
    def id(self) -> str:
        return str(self.data["job_id"])

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.data["config"])

    def parts(self) -> list[dict[str, Any]]:
        return [part for round_ in self.data["rounds"] for part in round_["parts"]]

    def documents(self) -> Iterator[Document | InputFailure]:
        with open(self.folder / "documents.jsonl", encoding="utf-8") as handle:
            for line in handle:
                item = json.loads(line)
                if "error" in item:
                    yield InputFailure(item["id"], item.get("source"), item["error"])
                else:
                    yield Document(item["id"], item["text"], item.get("source"))


# -- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchPart:
    """One batch of a job: its round, input file, provider ids and progress."""

    round: int
    name: str
    requests: int
    bytes: int
    file_id: str | None
    batch_id: str | None
    status: str
    completed: int
    failed: int
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchStatus:
    """Where a job stands.

    ``state`` is ``submitting`` (a batch is still to be uploaded or created), ``in_progress``
    (a batch is running), ``ready`` (every batch ended; collect next) or ``collected``.
    """

    job: Path
    job_id: str
    state: str
    documents: int
    cached: int
    requests: int
    rounds: int
    parts: tuple[BatchPart, ...]

    @property
    def ended(self) -> bool:
        """Every batch has ended (completed, failed, expired or cancelled)."""
        return all(p.status in TERMINAL for p in self.parts)


@dataclass
class CollectReport:
    """What a collect did.

    ``state`` is ``done`` (every document written) or ``in_progress`` (batches still run: a
    round is not finished, or a follow-up round was submitted; collect again later).
    """

    job: Path
    state: str = "in_progress"
    output: Path | None = None
    failures_path: Path | None = None
    written: int = 0
    failed: int = 0
    from_cache: int = 0
    already_done: int = 0
    pending: int = 0
    batch_answers: int = 0
    """Requests the job's batches answered (every round)."""
    live_calls: int = 0
    """Live model calls this collect made (re-asks, requests the batches did not answer)."""
    unanswered: int = 0
    malformed: int = 0
    rounds: int = 1
    notes: list[str] = field(default_factory=list)


# -- the session: endpoint, extractor, files and batches --------------------------------------


def _provider_error(exc: openai.OpenAIError, doing: str) -> ProviderError:
    status_code = getattr(exc, "status_code", None)
    where = f" (HTTP {status_code})" if status_code else ""
    return ProviderError(f"{type(exc).__name__}{where} while {doing}: {redact(str(exc))}", status_code=status_code)


_TRANSIENT = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


def _open_cache(cache: ResultCache | str | Path | bool | None) -> ResultCache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return ResultCache()
    return cache if isinstance(cache, ResultCache) else ResultCache(cache)


class _Session:
    """One command's view of a job: the live backend, the extractor and the files/batches client."""

    def __init__(
        self,
        job: _Job,
        *,
        api_key: str | None,
        cache: ResultCache | str | Path | bool | None,
        book: bool = True,
    ) -> None:
        self.job = job
        settings = job.config
        self.provider_config = ProviderConfig.from_env(
            base_url=settings["base_url"],
            model=settings["model"],
            api_key=api_key,
            mode=settings["mode"],
            timeout=settings["timeout"],
            temperature=settings["temperature"],
            seed=settings["seed"],
            max_tokens=settings["max_tokens"],
        )
        self.book = AnswerBook(job.folder / "answers.sqlite3") if book else None
        self.backend = BatchBackend(OpenAIBackend(self.provider_config), self.book)
        prompt = load_prompt(job.folder / "prompt" / settings["prompt_file"])
        if prompt.sha256 != settings["prompt_sha256"]:
            raise ConfigurationError(f"{prompt.path}: the job's prompt file changed since submit")
        self._cache = _open_cache(cache)
        self.extractor = Extractor(
            backend=self.backend,
            prompt=prompt,
            strategy="direct",
            min_confidence=settings["min_confidence"],
            max_reasks=settings["max_reasks"],
            max_chunk_chars=settings["max_chunk_chars"],
            chunk_overlap=settings["chunk_overlap"],
            cache=self._cache,
        )
        self._clients: list[openai.OpenAI] = []
        self.client = self._client(self.provider_config.retry)
        self.once = self._client(RetryPolicy(max_retries=0))  # creating twice would run twice

    def _client(self, policy: RetryPolicy) -> openai.OpenAI:
        timeout = httpx.Timeout(_FILE_TIMEOUT, connect=self.provider_config.connect_timeout)
        client = openai.OpenAI(
            base_url=self.backend.live.base_url,
            api_key=self.provider_config.api_key or "not-needed",
            max_retries=0,
            http_client=httpx.Client(transport=RetryTransport(None, policy), timeout=timeout),
        )
        self._clients.append(client)
        return client

    def close(self) -> None:
        self.extractor.close()
        if self.book is not None:
            self.book.close()
        for client in self._clients:
            client.close()

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submission steps, each recorded before and after it is taken --------------------------

    def advance(self) -> None:
        """Upload and create every batch not yet created (after a crash too, without duplicates)."""
        if self.job.data.get("cancelled"):
            return
        for part in self.job.parts():
            if part.get("batch_id"):
                continue
            self._upload(part)
            self._create(part)

    def _retrying(self, part: dict[str, Any], marker: str, find: Any, act: Any, doing: str) -> str:
        """Run ``act`` at most once per attempt; after a failed or interrupted one, ``find`` first."""
        for attempt in range(_ATTEMPTS):
            if part.get(marker):
                found = find(part)
                if found is not None:
                    return str(found)
            part[marker] = time.time()
            self.job.save()
            try:
                return str(act(part))
            except _TRANSIENT as exc:
                if attempt == _ATTEMPTS - 1:
                    raise _provider_error(exc, doing) from None
                _sleep(min(2.0**attempt, 30.0))
            except openai.OpenAIError as exc:
                raise _provider_error(exc, doing) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _upload(self, part: dict[str, Any]) -> None:
        if part.get("file_id"):
            return
        part["file_id"] = self._retrying(part, "uploading", self._find_file, self._send_file, f"uploading {part['path']}")
        part.pop("uploading", None)
        self.job.save()

    def _filename(self, part: dict[str, Any]) -> str:
        return f"pactx-{self.job.id}-{part['name']}.jsonl"

    def _send_file(self, part: dict[str, Any]) -> str:
        data = (self.job.folder / part["path"]).read_bytes()
        uploaded = self.once.files.create(file=(self._filename(part), data, "application/jsonl"), purpose="batch")
        return uploaded.id

    def _find_file(self, part: dict[str, Any]) -> str | None:
        try:
            for item in self.client.files.list(purpose="batch"):
                if item.filename == self._filename(part) and item.bytes == part["bytes"]:
                    return item.id
        except openai.OpenAIError as exc:
            raise _provider_error(exc, "listing the uploaded files") from None
        return None

    def _create(self, part: dict[str, Any]) -> None:
        part["batch_id"] = self._retrying(part, "creating", self._find_batch, self._send_batch, f"creating the batch of {part['path']}")
        part.pop("creating", None)
        part["status"] = "validating"
        self.job.save()

    def _metadata(self, part: dict[str, Any]) -> dict[str, str]:
        return {"pactx_job": self.job.id, "pactx_part": part["name"]}

    def _send_batch(self, part: dict[str, Any]) -> str:
        created = self.once.batches.create(
            input_file_id=part["file_id"],
            endpoint=BATCH_ENDPOINT,
            completion_window=self.job.data["completion_window"],
            metadata=self._metadata(part),
        )
        return created.id

    def _find_batch(self, part: dict[str, Any]) -> str | None:
        since = float(part["creating"]) - 3600
        try:
            for batch in self.client.batches.list(limit=100):
                if batch.metadata == self._metadata(part) and batch.input_file_id == part["file_id"]:
                    return batch.id
                if batch.created_at < since:
                    break
        except openai.OpenAIError as exc:
            raise _provider_error(exc, "listing the batches") from None
        return None

    # -- progress and results ------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask the provider where each running batch stands."""
        changed = False
        for part in self.job.parts():
            if not part.get("batch_id") or part.get("status") in TERMINAL:
                continue
            try:
                batch = self.client.batches.retrieve(part["batch_id"])
            except openai.OpenAIError as exc:
                raise _provider_error(exc, f"retrieving batch {part['batch_id']}") from None
            counts = batch.request_counts
            part.update(
                status=batch.status,
                output_file_id=batch.output_file_id,
                error_file_id=batch.error_file_id,
                completed=counts.completed if counts else 0,
                failed=counts.failed if counts else 0,
                errors=[redact(f"{e.code}: {e.message}") for e in (batch.errors.data or [])] if batch.errors else [],
            )
            changed = True
        if changed:
            self.job.save()

    def cancel(self) -> None:
        self.job.data["cancelled"] = True
        self.job.save()
        for part in self.job.parts():
            if part.get("batch_id") and part.get("status") not in TERMINAL:
                try:
                    batch = self.client.batches.cancel(part["batch_id"])
                except openai.OpenAIError as exc:
                    raise _provider_error(exc, f"cancelling batch {part['batch_id']}") from None
                part["status"] = batch.status
                self.job.save()

    def download_and_index(self, report: CollectReport) -> None:
        """Fetch the result files of every ended batch and store their lines in the answer book."""
        assert self.book is not None
        for part in self.job.parts():
            if part.get("indexed"):
                continue
            if not part.get("batch_id") and self.job.data.get("cancelled"):
                part["status"] = "cancelled"  # the job was cancelled before this batch was created
            if part.get("status") not in TERMINAL:
                continue
            files: list[Path] = []
            for kind in ("output", "error"):
                file_id = part.get(f"{kind}_file_id")
                if not file_id:
                    continue
                path = self.job.folder / "results" / f"{part['name']}.{kind}.jsonl"
                if not part.get(f"{kind}_downloaded"):
                    self._download(file_id, path)
                    part[f"{kind}_downloaded"] = True
                    self.job.save()
                files.append(path)
            submitted = set(_custom_ids(self.job.folder / part["path"]))
            reason = "; ".join(part.get("errors") or []) or "no result line"
            unanswered = f"batch {part.get('batch_id')} {part['status']}: {reason}"
            counts = self.book.index(part["name"], submitted, _lines_of(files), unanswered)
            part.update(indexed=True, answers=counts.answers, malformed=counts.malformed,
                        unanswered=counts.errors + counts.missing)
            self.job.save()
            if part["status"] != "completed":
                report.notes.append(f"batch {part.get('batch_id')} ({part['name']}) ended {part['status']}"
                                    + (f": {reason}" if part.get("errors") else ""))

    def _download(self, file_id: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        try:
            with self.client.files.with_streaming_response.content(file_id) as response:
                response.stream_to_file(temporary)
        except openai.OpenAIError as exc:
            raise _provider_error(exc, f"downloading file {file_id}") from None
        os.replace(temporary, path)


def _custom_ids(path: Path) -> Iterator[str]:
    with open(path, "rb") as handle:
        for raw in handle:
            found = CUSTOM_ID.search(raw)
            if found:
                yield found.group(1).decode("utf-8")


def _lines_of(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with open(path, "rb") as handle:
            yield from handle


# -- writing rounds -----------------------------------------------------------------------------


class _PartWriter:
    """Splits a round's requests into parts of at most ``max_requests`` lines and ``max_bytes``."""

    def __init__(self, folder: Path, round_no: int, max_requests: int, max_bytes: int) -> None:
        self.folder, self.round = folder, round_no
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.parts: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._handle: Any = None
        self._hash: Any = None

    def _open(self) -> None:
        name = f"r{self.round}-p{len(self.parts) + 1:04d}"
        path = Path("requests") / f"{name}.jsonl"
        (self.folder / "requests").mkdir(parents=True, exist_ok=True)
        self._handle = open(self.folder / f"{path}.tmp", "wb")  # noqa: SIM115
        self._hash = hashlib.sha256()
        self.parts.append({"round": self.round, "name": name, "path": str(path), "requests": 0, "bytes": 0, "status": "written"})

    def add(self, request: BatchRequest) -> None:
        if request.custom_id in self._seen:
            return  # an identical request (the same text) is sent once
        size = len(request.line)
        if size > self.max_bytes:
            raise ConfigurationError(f"a request of {size:,} bytes exceeds the batch size limit of {self.max_bytes:,} bytes")
        part = self.parts[-1] if self.parts else None
        if part is None or part["requests"] >= self.max_requests or part["bytes"] + size > self.max_bytes:
            self._close()
            self._open()
            part = self.parts[-1]
        self._seen.add(request.custom_id)
        self._handle.write(request.line)
        self._hash.update(request.line)
        part["requests"] += 1
        part["bytes"] += size

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self.parts[-1]["sha256"] = self._hash.hexdigest()
            self._handle = None

    def finish(self) -> list[dict[str, Any]]:
        """Close the last file and move every part into place."""
        self._close()
        for part in self.parts:
            os.replace(self.folder / f"{part['path']}.tmp", self.folder / part["path"])
        return self.parts

    @property
    def requests(self) -> int:
        return len(self._seen)


# -- submit -----------------------------------------------------------------------------------


def _document_line(item: Document | InputFailure) -> bytes:
    record: dict[str, Any] = {"id": item.id, "source": item.source}
    if isinstance(item, InputFailure):
        record["error"] = item.error
    else:
        record["text"] = item.text
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def _write_documents(docs: Iterable[Item], folder: Path) -> tuple[int, int, str]:
    """Write the inputs to ``documents.jsonl.tmp``; their count, duplicate ids and SHA-256."""
    digest = hashlib.sha256()
    ids: Counter[str] = Counter()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "documents.jsonl.tmp", "wb") as handle:
        for raw in docs:
            item = as_document(raw)
            line = _document_line(item)
            handle.write(line)
            digest.update(line)
            ids[item.id] += 1
        handle.flush()
        os.fsync(handle.fileno())
    return sum(ids.values()), sum(n - 1 for n in ids.values() if n > 1), digest.hexdigest()


def submit(
    docs: Iterable[Item],
    job: str | Path,
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    mode: str | None = None,
    prompt: str | None = None,
    strategy: str | None = None,
    min_confidence: float | None = None,
    max_reasks: int = 2,
    max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
    chunk_overlap: float = 0.1,
    timeout: float = 60.0,
    temperature: float = 0.0,
    seed: int = 0,
    max_tokens: int = 1024,
    cache: ResultCache | str | Path | bool | None = True,
    max_requests: int = DEFAULT_MAX_BATCH_REQUESTS,
    max_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    reask: str = "live",
    completion_window: str = "24h",
) -> BatchStatus:
    """Write the requests for ``docs`` into the job folder ``job``, upload them and create the batches.

    The options are :class:`~pactx.extraction.Extractor`'s (the endpoint comes from
    ``base_url`` or ``PACTX_BASE_URL``); they are recorded in the job, the API key excepted.
    Documents already in the result ``cache`` are not requested. Run again on the same folder
    with the same inputs and options after a crash: it continues without creating a batch twice.
    """
    folder = Path(job)
    if reask not in REASK_POLICIES:
        raise ConfigurationError(f"unknown reask policy {reask!r}; choose one of {', '.join(REASK_POLICIES)}")
    if max_requests < 1 or max_bytes < 1:
        raise ConfigurationError("max_requests and max_bytes must be positive")
    if resolve_strategy(strategy) != "direct":
        raise ConfigurationError("the Batch API runs the direct strategy only (staged needs the embedded model)")
    config = ProviderConfig.from_env(
        base_url=base_url, model=model, api_key=api_key, mode=mode,
        timeout=timeout, temperature=temperature, seed=seed, max_tokens=max_tokens,
    )
    if not config.base_url:
        raise ConfigurationError("the Batch API needs an endpoint: pass base_url or set PACTX_BASE_URL")
    chosen = load_prompt(prompt or default_prompt("direct"))
    settings: dict[str, Any] = {
        "base_url": config.base_url.rstrip("/"), "prompt_sha256": chosen.sha256,
        "min_confidence": min_confidence, "max_reasks": max_reasks, "max_chunk_chars": max_chunk_chars,
        "chunk_overlap": chunk_overlap, "timeout": timeout, "temperature": temperature, "seed": seed,
        "max_tokens": max_tokens,
    }
    count, duplicates, documents_sha = _write_documents(docs, folder)
    if (folder / "manifest.json").is_file():
        existing = _Job.load(folder)
        (folder / "documents.jsonl.tmp").unlink()
        if existing.data["documents_sha256"] != documents_sha:
            raise ConfigurationError(f"{folder} already holds job {existing.id}, with other documents; choose another folder")
        given = {**settings, **({"model": config.model} if config.model else {}), **({"mode": config.mode} if config.mode else {})}
        changed = sorted(k for k, v in given.items() if existing.config.get(k) != v)
        if changed:
            raise ConfigurationError(
                f"{folder} already holds job {existing.id}, submitted with other {', '.join(changed)}; choose another folder"
            )
        with _Session(existing, api_key=api_key, cache=None, book=False) as session:
            session.advance()
        return status(folder, api_key=api_key, refresh=False)
    os.replace(folder / "documents.jsonl.tmp", folder / "documents.jsonl")
    live = OpenAIBackend(config)  # resolves the model (the first one served when none is given)
    try:
        (folder / "prompt").mkdir(exist_ok=True)
        shutil.copyfile(chosen.path, folder / "prompt" / chosen.path.name)
        mode_name = next(name for name, value in MODES.items() if value == live.mode)
        data: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "job_id": uuid.uuid4().hex[:16],
            "created": time.time(),
            "config": {**settings, "model": live.model, "mode": mode_name, "prompt_file": chosen.path.name},
            "limits": {"max_requests": max_requests, "max_bytes": max_bytes},
            "reask": reask,
            "completion_window": completion_window,
            "documents": count,
            "duplicate_ids": duplicates,
            "documents_sha256": documents_sha,
            "rounds": [],
        }
    finally:
        live.close()
    draft = _Job(folder, data)
    (folder / "answers.sqlite3").unlink(missing_ok=True)
    with _Session(draft, api_key=api_key, cache=cache, book=False) as session:
        recorder = Extractor(
            backend=session.backend, prompt=session.extractor.prompt, strategy="direct",
            max_reasks=max_reasks, max_chunk_chars=max_chunk_chars, chunk_overlap=chunk_overlap,
        )
        session.backend.on_miss = "record"
        writer = _PartWriter(folder, 1, max_requests, max_bytes)
        cached = 0
        for item in draft.documents():
            if isinstance(item, InputFailure):
                continue
            if session.extractor.cache is not None and session.extractor.cached(item.text) is not None:
                cached += 1
                continue
            session.backend.misses.clear()
            recorder.extract(item.text, source_id=item.id)
            for request in session.backend.misses:
                writer.add(request)
        data["cached"] = cached
        data["rounds"] = [{"round": 1, "parts": writer.finish()}]
        draft.save()  # from here on the job exists; every later step is recorded
        session.advance()
    return status(folder, api_key=api_key, refresh=False)


# -- status and cancel ------------------------------------------------------------------------


def status(job: str | Path, *, api_key: str | None = None, refresh: bool = True) -> BatchStatus:
    """Where the job stands; with ``refresh``, first ask the provider about its running batches."""
    loaded = _Job.load(job)
    if refresh and any(p.get("batch_id") and p.get("status") not in TERMINAL for p in loaded.parts()):
        with _Session(loaded, api_key=api_key, cache=None, book=False) as session:
            session.refresh()
    return _status(loaded)


def _status(job: _Job) -> BatchStatus:
    parts = tuple(
        BatchPart(
            round=int(p["round"]), name=p["name"], requests=int(p["requests"]), bytes=int(p["bytes"]),
            file_id=p.get("file_id"), batch_id=p.get("batch_id"), status=str(p.get("status")),
            completed=int(p.get("completed") or 0), failed=int(p.get("failed") or 0),
            errors=tuple(p.get("errors") or ()),
        )
        for p in job.parts()
    )
    if job.data.get("collected"):
        state = "collected"
    elif any(p.batch_id is None for p in parts) and not job.data.get("cancelled"):
        state = "submitting"
    elif all(p.status in TERMINAL or p.batch_id is None for p in parts):
        state = "ready"
    else:
        state = "in_progress"
    return BatchStatus(
        job=job.folder, job_id=job.id, state=state, documents=int(job.data["documents"]),
        cached=int(job.data.get("cached", 0)), requests=sum(p.requests for p in parts if p.round == 1),
        rounds=len(job.data["rounds"]), parts=parts,
    )


def cancel(job: str | Path, *, api_key: str | None = None) -> BatchStatus:
    """Cancel the job's running batches; no batch is created for it afterwards. Collect still works."""
    loaded = _Job.load(job)
    with _Session(loaded, api_key=api_key, cache=None, book=False) as session:
        session.cancel()
    return _status(loaded)


# -- collect ----------------------------------------------------------------------------------


class _Sink:
    """An append-only JSON-lines file; each record is written whole and flushed at once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115

    def write(self, record: dict[str, Any]) -> None:
        view = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        while view:
            view = view[self._file.write(view) or 0 :]

    def close(self) -> None:
        self._file.close()


def _written(path: Path) -> Counter[str]:
    """How many records each id already has in ``path``; a torn last line is cut off first."""
    counts: Counter[str] = Counter()
    if not path.exists():
        return counts
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
    for raw in data[:end].splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and "id" in record and ("result" in record or "error" in record):
            counts[str(record["id"])] += 1
    return counts


class _Writer:
    """The output and failures files of a collect, and the counts of what went where."""

    def __init__(self, report: CollectReport) -> None:
        assert report.output is not None and report.failures_path is not None
        self.done = _written(report.output) + _written(report.failures_path)
        self.report = report
        self._out = _Sink(report.output)
        self._failures = _Sink(report.failures_path)

    def skip(self, doc_id: str) -> bool:
        """Whether this document was written by an earlier collect (counted once per record)."""
        if self.done[doc_id] > 0:
            self.done[doc_id] -= 1
            self.report.already_done += 1
            return True
        return False

    def write(self, outcome: Outcome) -> None:
        if outcome.ok:
            assert outcome.result is not None
            self._out.write(outcome.to_record())
            self.report.written += 1
            self.report.from_cache += bool(outcome.result.metadata.cached)
        else:
            self._failures.write(outcome.to_record())
            self.report.failed += 1

    def close(self) -> None:
        self._out.close()
        self._failures.close()


def _replay(session: _Session, writer: _Writer) -> tuple[list[int], dict[str, BatchRequest]]:
    """Every document not yet written, through the extractor, answered from the batches only.

    Returns the indexes of the documents still waiting for a model call, and the requests
    they wait for.
    """
    backend, extractor = session.backend, session.extractor
    backend.on_miss = "defer"
    pending: list[int] = []
    misses: dict[str, BatchRequest] = {}
    for index, item in enumerate(session.job.documents()):
        if writer.skip(item.id):
            continue
        if isinstance(item, InputFailure):
            writer.write(Outcome.failure(item.id, "InputError", item.error, item.source))
            continue
        backend.misses.clear()
        try:
            result = extractor.extract(item.text, source_id=item.id)
        except Pending:
            pending.append(index)
            for request in backend.misses:
                misses.setdefault(request.custom_id, request)
            continue
        except Exception as exc:  # every failure becomes a record, as in extract_many
            writer.write(Outcome.failure(item.id, type(exc).__name__, str(exc), item.source))
            continue
        writer.write(Outcome(item.id, True, result, None, item.source))
    return pending, misses


def _next_round(session: _Session, misses: dict[str, BatchRequest]) -> None:
    job = session.job
    limits = job.data["limits"]
    round_no = len(job.data["rounds"]) + 1
    writer = _PartWriter(job.folder, round_no, limits["max_requests"], limits["max_bytes"])
    for request in misses.values():
        writer.add(request)
    job.data["rounds"].append({"round": round_no, "parts": writer.finish()})
    job.save()
    session.advance()


def collect(
    job: str | Path,
    *,
    output: str | Path | None = None,
    failures: str | Path | None = None,
    reask: str | None = None,
    wait: bool = False,
    poll_interval: float = 60.0,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    cache: ResultCache | str | Path | bool | None = True,
    api_key: str | None = None,
) -> CollectReport:
    """Download the results, validate and ground every answer, write the records, fill the cache.

    ``output`` (default ``JOB/out.jsonl``) and ``failures`` (default ``OUTPUT.failures.jsonl``)
    get the records ``pactx extract`` writes. Answers that fail validation, and requests the
    batch did not answer, are asked again live (``reask="live"``, with ``concurrency`` and the
    rate limits) or in a follow-up batch (``reask="batch"``; the default is the job's). Until
    every batch has ended, nothing is written and the report says ``in_progress`` (``wait``
    polls every ``poll_interval`` seconds instead). Run it again after a crash: documents
    already written are skipped.
    """
    loaded = _Job.load(job)
    policy = reask or loaded.data.get("reask", "live")
    if policy not in REASK_POLICIES:
        raise ConfigurationError(f"unknown reask policy {policy!r}; choose one of {', '.join(REASK_POLICIES)}")
    out = Path(output) if output is not None else loaded.folder / "out.jsonl"
    report = CollectReport(
        job=loaded.folder, output=out,
        failures_path=Path(failures) if failures is not None else out.with_suffix(".failures.jsonl"),
    )
    with _Session(loaded, api_key=api_key, cache=cache) as session:
        while True:
            session.advance()
            session.refresh()
            report.rounds = len(loaded.data["rounds"])
            running = [p for p in loaded.parts() if p.get("batch_id") and p.get("status") not in TERMINAL]
            if running:
                if not wait:
                    return report
                _sleep(poll_interval)
                continue
            session.download_and_index(report)
            if _collect_round(session, report, policy, concurrency, requests_per_minute, tokens_per_minute):
                break
            if not wait:
                return report
    report.live_calls = session.backend.live_calls
    parts = loaded.parts()
    report.batch_answers = sum(int(p.get("answers") or 0) for p in parts)
    report.unanswered = sum(int(p.get("unanswered") or 0) for p in parts)
    report.malformed = sum(int(p.get("malformed") or 0) for p in parts)
    report.state = "done"
    loaded.data["collected"] = True
    loaded.save()
    return report


def _collect_round(
    session: _Session, report: CollectReport, policy: str, concurrency: int, rpm: float | None, tpm: float | None
) -> bool:
    """Write what the ended batches answer; send the rest to the next round. ``True`` when all is written."""
    writer = _Writer(report)
    try:
        pending, misses = _replay(session, writer)
        report.pending = len(pending)
        if not pending:
            return True
        waiting = set(pending)
        docs = (d for i, d in enumerate(session.job.documents()) if i in waiting)
        if policy == "batch":
            if not session.job.data.get("cancelled"):
                _next_round(session, misses)
                report.rounds = len(session.job.data["rounds"])
                return False
            for doc in docs:  # no batch is created for a cancelled job
                message = "the job was cancelled before a batch answered this document"
                writer.write(Outcome.failure(doc.id, "ProviderError", message, doc.source))
            report.pending = 0
            return True
        session.backend.on_miss = "live"
        for outcome in extract_many(
            docs, extractor=session.extractor, concurrency=concurrency,
            requests_per_minute=rpm, tokens_per_minute=tpm, ordered=True,
        ):
            writer.write(outcome)
        report.pending = 0
        return True
    finally:
        writer.close()
