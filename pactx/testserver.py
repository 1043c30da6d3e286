"""A real OpenAI-compatible HTTP server on loopback, for tests, demos and benchmarks.

It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` on ``127.0.0.1`` only, and the
Batch API (``/v1/files``, ``/v1/batches``: :mod:`pactx.testserver_batch`). By
default it answers with the rule-based floor extractor (:mod:`pactx.baseline`), as a tool call
when the request offers tools and as JSON content otherwise. It can add latency, check an API
key (and, to test redaction, echo the wrong key back in its error), and inject faults:
429 with ``Retry-After``, 500, 503, malformed JSON, dropped connections and slow answers.

>>> with FakeOpenAIServer() as server:
...     extractor = pactx.Extractor(base_url=server.url, model="fake")
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pactx.baseline import baseline_agreements
from pactx.prompts import fenced_document
from pactx.testserver_batch import BatchPlan, BatchService

__all__ = ["BatchPlan", "FakeOpenAIServer", "FaultPlan", "FAULT_KINDS", "floor_responder", "reasking_responder"]

FAULT_KINDS = ("429", "500", "503", "malformed", "drop", "slow")

Responder = Callable[[dict[str, Any]], dict[str, Any]]



def document_of(request: dict[str, Any]) -> str:
    """The fenced document of a chat request, as the client gave it (re-asks included).

    Falls back to the last user message when no message holds a fence.
    """
    messages = request.get("messages", [])
    document = fenced_document(messages)
    if document is not None:
        return document
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def floor_responder(request: dict[str, Any]) -> dict[str, Any]:
    """Answer with the rule-based floor's agreements, in the LLM's response shape."""
    return json.loads(_floor_answer(document_of(request)))


def reasking_responder(share: float) -> Responder:
    """The floor's answers, except that a first ask about ``share`` of the documents (chosen by
    the SHA-256 of the document, so a retry picks the same ones) gets an ungrounded quote."""

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        document = document_of(request)
        digest = int(hashlib.sha256(document.encode("utf-8")).hexdigest()[:8], 16)
        if len(request.get("messages", [])) <= 2 and digest < share * 0x100000000:
            quote = "a passage that this document does not contain"
            return {"agreements": [{"evidence": [{"quote": quote}], "parties": [{"name": "Atlantis"}],
                                    "agreement_type": "defense_pact", "status": "signed"}]}
        return floor_responder(request)

    return respond


@lru_cache(maxsize=4096)
def _floor_answer(document: str) -> str:
    """The floor's answer for one document, as JSON (memoized: benchmarks repeat documents)."""
    agreements = baseline_agreements(document)
    dumped = [
        a.model_dump(mode="json", exclude={"cow_type", "plover_event"}, exclude_none=True)
        for a in agreements
    ]
    return json.dumps({"agreements": dumped})


