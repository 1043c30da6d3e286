"""HTTP transport retries: one policy, in one place, separate from validation re-asks.

:class:`RetryTransport` and :class:`AsyncRetryTransport` wrap an httpx transport and retry,
with tenacity, on 408, 429, 500, 502, 503, 504, timeouts, connection errors and 2xx JSON answers whose body
does not parse (a truncated or garbled body): exponential backoff with jitter, honoring
``Retry-After``. Other 4xx answers are returned at once, and so is an answer that refuses the
request's shape, whatever its status (:func:`pactx.servers.shape_rejection`: llama-cpp-python's
server answers an unsupported ``response_format`` with a 500): the same request would be
refused again. The openai client's own retries are switched off (``max_retries=0``) so this is
the only retry policy in charge.

Retries are counted in a context variable, so each extraction (thread or asyncio task) can
report its own count.
"""

from __future__ import annotations

import email.utils
import ssl
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
import openai
import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from pactx.servers import shape_rejection

__all__ = [
    "RetryPolicy",
    "RetryTransport",
    "AsyncRetryTransport",
    "ShardedAsyncTransport",
    "AiohttpTransport",
    "default_async_transport",
    "RETRYABLE_STATUS",
    "MalformedResponseError",
    "retry_counter",
]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})

POOL_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=512, keepalive_expiry=60.0)
"""Connection pool of the default transports: wide enough that batch concurrency, not the
pool, bounds the requests in flight (httpx keeps only 20 idle connections by default, so a
batch of 32 would reconnect on every request)."""


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every default transport (building one takes tens of milliseconds)."""
    return httpx.create_ssl_context()


def _transport_options() -> dict[str, Any]:
    return {"limits": POOL_LIMITS, "verify": _ssl_context()}


class MalformedResponseError(openai.APIError):
    """A 2xx answer declared JSON whose body does not parse.

    An ``openai`` error, so the client passes it on unwrapped when retries run out.
    """

    def __init__(self, request: httpx.Request, status_code: int, detail: str) -> None:
        message = f"the server answered {status_code} with a body that is not valid JSON ({detail})"
        super().__init__(message, request, body=None)  # type: ignore[arg-type]


RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.TransportError, MalformedResponseError)


class RetryCounter:
    """Mutable count of transport retries for the current extraction."""

    def __init__(self) -> None:
        self.count = 0


_COUNTER: ContextVar[RetryCounter | None] = ContextVar("pactx_retry_counter", default=None)


def retry_counter() -> RetryCounter:
    """Start a fresh retry count for the current context and return it."""
    counter = RetryCounter()
    _COUNTER.set(counter)
    return counter


@dataclass(frozen=True)
class RetryPolicy:
    """How transport failures are retried."""

    max_retries: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    jitter: float = 0.5
    retry_read_timeouts: bool = True
    """Off for a server that computes one answer at a time and finishes an abandoned one
    (llama-cpp-python's): a retry would only queue behind the answer that timed out."""

    def stop(self) -> Any:
        return stop_after_attempt(self.max_retries + 1)

    def retries_error(self, error: BaseException) -> bool:
        """Whether a failed attempt (no answer) is worth another one."""
        if isinstance(error, httpx.ReadTimeout) and not self.retry_read_timeouts:
            return False
        return isinstance(error, RETRYABLE_ERRORS)

    def wait(self, state: RetryCallState) -> float:
        """Seconds to wait before the next attempt: Retry-After if given, else backoff."""
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            response = outcome.result()
            if isinstance(response, httpx.Response):
                after = _retry_after_seconds(response.headers.get("retry-after"))
                if after is not None:
                    return min(after, self.max_wait)
        backoff = wait_exponential(multiplier=self.initial_wait, max=self.max_wait) + wait_random(
            0, self.jitter
        )
        return min(float(backoff(state)), self.max_wait)


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delay or HTTP date); ``None`` if it is neither."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):  # "soon", "": not a date either; back off as usual
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _should_retry_response(response: httpx.Response) -> bool:
    """A retryable status, unless the (already read) body refuses the request's shape."""
    return response.status_code in RETRYABLE_STATUS and shape_rejection(response.status_code, response.content) is None


def _declares_json(response: httpx.Response) -> bool:
    return response.is_success and "json" in response.headers.get("content-type", "").lower()


def _malformed(request: httpx.Request, response: httpx.Response) -> MalformedResponseError | None:
    """The error to retry with if a read JSON answer's body does not parse, else ``None``."""
    try:
        orjson.loads(response.content)
    except ValueError as exc:  # orjson.JSONDecodeError (a ValueError), invalid UTF-8 included
        return MalformedResponseError(request, response.status_code, str(exc))
    return None


def _count_retry() -> None:
    counter = _COUNTER.get()
    if counter is not None:
        counter.count += 1


def _discarded(state: RetryCallState) -> httpx.Response | None:
    """The response of the attempt about to be retried, if it produced one."""
    outcome = state.outcome
    if outcome is not None and not outcome.failed and isinstance(outcome.result(), httpx.Response):
        return outcome.result()  # type: ignore[no-any-return]
    return None


