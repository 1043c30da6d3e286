"""The loopback test server's Batch API: ``/v1/files`` and ``/v1/batches``, as OpenAI serves them.

It implements what a batch client uses: file upload (multipart, ``purpose=batch``), list,
retrieve and content download; batch create, retrieve, list and cancel. Each request line of a
batch is answered by the server's own chat-completion code, so a batch answer is exactly the
answer a live call gets. :class:`BatchPlan` controls how a batch ends: completed, failed,
expired or cancelled, with per-request error lines, malformed or missing result lines, and how
many polls it stays in progress. :meth:`BatchService.hold` pauses a step right after it took
effect, so a test can kill a client there (the server acted, the client never heard), and
:meth:`BatchService.lose_reply` answers it with a 500 instead.

>>> server = FakeOpenAIServer(batch_plans=[BatchPlan(outcome="expired", answered=3)])
"""

from __future__ import annotations

import email.policy
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["BatchPlan", "BatchService", "Hold", "BATCH_OUTCOMES", "TERMINAL_STATUSES"]

BATCH_OUTCOMES = ("completed", "failed", "expired", "cancelled")
TERMINAL_STATUSES = frozenset(BATCH_OUTCOMES)
ENDPOINT = "/v1/chat/completions"

Reply = tuple[int, bytes, str]
"""HTTP status, body, content type."""


@dataclass
class BatchPlan:
    """How one batch ends.

    ``outcome`` is the final status. ``polls`` is how many retrieves report ``in_progress``
    before it ends. An ``expired`` or ``cancelled`` batch (cancelled by the client, or by
    ``outcome``) answers only its first ``answered`` request lines (default: half) and reports
    the rest in the error file. ``error_lines``, ``malformed_lines`` and ``missing_lines`` are
    0-based input lines answered with an error (HTTP 500 in the error file), with a garbled
    output line, or with no result line at all.
    """

    outcome: str = "completed"
    polls: int = 0
    answered: int | None = None
    error_lines: tuple[int, ...] = ()
    malformed_lines: tuple[int, ...] = ()
    missing_lines: tuple[int, ...] = ()
    failure_code: str = "token_limit_exceeded"

    def __post_init__(self) -> None:
        if self.outcome not in BATCH_OUTCOMES:
            raise ValueError(f"unknown batch outcome {self.outcome!r}; choose one of {', '.join(BATCH_OUTCOMES)}")


