"""A lean OpenAI-compatible loopback server for benchmarks: one asyncio loop, no threads.

It answers ``POST /v1/chat/completions`` with exactly the body
:class:`pactx.testserver.FakeOpenAIServer` gives (the same method builds it: the rule-based
floor's agreements, as a tool call or as JSON content) and ``GET /v1/models``, each answer
sent ``latency`` seconds after its request arrived. It has no faults and no API key; tests of
those use the test server. The point is its cost: a thread per connection and
``http.server``'s parsing spend more CPU per request than the floor extractor itself, and on
a small machine the server shares the CPU with the client it measures. For the same reason
``--answers FILE`` serves answers worked out beforehand: JSON lines ``{"document": ...,
"answer": {"agreements": [...]}}`` (:func:`write_answers` writes the floor's), looked up by
the request's fenced document; a document not in the file gets the floor's answer as usual.
A real endpoint's work is done on another machine, so a benchmark of the client should not
pay for it.

``python -m pactx.fastserver --latency 0.2`` prints its base URL on the first line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from pactx.testserver import FakeOpenAIServer, Responder, document_of, floor_responder

__all__ = ["LeanOpenAIServer", "table_responder", "write_answers"]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 411: "Length Required"}


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: requests with a Content-Length, answered in order."""

    def __init__(self, server: LeanOpenAIServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                self.send(400, b'{"error": {"message": "bad request line"}}', close=True)
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self.send(411, b'{"error": {"message": "send a Content-Length"}}', close=True)
                return
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return  # the body is still on its way
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            close = headers.get("connection", "").lower() == "close"
            self.server._answer(self, method, target.split("?", 1)[0], body, time.monotonic(), close)

    def send(self, status: int, body: bytes, *, close: bool = False) -> None:
        if self.transport is None:
            return  # the client went away while its answer waited
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        if close:
            self.transport.close()


class LeanOpenAIServer:
    """Chat completions on ``127.0.0.1`` from one asyncio loop (see the module docstring)."""

    completion = FakeOpenAIServer.completion  # the very same answers

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        model: str = "fake-model",
        latency: float = 0.0,
        usage: tuple[int, int] = (120, 60),
    ) -> None:
        self.responder = responder or floor_responder
        self.model = model
        self.latency = latency
        self.usage = usage
        self.completions = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    @property
    def url(self) -> str:
        """Base URL to give an OpenAI client, ending in ``/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _answer(self, conn: _Connection, method: str, path: str, raw: bytes, arrived: float, close: bool) -> None:
        path = path.rstrip("/")
        if method == "GET" and path.endswith("/models"):
            listing = {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "pactx"}]}
            status, body = 200, json.dumps(listing).encode()
        elif method == "POST" and path.endswith("/chat/completions"):
            self.completions += 1
            try:
                request = orjson.loads(raw or b"{}")
            except ValueError:
                conn.send(400, b'{"error": {"message": "the body is not JSON"}}', close=True)
                return
            status, body = 200, orjson.dumps(self.completion(request))  # type: ignore[arg-type]
        else:
            status, body = 404, b'{"error": {"message": "not found"}}'
        # Sent ``latency`` after arrival (the loop's clock is time.monotonic): the server's own
        # work is part of the latency, not added to it.
        assert self._loop is not None
        self._loop.call_at(arrived + self.latency, lambda: conn.send(status, body, close=close))

    async def _serve(self, on_ready: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        server = await self._loop.create_server(lambda: _Connection(self), "127.0.0.1", 0, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._stopping = asyncio.Event()
        on_ready()
        async with server:
            await self._stopping.wait()

    def start(self) -> LeanOpenAIServer:
        """Serve from a background thread; returns once the port is bound."""
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(self._started.set),), daemon=True)
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> LeanOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_answers(path: str | Path, documents: Iterable[str]) -> int:
    """Write the floor's answer to each of ``documents`` as ``--answers`` reads them; returns the count."""
    count = 0
    with Path(path).open("wb") as out:
        for document in documents:
            answer = floor_responder({"messages": [{"role": "user", "content": document}]})
            out.write(orjson.dumps({"document": document, "answer": answer}) + b"\n")
            count += 1
    return count


def table_responder(path: str | Path) -> Responder:
    """Answers from a file :func:`write_answers` wrote, by document; the floor's for any other."""
    table: dict[str, dict[str, Any]] = {}
    with Path(path).open("rb") as lines:
        for line in lines:
            if line.strip():
                entry = orjson.loads(line)
                table[entry["document"]] = entry["answer"]

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        answer = table.get(document_of(request))
        return answer if answer is not None else floor_responder(request)

    return respond


def main(argv: list[str] | None = None) -> None:
    """Serve on loopback until interrupted: ``python -m pactx.fastserver --latency 0.2``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds from a request's arrival to its answer")
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--answers", help="JSON lines of answers by document (see write_answers)")
    args = parser.parse_args(argv)
    responder = table_responder(args.answers) if args.answers else None
    server = LeanOpenAIServer(responder, model=args.model, latency=args.latency)

    try:
        asyncio.run(server._serve(lambda: print(server.url, flush=True)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
