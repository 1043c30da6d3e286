"""The lean request path: the same bytes on the wire, aiohttp's pool behind httpx, failures mapped."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
import pytest

from pactx.providers import OpenAIBackend, ProviderConfig, _untransformed
from pactx.testserver import FakeOpenAIServer
from pactx.transport import AiohttpTransport, AsyncRetryTransport, RetryPolicy, default_async_transport

REQUEST: dict[str, Any] = {
    "model": "m",
    "messages": [{"role": "system", "content": "be terse"}, {"role": "user", "content": "Mali and Niger"}],
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    "tools": [{"type": "function", "function": {"name": "answer", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "answer"}},
    "temperature": 0.0,
    "max_tokens": 64,
    "seed": 0,
}
ANSWER = {
    "id": "c",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "{}"}}],
}


def _sent_body(**kwargs: Any) -> dict[str, Any]:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json=ANSWER)

    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    client.chat.completions.create(**kwargs)
    return json.loads(bodies[0])  # type: ignore[no-any-return]


def test_the_untransformed_call_sends_exactly_the_body_of_a_plain_call() -> None:
    assert _sent_body(**_untransformed(REQUEST)) == _sent_body(**REQUEST)
    assert _untransformed(REQUEST)["messages"] == []  # the bulky part skipped the client's walk
    extra = {**REQUEST, "extra_body": {"top_k": 3}}
    assert _sent_body(**_untransformed(extra))["top_k"] == 3
    assert _untransformed({"model": "m"}) == {"model": "m"}


def test_both_backend_paths_send_the_plain_body() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=ANSWER)

    config = ProviderConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key="k")
    backend = OpenAIBackend(config, transport=httpx.MockTransport(handler), async_transport=httpx.MockTransport(handler))
    backend.complete(**REQUEST)
    asyncio.run(backend.acomplete(**REQUEST))
    assert bodies[0] == bodies[1] == _sent_body(**REQUEST)


def test_the_default_async_pool_is_aiohttp() -> None:
    assert isinstance(default_async_transport(), AiohttpTransport)
    assert isinstance(AsyncRetryTransport()._inner, AiohttpTransport)


class _Gzip(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        echo = {"path": self.path, "body": body.decode(), "auth": self.headers.get("Authorization"),
                "type": self.headers.get("Content-Type"), "encoding": self.headers.get("Accept-Encoding")}
        data = gzip.compress(json.dumps(echo).encode())
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("X-Extra", "a")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_aiohttp_transport_carries_headers_body_and_status_and_httpx_decodes_gzip() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Gzip)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
            return await client.post(f"http://127.0.0.1:{httpd.server_address[1]}/v1/x?q=1",
                                     json={"a": "é"}, headers={"Authorization": "Bearer s"})

    try:
        response = asyncio.run(call())
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert response.status_code == 201 and response.headers["x-extra"] == "a"
    echo = response.json()
    assert echo["path"] == "/v1/x?q=1" and json.loads(echo["body"]) == {"a": "é"}
    assert echo["auth"] == "Bearer s" and echo["type"] == "application/json"
    assert "gzip" in echo["encoding"]  # httpx's own Accept-Encoding, which it can decode


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_aiohttp_failures_become_the_httpx_errors_the_retry_policy_knows() -> None:
    async def post(url: str, timeout: float = 5.0) -> None:
        transport = AiohttpTransport()
        try:
            async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
                await client.post(url, json={})
        finally:
            await transport.aclose()

    with pytest.raises(httpx.ConnectError):
        asyncio.run(post(f"http://127.0.0.1:{_free_port()}/v1"))
    with FakeOpenAIServer(latency=1.0) as slow:
        with pytest.raises(httpx.ReadTimeout):
            asyncio.run(post(slow.url + "/chat/completions", timeout=0.2))
    from pactx.testserver import FaultPlan

    with FakeOpenAIServer(faults=FaultPlan(script=["drop"])) as dropping:
        with pytest.raises(httpx.RemoteProtocolError):
            asyncio.run(post(dropping.url + "/chat/completions"))


def test_the_retry_transport_over_aiohttp_retries_a_dropped_connection() -> None:
    from pactx.testserver import FaultPlan

    async def post(url: str) -> int:
        policy = RetryPolicy(max_retries=2, initial_wait=0.01, max_wait=0.02, jitter=0.0)
        async with httpx.AsyncClient(transport=AsyncRetryTransport(policy=policy)) as client:
            response = await client.post(url, json={"messages": [{"role": "user", "content": "Mali"}]})
            return response.status_code

    with FakeOpenAIServer(faults=FaultPlan(script=["drop", "500"])) as server:
        assert asyncio.run(post(server.url + "/chat/completions")) == 200
        assert server.fault_log == ["drop", "500", "ok"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 503, 418])
def test_the_async_path_fails_with_the_openai_clients_error_types(status: int) -> None:
    from pactx.errors import ProviderError
    from pactx.transport import RetryPolicy

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "no, sk-secret-0123456789abcdef"}})

    config = ProviderConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key="sk-secret-0123456789abcdef",
                            retry=RetryPolicy(max_retries=0))
    backend = OpenAIBackend(config, transport=httpx.MockTransport(handler), async_transport=httpx.MockTransport(handler))
    with pytest.raises(ProviderError) as sync_error:
        backend.complete(**REQUEST)
    with pytest.raises(ProviderError) as async_error:
        asyncio.run(backend.acomplete(**REQUEST))
    assert async_error.value.status_code == sync_error.value.status_code == status
    assert str(async_error.value).split(" ")[0] == str(sync_error.value).split(" ")[0]  # the same openai type
    assert "no," in str(async_error.value) and "0123456789abcdef" not in str(async_error.value)


def test_the_async_path_reads_an_answer_that_bends_the_declared_types() -> None:
    odd = {**ANSWER, "created": "yesterday", "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer k" and request.url.path == "/v1/chat/completions"
        return httpx.Response(200, json=odd)

    config = ProviderConfig(base_url="http://127.0.0.1:9/v1/", model="m", api_key="k", server="generic")
    backend = OpenAIBackend(config, transport=httpx.MockTransport(handler), async_transport=httpx.MockTransport(handler))
    completion = asyncio.run(backend.acomplete(**REQUEST))
    assert completion.choices[0].message.content == "{}" and completion.usage is not None
    assert completion.usage.total_tokens == 5


def test_both_backend_paths_send_the_same_headers_query_and_key_placeholder() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    config = ProviderConfig(base_url="http://127.0.0.1:9/v1", model="m", server="generic")  # no key
    backend = OpenAIBackend(config, transport=httpx.MockTransport(handler), async_transport=httpx.MockTransport(handler))
    call = {**REQUEST, "extra_headers": {"X-Trace": "t1"}, "extra_query": {"api-version": "2"}}
    backend.complete(**call)
    asyncio.run(backend.acomplete(**call))
    sync, lean = seen
    for name in ("authorization", "x-trace", "content-type"):
        assert lean.headers.get(name) == sync.headers.get(name), name
    assert lean.url == sync.url and lean.url.params["api-version"] == "2"