@dataclass
class FaultPlan:
    """Which requests fail, and how.

    ``rate`` is the chance a request fails, drawn from a seeded generator; ``kinds`` are the
    faults to choose from. ``script`` instead fixes the first answers in order ("ok" or a
    fault kind), after which requests succeed.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    script: list[str] = field(default_factory=list)
    retry_after: float = 0.05
    slow_seconds: float = 3.0

    def __post_init__(self) -> None:
        unknown = [k for k in (*self.kinds, *self.script) if k not in (*FAULT_KINDS, "ok")]
        if unknown:
            raise ValueError(f"unknown fault kind(s): {unknown}")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            if self.script:
                return self.script.pop(0)
            if self.rate and self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
            return "ok"


class _Server(ThreadingHTTPServer):
    """A thread per connection, a deep accept queue, and quiet about clients that hang up."""

    daemon_threads = True
    request_queue_size = 1024  # the default (5) drops connections under high concurrency

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the client timed out or went away (slow and drop faults)
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """An OpenAI-compatible server on ``127.0.0.1`` with an ephemeral port."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        model: str = "fake-model",
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        api_key: str | None = None,
        usage: tuple[int, int] = (120, 60),
        batch_plans: list[BatchPlan] | None = None,
    ) -> None:
        self.responder = responder or floor_responder
        self.model = model
        self.latency = latency
        self.faults = faults or FaultPlan()
        self.api_key = api_key
        self.usage = usage
        self.requests: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        """The raw bytes of each chat-completion request, as the client sent them."""
        self.fault_log: list[str] = []
        self.batches = BatchService(self.completion, batch_plans)
        """The Batch API's files and batches; its request lines are answered by :meth:`completion`."""
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL to give an OpenAI client, ending in ``/v1``."""
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    @property
    def completions(self) -> int:
        """Chat-completion requests received (faulty ones included)."""
        with self._lock:
            return len(self.requests)

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (from another thread) or Ctrl-C."""
        try:
            self._httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def completion(self, request: dict[str, Any]) -> dict[str, Any]:
        """The chat-completion body answering ``request``."""
        answer = json.dumps(self.responder(request), ensure_ascii=False)
        message: dict[str, Any] = {"role": "assistant", "content": answer}
        tools = request.get("tools") or []
        if tools:
            name = tools[0].get("function", {}).get("name", "answer")
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_0", "type": "function", "function": {"name": name, "arguments": answer}}
                ],
            }
        prompt_tokens, completion_tokens = self.usage
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", self.model),
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None, content_type: str = "application/json"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self) -> bool:
                if server.api_key is None:
                    return True
                sent = self.headers.get("Authorization", "")
                if sent == f"Bearer {server.api_key}":
                    return True
                # Like some real servers, echo what was sent: pactx must redact it.
                given = sent.removeprefix("Bearer ")
                body = {"error": {"message": f"Incorrect API key provided: {given}", "type": "invalid_request_error"}}
                self._send(401, json.dumps(body).encode())
                return False

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                routed = server.batches.handle("GET", self.path, "", b"")
                if routed is not None:
                    status, body, content_type = routed
                    self._send(status, body, content_type=content_type)
                elif self.path.rstrip("/").endswith("/models"):
                    body = json.dumps(
                        {"object": "list", "data": [{"id": server.model, "object": "model", "owned_by": "pactx"}]}
                    ).encode()
                    self._send(200, body)
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if not self._authorized():
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    routed = server.batches.handle("POST", self.path, self.headers.get("Content-Type", ""), raw)
                    status, body, content_type = routed or (404, b'{"error": {"message": "not found"}}', "application/json")
                    self._send(status, body, content_type=content_type)
                    return
                request = json.loads(raw or b"{}")
                with server._lock:
                    server.requests.append(request)
                    server.bodies.append(raw)
                fault = server.faults.next()
                with server._lock:
                    server.fault_log.append(fault)
                # The answer is made first, then sent ``latency`` seconds after the request
                # arrived: the server's own work is part of its latency, not added to it.
                body = json.dumps(server.completion(request)).encode() if fault in ("ok", "slow") else b""
                remaining = server.latency - (time.monotonic() - arrived)
                if remaining > 0:
                    time.sleep(remaining)
                if fault == "429":
                    retry_after = {"Retry-After": str(server.faults.retry_after)}
                    self._send(429, b'{"error": {"message": "rate limited"}}', retry_after)
                elif fault in ("500", "503"):
                    self._send(int(fault), b'{"error": {"message": "server error"}}')
                elif fault == "malformed":
                    self._send(200, b'{"id": "chatcmpl-broken", "choices": [')
                elif fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                elif fault == "slow":
                    time.sleep(server.faults.slow_seconds)
                    self._send(200, body)
                else:
                    self._send(200, body)

        return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve on loopback until interrupted: ``python -m pactx.testserver --latency 0.2``.

    Prints the base URL on the first line of stdout, for scripts that start it as a process.
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds from a request's arrival to its answer")
    parser.add_argument("--model", default="fake-model")
    parser.add_argument(
        "--reask-share", type=float, default=0.0,
        help="share of documents whose first answer quotes text the document does not hold (so it is re-asked)",
    )
    args = parser.parse_args(argv)
    responder = reasking_responder(args.reask_share) if args.reask_share else None
    server = FakeOpenAIServer(responder, model=args.model, latency=args.latency)
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