@dataclass
class Hold:
    """A step paused after it took effect: ``reached`` is set then, the reply waits for ``release``."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any] | None
    plan: BatchPlan
    created_at: int
    status: str = "validating"
    polls_left: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    completed: int = 0
    failed: int = 0
    stamps: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        total = len(self.lines)
        body: dict[str, Any] = {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.created_at + 86_400,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "request_counts": {"total": total, "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        }
        for stage in ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"):
            body[f"{stage}_at"] = self.stamps.get(stage)
        return body


def _json(status: int, body: Any) -> Reply:
    return status, json.dumps(body).encode("utf-8"), "application/json"


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Reply:
    return _json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


class BatchService:
    """Files and batches held in memory; ``complete`` answers one chat-completion body.

    ``plans`` are used by the batches in the order they are created; later batches follow
    ``default_plan``. ``executed`` counts the request lines answered (the model calls the
    batches made).
    """

    def __init__(
        self,
        complete: Callable[[dict[str, Any]], dict[str, Any]],
        plans: list[BatchPlan] | None = None,
        *,
        default_plan: BatchPlan | None = None,
        seed: int = 0,
    ) -> None:
        self.complete = complete
        self.plans = list(plans or [])
        self.default_plan = default_plan or BatchPlan()
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}
        self.executed = 0
        self.calls: list[tuple[str, str]] = []
        self._holds: dict[str, Hold] = {}
        self._lost: dict[str, int] = {}
        self._refused: dict[str, int] = {}
        self._rng = random.Random(seed)
        self._lock = threading.RLock()

    def hold(self, step: str) -> Hold:
        """Pause the next ``upload``, ``create`` or ``content`` request after it took effect."""
        if step not in ("upload", "create", "content"):
            raise ValueError(f"unknown step {step!r}")
        hold = Hold()
        self._holds[step] = hold
        return hold

    def lose_reply(self, step: str, times: int = 1) -> None:
        """Answer the next ``times`` ``upload`` or ``create`` requests with HTTP 500 after they took effect."""
        self._lost[step] = times

    def refuse(self, step: str, times: int = 1) -> None:
        """Answer the next ``times`` ``upload`` or ``create`` requests with HTTP 500, doing nothing."""
        self._refused[step] = times

    def _refuses(self, step: str) -> bool:
        if self._refused.get(step):
            self._refused[step] -= 1
            return True
        return False

    def _pause(self, step: str) -> Reply | None:
        """Hold the reply if a test asked to; the reply to send instead, if one is to be lost."""
        hold = self._holds.pop(step, None)
        if hold is not None:
            hold.reached.set()
            hold.release.wait(timeout=60)
        if self._lost.get(step):
            self._lost[step] -= 1
            return _error(500, "The server had an error while processing your request.", "server_error")
        return None

    def count(self, method: str, route: str) -> int:
        """Requests received for ``route`` (``files``, ``file``, ``content``, ``batches``, ``batch``, ``cancel``)."""
        return sum(1 for m, r in self.calls if (m, r) == (method, route))

    # -- routing ------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, content_type: str, body: bytes) -> Reply | None:
        """The reply to a request for ``/v1/files...`` or ``/v1/batches...``; ``None`` for other paths."""
        url = urlsplit(raw_path)
        parts = [p for p in url.path.split("/") if p]
        if parts[:1] == ["v1"]:
            parts = parts[1:]
        if not parts or parts[0] not in ("files", "batches"):
            return None
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        route = {
            ("files", 1): "files", ("files", 2): "file", ("files", 3): "content",
            ("batches", 1): "batches", ("batches", 2): "batch", ("batches", 3): "cancel",
        }.get((parts[0], len(parts)))
        if route is None or (route == "content" and parts[2] != "content") or (route == "cancel" and parts[2] != "cancel"):
            return _error(404, f"no route {url.path}")
        with self._lock:
            self.calls.append((method, route))
        handler = getattr(self, f"_{method.lower()}_{route}", None)
        if handler is None:
            return _error(405, f"{method} not allowed on {url.path}")
        reply: Reply = handler(parts[1] if len(parts) > 1 else None, query, content_type, body)
        return reply

    # -- files --------------------------------------------------------------------------------

    def _new_file(self, filename: str, purpose: str, data: bytes) -> _File:
        item = _File(f"file-{uuid.uuid4().hex[:24]}", filename, purpose, data, int(time.time()))
        with self._lock:
            self.files[item.id] = item
        return item

    def _post_files(self, _: str | None, query: dict[str, str], content_type: str, body: bytes) -> Reply:
        if self._refuses("upload"):
            return _error(500, "The server had an error while processing your request.", "server_error")
        fields = _multipart(content_type, body)
        if "file" not in fields or "purpose" not in fields:
            return _error(400, "an upload needs the fields 'file' and 'purpose'")
        filename, data = fields["file"]
        item = self._new_file(filename or "upload.jsonl", fields["purpose"][1].decode("utf-8"), data)
        return self._pause("upload") or _json(200, item.to_json())

    def _get_files(self, _: str | None, query: dict[str, str], content_type: str, body: bytes) -> Reply:
        with self._lock:
            found = [f for f in self.files.values() if query.get("purpose") in (None, f.purpose)]
        found.sort(key=lambda f: f.created_at, reverse=True)
        return _json(200, {"object": "list", "data": [f.to_json() for f in found], "has_more": False})

    def _get_file(self, file_id: str | None, *_: Any) -> Reply:
        item = self.files.get(file_id or "")
        return _json(200, item.to_json()) if item else _error(404, f"no such file: {file_id}")

    def _get_content(self, file_id: str | None, *_: Any) -> Reply:
        item = self.files.get(file_id or "")
        if item is None:
            return _error(404, f"no such file: {file_id}")
        return self._pause("content") or (200, item.data, "application/octet-stream")

    # -- batches ------------------------------------------------------------------------------

    def _post_batches(self, _: str | None, query: dict[str, str], content_type: str, body: bytes) -> Reply:
        if self._refuses("create"):
            return _error(500, "The server had an error while processing your request.", "server_error")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "the body is not JSON")
        source = self.files.get(str(request.get("input_file_id")))
        if source is None:
            return _error(400, f"no such input file: {request.get('input_file_id')}")
        if request.get("endpoint") != ENDPOINT:
            return _error(400, f"unsupported endpoint {request.get('endpoint')!r}")
        if request.get("completion_window") != "24h":
            return _error(400, "completion_window must be '24h'")
        with self._lock:
            plan = self.plans.pop(0) if self.plans else self.default_plan
            batch = _Batch(
                id=f"batch_{uuid.uuid4().hex[:24]}",
                input_file_id=source.id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata=request.get("metadata"),
                plan=plan,
                created_at=int(time.time()),
            )
            batch.problems = self._parse(batch)
            self.batches[batch.id] = batch
        return self._pause("create") or _json(200, batch.to_json())

    def _get_batches(self, _: str | None, query: dict[str, str], content_type: str, body: bytes) -> Reply:
        with self._lock:
            found = sorted(self.batches.values(), key=lambda b: b.created_at, reverse=True)
            data = [b.to_json() for b in found]
        return _json(200, {"object": "list", "data": data, "has_more": False})

    def _get_batch(self, batch_id: str | None, *_: Any) -> Reply:
        with self._lock:
            batch = self.batches.get(batch_id or "")
            if batch is None:
                return _error(404, f"no such batch: {batch_id}")
            self._advance(batch)
            return _json(200, batch.to_json())

    def _post_cancel(self, batch_id: str | None, *_: Any) -> Reply:
        with self._lock:
            batch = self.batches.get(batch_id or "")
            if batch is None:
                return _error(404, f"no such batch: {batch_id}")
            if batch.status not in TERMINAL_STATUSES:
                batch.cancel_requested = True
                batch.status = "cancelling"
                batch.stamps["cancelling"] = int(time.time())
            return _json(200, batch.to_json())

    # -- the batch's life ---------------------------------------------------------------------

    def _advance(self, batch: _Batch) -> None:
        """One step of a batch, taken on each retrieve."""
        now = int(time.time())
        if batch.status == "validating":
            if batch.problems or batch.plan.outcome == "failed":
                batch.errors = batch.problems or [
                    {"code": batch.plan.failure_code, "message": "the batch could not be run", "param": None, "line": None}
                ]
                batch.status = "failed"
                batch.stamps["failed"] = now
                return
            batch.status, batch.polls_left = "in_progress", batch.plan.polls
            batch.stamps["in_progress"] = now
        if batch.status == "cancelling":
            self._finish(batch, "cancelled")
        elif batch.status == "in_progress":
            if batch.polls_left > 0:
                batch.polls_left -= 1
                done = len(batch.lines) * (batch.plan.polls - batch.polls_left) // (batch.plan.polls + 1)
                batch.completed = done
                return
            self._finish(batch, batch.plan.outcome)

    def _parse(self, batch: _Batch) -> list[dict[str, Any]]:
        """Read the input file into ``batch.lines``; the problems found, as OpenAI reports them."""
        problems: list[dict[str, Any]] = []
        seen: set[str] = set()
        text = self.files[batch.input_file_id].data.decode("utf-8", "replace")
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                custom_id = str(line["custom_id"])
                valid = line.get("method") == "POST" and line.get("url") == ENDPOINT and isinstance(line.get("body"), dict)
            except (ValueError, KeyError, TypeError):
                problems.append({"code": "invalid_json_line", "message": "not a request line", "param": None, "line": number})
                continue
            if not valid or custom_id in seen:
                reason = "duplicate custom_id" if custom_id in seen else "bad method, url or body"
                problems.append({"code": "invalid_request", "message": reason, "param": None, "line": number})
                continue
            seen.add(custom_id)
            batch.lines.append(line)
        return problems

    def _finish(self, batch: _Batch, outcome: str) -> None:
        plan, total = batch.plan, len(batch.lines)
        if outcome in ("expired", "cancelled"):
            answered = total // 2 if plan.answered is None else min(plan.answered, total)
        else:
            answered = total
        outputs: list[str] = []
        errors: list[str] = []
        for index, line in enumerate(batch.lines):
            request_id = f"batch_req_{uuid.uuid4().hex[:16]}"
            custom_id = line["custom_id"]
            if index >= answered:
                code = "batch_expired" if outcome == "expired" else "batch_cancelled"
                message = f"This request could not be executed before the batch was {outcome}."
                record = {"id": request_id, "custom_id": custom_id, "response": None, "error": {"code": code, "message": message}}
                errors.append(json.dumps(record))
                continue
            if index in plan.missing_lines:
                continue
            if index in plan.error_lines:
                body = {"error": {"message": "The server had an error processing your request.", "type": "server_error"}}
                response = {"status_code": 500, "request_id": request_id, "body": body}
                errors.append(json.dumps({"id": request_id, "custom_id": custom_id, "response": response, "error": None}))
                continue
            answer = self.complete(line["body"])
            self.executed += 1
            response = {"status_code": 200, "request_id": request_id, "body": answer}
            text = json.dumps({"id": request_id, "custom_id": custom_id, "response": response, "error": None})
            outputs.append(text[: len(text) // 2] if index in plan.malformed_lines else text)
        self._rng.shuffle(outputs)  # like OpenAI's, output lines come in no particular order
        if outputs:
            batch.output_file_id = self._new_file(f"{batch.id}_output.jsonl", "batch_output", _lines(outputs)).id
        if errors:
            batch.error_file_id = self._new_file(f"{batch.id}_error.jsonl", "batch_output", _lines(errors)).id
        batch.completed, batch.failed = len(outputs), len(errors)
        batch.status = outcome
        batch.stamps[outcome] = int(time.time())


def _lines(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")
