"""Batch requests made by the live path, and batch answers given back to it.

:class:`BatchBackend` wraps the live :class:`~pactx.providers.OpenAIBackend`. For each call the
:class:`~pactx.extraction.Extractor` makes (instructor prepares it), it builds the body the live
openai client would send, byte for byte, into a transport that keeps it instead of sending it,
and names it by its SHA-256 (:func:`custom_id_of`). It answers the call from the job's batch
results (:class:`AnswerBook`) when that body was in a batch; otherwise it records the request,
calls the endpoint, or raises :class:`Pending`, as the caller asks. Provider, model, mode and
generation parameters stay the live backend's, so results, metadata and cache keys are a live
run's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from pactx.errors import PactxError, ProviderError
from pactx.providers import OpenAIBackend
from pactx.redaction import redact

__all__ = [
    "BATCH_ENDPOINT",
    "MAX_SUBMISSIONS",
    "CUSTOM_ID",
    "AnswerBook",
    "BatchBackend",
    "BatchRequest",
    "Indexed",
    "Pending",
    "custom_id_of",
    "result_line",
]

BATCH_ENDPOINT = "/v1/chat/completions"
MAX_SUBMISSIONS = 2
"""A request the provider left unanswered this many times fails with a ``ProviderError``."""


# -- requests: built by the live path, kept instead of sent -----------------------------------


_CAPTURED_ANSWER = {
    "id": "captured",
    "object": "chat.completion",
    "created": 0,
    "model": "captured",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "{}"}}],
}


class _Capture(httpx.BaseTransport):
    """An httpx transport that keeps the request it is handed and sends nothing."""

    def __init__(self) -> None:
        self.last: httpx.Request | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.last = request
        return httpx.Response(200, json=_CAPTURED_ANSWER)


@dataclass(frozen=True)
class BatchRequest:
    """One model request: its ``custom_id`` (from its body) and its batch input line."""

    custom_id: str
    line: bytes


def custom_id_of(body: bytes) -> str:
    canonical = json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "pactx-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _empty_answer(kwargs: dict[str, Any]) -> ChatCompletion:
    """A valid answer with no agreement, in the request's structured-output shape."""
    arguments = '{"agreements": []}'
    tools = kwargs.get("tools") or []
    message: dict[str, Any] = {"role": "assistant", "content": arguments}
    if tools:
        name = tools[0].get("function", {}).get("name", "answer")
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": name, "arguments": arguments}}],
        }
    body = {**_CAPTURED_ANSWER, "choices": [{"index": 0, "finish_reason": "stop", "message": message}]}
    return ChatCompletion.model_validate(body)


_PENDING = "no batch answer yet for request"


class Pending(PactxError):
    """A request of this document has no batch answer yet (it goes to the next round)."""


