"""HTTP transport retries: one policy, in one place, separate from validation re-asks.

:class:`RetryTransport` and :class:`AsyncRetryTransport` wrap an httpx transport and retry,
with tenacity, on 408, 429, 5xx, timeouts and connection errors: exponential backoff with
jitter, honoring ``Retry-After``. Other 4xx answers are returned at once. The openai client's
own retries are switched off (``max_retries=0``) so this is the only retry policy in charge.

Retries are counted in a context variable, so each extraction (thread or asyncio task) can
report its own count.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

__all__ = [
    "RetryPolicy",
    "RetryTransport",
    "AsyncRetryTransport",
    "RETRYABLE_STATUS",
    "retry_counter",
]

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.TransportError)


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

    def stop(self) -> Any:
        return stop_after_attempt(self.max_retries + 1)

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
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _should_retry_response(response: httpx.Response) -> bool:
    return response.status_code in RETRYABLE_STATUS


def _count(state: RetryCallState) -> None:
    counter = _COUNTER.get()
    if counter is not None:
        counter.count += 1
    outcome = state.outcome
    if outcome is not None and not outcome.failed:
        response = outcome.result()
        if isinstance(response, httpx.Response):
            response.close()


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
        self._inner = inner or httpx.HTTPTransport()
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        retrying = Retrying(
            stop=self._policy.stop(),
            wait=self._policy.wait,
            retry=retry_if_exception_type(RETRYABLE_ERRORS)
            | retry_if_result(_should_retry_response),
            before_sleep=_count,
            retry_error_callback=_last_outcome,
            sleep=self._sleep,
        )
        return retrying(self._send, request)

    def _send(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if _should_retry_response(response):
            response.read()
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """Asynchronous httpx transport that retries transient failures."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._policy = policy or RetryPolicy()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=self._policy.stop(),
            wait=self._policy.wait,
            retry=retry_if_exception_type(RETRYABLE_ERRORS)
            | retry_if_result(_should_retry_response),
            before_sleep=_count,
            retry_error_callback=_last_outcome,
        )
        return await retrying(self._send, request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if _should_retry_response(response):
            await response.aread()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