def _count(state: RetryCallState) -> None:
    _count_retry()
    response = _discarded(state)
    if response is not None:
        response.close()


async def _acount(state: RetryCallState) -> None:
    _count_retry()
    response = _discarded(state)
    if response is not None:
        await response.aclose()  # an async response must not be closed synchronously


def _last_outcome(state: RetryCallState) -> Any:
    assert state.outcome is not None
    return state.outcome.result()  # the last response, or re-raise the last error


class RetryTransport(httpx.BaseTransport):
    """Synchronous httpx transport that retries transient failures."""

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._inner = inner
        self._building = threading.Lock()
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    @property
    def inner(self) -> httpx.BaseTransport:
        """The wrapped transport. The default one (a connection pool with a TLS context) is built
        on first use: a backend that only calls asynchronously, as in a worker process, never
        pays for it (importing httpcore and loading the CA bundle: 0.15 s)."""
        if self._inner is None:
            with self._building:
                if self._inner is None:
                    self._inner = httpx.HTTPTransport(**_transport_options())
        return self._inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        retrying = Retrying(
            stop=self.policy.stop(),
            wait=self.policy.wait,
            retry=retry_if_exception(self.policy.retries_error)
            | retry_if_result(_should_retry_response),
            before_sleep=_count,
            retry_error_callback=_last_outcome,
            sleep=self._sleep,
        )
        return retrying(self._send, request)

    def _send(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if response.status_code in RETRYABLE_STATUS:
            response.read()
        elif _declares_json(response):
            response.read()
            error = _malformed(request, response)
            if error is not None:
                response.close()
                raise error
        return response

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that calls ``release`` once when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> Any:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class ShardedAsyncTransport(httpx.AsyncBaseTransport):
    """Several small connection pools; each request goes to the least busy one.

    httpcore matches waiting requests to connections by scanning all of them, so one pool
    serving n requests at once spends O(n²) per request: at 128 in flight that scan costs more
    than the rest of an extraction. Pools of a few connections each keep it flat.
    """

    def __init__(self, shards: int = 8, **options: Any) -> None:
        self._pools = [httpx.AsyncHTTPTransport(**options) for _ in range(shards)]
        self._busy = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._pools)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            response = await self._pools[index].handle_async_request(request)
        except BaseException:
            self._busy[index] -= 1
            raise

        def release() -> None:
            self._busy[index] -= 1

        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, release)
        return response

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends requests through aiohttp's connection pool.

    aiohttp parses HTTP in C; per request it costs a fraction of the CPU of httpcore's
    pure-Python HTTP/1.1 stack, which bounds a batch's rate on a small machine. httpx (and so
    the openai client) still builds the requests and reads the answers: bodies arrive
    undecoded and httpx decodes them as usual. aiohttp's failures become the httpx errors
    they correspond to, so :class:`AsyncRetryTransport` retries them alike. The session is
    opened in the event loop of the first request.
    """

    def __init__(self, *, limits: httpx.Limits = POOL_LIMITS, verify: ssl.SSLContext | None = None) -> None:
        self._limit = limits.max_connections or 0
        self._keepalive = limits.keepalive_expiry or 15.0
        self._ssl = verify if verify is not None else _ssl_context()
        self._session: Any = None

    def _open(self) -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=self._keepalive, ssl=self._ssl)
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # httpx decodes, as it would its own transport's bodies
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
            trust_env=False,  # proxies from the environment are httpx's business (its mounts)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp

        if self._session is None:
            self._session = self._open()
        seconds = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=seconds.get("pool"),
            sock_connect=seconds.get("connect"),
            sock_read=seconds.get("read"),
        )
        headers = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw]
        try:
            async with self._session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=await request.aread() or None,
                allow_redirects=False,
                timeout=timeout,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            ) as answer:
                body = await answer.read()
                status, raw_headers = answer.status, answer.raw_headers
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connection timed out", request=request) from exc
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError, aiohttp.ServerDisconnectedError) as exc:
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        return httpx.Response(
            status,
            headers=list(raw_headers),
            stream=httpx.ByteStream(body),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def default_async_transport() -> httpx.AsyncBaseTransport:
    """The pool asynchronous calls go through: :class:`AiohttpTransport` when aiohttp is
    installed (it comes with instructor), else :class:`ShardedAsyncTransport` over httpcore."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:  # pragma: no cover - aiohttp is a dependency
        return ShardedAsyncTransport(**_transport_options())
    return AiohttpTransport(limits=POOL_LIMITS, verify=_ssl_context())


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """Asynchronous httpx transport that retries transient failures."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._inner = inner or default_async_transport()
        self.policy = policy or RetryPolicy()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=self.policy.stop(),
            wait=self.policy.wait,
            retry=retry_if_exception(self.policy.retries_error)
            | retry_if_result(_should_retry_response),
            before_sleep=_acount,
            retry_error_callback=_last_outcome,
        )
        return await retrying(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if response.status_code in RETRYABLE_STATUS:
            await response.aread()
        elif _declares_json(response):
            await response.aread()
            error = _malformed(request, response)
            if error is not None:
                await response.aclose()
                raise error
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