class _NotPending(logging.Filter):
    """Drops instructor's log lines about :class:`Pending`, pactx's own control flow, not a failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _PENDING not in record.getMessage()


for _name in ("instructor", "instructor.v2.retry"):  # where instructor 1.x logs failed calls
    logging.getLogger(_name).addFilter(_NotPending())


class BatchBackend:
    """The live OpenAI backend, answering from the job's batch results where it has them.

    Provider, model, mode and generation parameters are the live backend's, so results, their
    metadata and their cache keys are the same as a live run's. On a request with no batch
    answer, ``on_miss`` decides: ``live`` calls the endpoint, ``defer`` records the request and
    raises :class:`Pending` (or a ``ProviderError`` once the batches gave up on it), ``record``
    records it and answers with an empty list (to list a document's first requests).
    """

    def __init__(self, live: OpenAIBackend, book: AnswerBook | None) -> None:
        self.live = live
        self.provider, self.model, self.mode, self.config = live.provider, live.model, live.mode, live.config
        self._transport = _Capture()
        self._capture = OpenAIBackend(live.config, transport=self._transport)
        self.book = book
        self.on_miss = "defer"
        self.misses: list[BatchRequest] = []
        self.live_calls = 0

    def generation_params(self) -> dict[str, Any]:
        return self.live.generation_params()

    def request(self, kwargs: dict[str, Any]) -> BatchRequest:
        """The batch request for one call: the body the live client would send, byte for byte."""
        self._capture.complete(**kwargs)
        sent = self._transport.last
        assert sent is not None and sent.url.path.endswith("/chat/completions"), sent
        custom_id = custom_id_of(sent.content)
        head = json.dumps({"custom_id": custom_id, "method": sent.method, "url": BATCH_ENDPOINT})[:-1]
        return BatchRequest(custom_id, head.encode("utf-8") + b', "body": ' + sent.content + b"}\n")

    def _answer(self, kwargs: dict[str, Any]) -> ChatCompletion | None:
        request = self.request(kwargs)
        stored = self.book.answer(request.custom_id) if self.book is not None else None
        if stored is not None:
            return ChatCompletion.model_validate_json(stored)
        if self.on_miss == "live":
            self.live_calls += 1
            return None
        self.misses.append(request)
        if self.on_miss == "record":
            return _empty_answer(kwargs)
        reason = self.book.given_up(request.custom_id) if self.book is not None else None
        if reason is not None:
            raise ProviderError(f"the batches left this request unanswered {MAX_SUBMISSIONS} times; last: {reason}")
        raise Pending(f"{_PENDING} {request.custom_id}")

    def complete(self, **kwargs: Any) -> ChatCompletion:
        return self._answer(kwargs) or self.live.complete(**kwargs)

    async def acomplete(self, **kwargs: Any) -> ChatCompletion:
        return self._answer(kwargs) or await self.live.acomplete(**kwargs)

    def close(self) -> None:
        self.live.close()
        self._capture.close()

    async def aclose(self) -> None:
        await self.live.aclose()


# -- answers ----------------------------------------------------------------------------------

CUSTOM_ID = re.compile(rb'"custom_id"\s*:\s*"([^"\\]{1,200})"')


def result_line(raw: bytes) -> tuple[str | None, str | None, str | None]:
    """``(custom_id, answer JSON, error)`` of one result line; ``custom_id`` is ``None`` if unreadable."""
    try:
        line = json.loads(raw)
    except ValueError:
        found = CUSTOM_ID.search(raw)
        return (found.group(1).decode("utf-8", "replace") if found else None), None, "malformed result line"
    if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
        return None, None, "malformed result line"
    custom_id = line["custom_id"]
    response = line.get("response") if isinstance(line.get("response"), dict) else {}
    body = response.get("body")
    if response.get("status_code") == 200 and isinstance(body, dict):
        try:
            ChatCompletion.model_validate(body)
        except ValidationError:
            return custom_id, None, "malformed result line: the body is not a chat completion"
        return custom_id, json.dumps(body, ensure_ascii=False), None
    error = line.get("error") if isinstance(line.get("error"), dict) else None
    if error is None and isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
    status_code = response.get("status_code")
    message = str(error.get("message") or error.get("code")) if error else "no answer"
    code = f"{error.get('code')}: " if error and error.get("code") else ""
    return custom_id, None, redact(f"{code}{message}" + (f" (HTTP {status_code})" if status_code else ""))


@dataclass
class Indexed:
    answers: int = 0
    errors: int = 0
    malformed: int = 0
    missing: int = 0


class AnswerBook:
    """Every batch answer and error of a job, by ``custom_id``, in sqlite (``answers.sqlite3``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (custom_id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS errors (custom_id TEXT, part TEXT, message TEXT, PRIMARY KEY (custom_id, part))"
        )

    def close(self) -> None:
        self._db.close()

    def answer(self, custom_id: str) -> str | None:
        row = self._db.execute("SELECT body FROM answers WHERE custom_id = ?", (custom_id,)).fetchone()
        return str(row[0]) if row else None

    def given_up(self, custom_id: str) -> str | None:
        """The last error of a request the batches left unanswered ``MAX_SUBMISSIONS`` times."""
        rows = self._db.execute("SELECT message FROM errors WHERE custom_id = ? ORDER BY rowid", (custom_id,)).fetchall()
        return str(rows[-1][0]) if len(rows) >= MAX_SUBMISSIONS else None

    def index(self, part: str, submitted: set[str], results: Iterable[bytes], unanswered: str) -> Indexed:
        """Store a part's result lines (output and error files) in one transaction."""
        counts = Indexed()
        seen: set[str] = set()
        self._db.execute("BEGIN")
        try:
            for raw in results:
                if not raw.strip():
                    continue
                custom_id, body, error = result_line(raw)
                if custom_id not in submitted:
                    counts.malformed += 1
                    continue
                seen.add(custom_id)
                if body is not None:
                    counts.answers += 1
                    self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (custom_id, body))
                else:
                    counts.errors += 1
                    counts.malformed += error is not None and error.startswith("malformed")
                    self._db.execute("INSERT OR REPLACE INTO errors VALUES (?, ?, ?)", (custom_id, part, error))
            for custom_id in submitted - seen:
                counts.missing += 1
                self._db.execute("INSERT OR REPLACE INTO errors VALUES (?, ?, ?)", (custom_id, part, unanswered))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return counts
