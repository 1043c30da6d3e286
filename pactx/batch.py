"""Many documents at once: bounded concurrency, rate limits, one outcome per document.

:func:`aextract_many` (async generator) and :func:`extract_many` (its synchronous twin) take
strings, bytes, :class:`~pactx.documents.Document` objects, ``(id, text)`` pairs or
:class:`~pactx.documents.InputFailure` items and yield exactly one :class:`Outcome` per input,
in completion order (or input order with ``ordered=True``). A document that fails becomes an
outcome with a typed :class:`FailureInfo`; nothing is dropped and nothing stops the batch.

At most ``concurrency`` documents are in flight (the embedded model serializes its calls, so
it runs one at a time, and so does a server whose backend says ``max_concurrency = 1``, such
as llama-cpp-python's). ``requests_per_minute`` and ``tokens_per_minute`` put every model
call, re-asks and chunks included, through async token buckets: a call reserves its
estimated tokens (the request's prompt tokens by :func:`pactx.tokens.request_tokens`, at
characters / 4, plus a quarter of ``max_tokens``) before it goes,
and the reservation is corrected from the usage the server reports. Cached results pass
without touching the limits. :func:`extract_many` can spread a batch over worker processes
(``workers``; :func:`default_workers`, :mod:`pactx.workers`) with the same guarantees.

>>> for outcome in extract_many(["Mali and Niger signed a pact.", ""], base_url=url):
...     print(outcome.id, outcome.ok, outcome.error)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import os
import signal
import threading
import time
from types import FrameType
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from pactx.cache import ResultCache
from pactx.documents import Document, InputFailure, as_document
from pactx.errors import ConfigurationError
from pactx.extraction import Extractor, use_call_gate
from pactx.redaction import redact, register_secret
from pactx.schema import ExtractionResult, TokenUsage
from pactx.tokens import request_tokens
from pactx.workers import process_context, run_in_processes

__all__ = [
    "Outcome",
    "FailureInfo",
    "TokenBucket",
    "RateGate",
    "extract_many",
    "aextract_many",
    "EMBEDDED_PROVIDER",
    "LOOP_CONCURRENCY",
    "default_workers",
]

EMBEDDED_PROVIDER = "llama-cpp"
Item = str | bytes | Document | InputFailure | tuple[str, str | bytes]
"""One batch input."""
Docs = Iterable[Item] | AsyncIterable[Item]


@dataclass(frozen=True)
class FailureInfo:
    """Why a document failed: the exception class name and its (redacted) message.

    ``usage`` is what the failed attempts cost in tokens, when any model call was made.
    """

    type: str
    message: str
    usage: TokenUsage | None = None


@dataclass(frozen=True, repr=False)
class Outcome:
    """The outcome of one document: a result (``ok``) or a typed error."""

    id: str
    ok: bool
    result: ExtractionResult | None = None
    error: FailureInfo | None = None
    source: str | None = None

    def __repr__(self) -> str:
        # Short on purpose: asyncio reprs finished tasks (and so their outcome) on every step
        # of extract_many's event loop, and a full result takes a millisecond to print.
        if self.result is not None:
            return f"Outcome(id={self.id!r}, ok=True, agreements={len(self.result.agreements)})"
        return f"Outcome(id={self.id!r}, ok={self.ok}, error={self.error!r})"

    @classmethod
    def failure(
        cls, doc_id: str, kind: str, message: str, source: str | None = None, usage: TokenUsage | None = None
    ) -> Outcome:
        """A failed outcome; the message is redacted. ``usage``: tokens its attempts used."""
        spent = usage if usage is not None and usage.prompt_tokens + usage.completion_tokens > 0 else None
        return cls(doc_id, False, None, FailureInfo(kind, redact(message), spent), source)

    def to_record(self) -> dict[str, Any]:
        """The JSON line ``pactx extract`` writes: ``{"id", "source", "result" | "error"}``."""
        record: dict[str, Any] = {"id": self.id, "source": self.source}
        if self.result is not None:
            record["result"] = self.result.model_dump(mode="json")
        if self.error is not None:
            record["error"] = {"type": self.error.type, "message": self.error.message}
            if self.error.usage is not None:
                record["error"]["usage"] = self.error.usage.model_dump()
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Outcome:
        """The outcome a :meth:`to_record` line describes (``ValueError`` if it is none)."""
        try:
            if "result" in record:
                result = ExtractionResult.model_validate(record["result"])
                return cls(str(record["id"]), True, result, None, record.get("source"))
            error = record["error"]
            return cls(str(record["id"]), False, None, FailureInfo(error["type"], error["message"]), record.get("source"))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a pactx result record: {exc!r}") from None


class TokenBucket:
    """An async token bucket: ``per_minute`` tokens refill evenly, up to ``capacity``.

    :meth:`acquire` waits (first come, first served) until the amount is available; an
    amount larger than the capacity waits for a full bucket and leaves it in debt.
    :meth:`adjust` charges (or refunds, when negative) a correction afterwards. A bucket made
    by :meth:`shared` keeps its level in shared memory behind a process lock, so the worker
    processes of a batch draw from one bucket: the limit holds for all of them together.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = float(capacity if capacity is not None else per_minute)
        self._clock, self._sleep = clock, sleep
        self._state: Any = [self.capacity, clock()]  # tokens, last refill
        self._guard: Any = contextlib.nullcontext()
        self._lock = asyncio.Lock()

    @classmethod
    def shared(cls, per_minute: float, *, context: BaseContext, capacity: float | None = None) -> TokenBucket:
        """A bucket whose level lives in shared memory (``context``'s), for worker processes.

        It uses the system-wide monotonic clock, so every process sees the same refills.
        """
        bucket = cls(per_minute, capacity=capacity)
        bucket._state = context.RawArray("d", bucket._state)
        bucket._guard = context.Lock()
        return bucket

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]  # bound to no process; each process makes its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = asyncio.Lock()

    @property
    def available(self) -> float:
        """Tokens available now (negative when in debt)."""
        with self._guard:
            self._refill()
            return float(self._state[0])

    def _refill(self) -> None:
        now = self._clock()
        state = self._state
        state[0] = min(self.capacity, state[0] + (now - state[1]) * self.rate)
        state[1] = now

    async def acquire(self, amount: float = 1.0) -> None:
        """Wait until ``amount`` tokens are available and take them."""
        async with self._lock:
            needed = min(amount, self.capacity)
            while True:
                with self._guard:
                    self._refill()
                    missing = needed - self._state[0]
                    if missing <= 0:
                        self._state[0] -= amount
                        return
                await self._sleep(missing / self.rate)

    def adjust(self, delta: float) -> None:
        """Take ``delta`` more tokens (give back when negative), never above capacity."""
        with self._guard:
            self._refill()
            self._state[0] = min(self.capacity, self._state[0] - delta)


def estimate_tokens(request: dict[str, Any]) -> int:
    """Tokens a chat request is expected to use: its estimated prompt tokens + max_tokens / 4."""
    return request_tokens(request) + int(request.get("max_tokens") or 0) // 4


class RateGate:
    """Requests-per-minute and tokens-per-minute limits on every model call (a ``CallGate``).

    With a multiprocessing ``context`` its buckets are :meth:`TokenBucket.shared`: the
    limits hold for all the worker processes of a batch together.
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        context: BaseContext | None = None,
    ) -> None:
        def bucket(per_minute: float | None) -> TokenBucket | None:
            if not per_minute:
                return None
            return TokenBucket.shared(per_minute, context=context) if context else TokenBucket(per_minute)

        self.requests = bucket(requests_per_minute)
        self.tokens = bucket(tokens_per_minute)

    async def admit(self, request: dict[str, Any]) -> float:
        if self.requests is not None:
            await self.requests.acquire(1)
        if self.tokens is None:
            return 0.0
        reserved = float(estimate_tokens(request))
        await self.tokens.acquire(reserved)
        return reserved

    def settle(self, reserved: float, used: int | None) -> None:
        if self.tokens is not None and used is not None:
            self.tokens.adjust(used - reserved)


def _make_extractor(
    extractor: Extractor | None, cache: ResultCache | str | Path | bool | None, options: dict[str, Any]
) -> tuple[Extractor, bool]:
    """The extractor to use and whether this batch created it (and so closes it)."""
    if extractor is None:
        return Extractor(cache=cache, **options), True
    if options or cache is not None:
        raise TypeError("give either an extractor or extractor options (cache included), not both")
    return extractor, False


async def _outcome(extractor: Extractor, item: Document | InputFailure, gate: RateGate | None) -> Outcome:
    """Extract one document; never raises (except cancellation)."""
    if isinstance(item, InputFailure):
        return Outcome.failure(item.id, "InputError", item.error, item.source)
    use_call_gate(gate)  # this task's context only
    try:
        result = await extractor.aextract(item.text, source_id=item.id)
    except Exception as exc:  # every failure becomes an outcome
        usage = getattr(exc, "usage", None)
        spent = usage if isinstance(usage, TokenUsage) else None
        return Outcome.failure(item.id, type(exc).__name__, str(exc), item.source, spent)
    return Outcome(item.id, True, result, None, item.source)


async def _items(docs: Docs) -> AsyncGenerator[Document | InputFailure, None]:
    if isinstance(docs, AsyncIterable):
        async for raw in docs:
            yield as_document(raw)
    else:
        for raw in docs:
            yield as_document(raw)


async def _run(
    extractor: Extractor, docs: Docs, *, concurrency: int, gate: RateGate | None, ordered: bool
) -> AsyncGenerator[Outcome, None]:
    """The batch loop: keep up to ``limit`` documents in flight, yield outcomes as they land."""
    limit = 1 if extractor.backend.provider == EMBEDDED_PROVIDER else concurrency
    served = getattr(extractor.backend, "max_concurrency", None)  # a server that answers one at a time
    if isinstance(served, int) and served > 0:
        limit = min(limit, served)
    window = 4 * limit  # ordered mode: at most this many outcomes started but not yet yielded
    done: asyncio.Queue[tuple[int, Outcome]] = asyncio.Queue()
    held: dict[int, Outcome] = {}
    tasks: set[asyncio.Task[None]] = set()
    source = _items(docs)
    started = received = yielded = 0
    exhausted = False

    async def work(index: int, item: Document | InputFailure) -> None:
        done.put_nowait((index, await _outcome(extractor, item, gate)))

    try:
        while True:
            while not exhausted and started - received < limit and (not ordered or started - yielded < window):
                try:
                    item = await source.__anext__()
                except StopAsyncIteration:
                    exhausted = True
                    break
                task = asyncio.create_task(work(started, item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                started += 1
            if exhausted and received == started:
                return
            index, outcome = await done.get()
            received += 1
            held[index] = outcome
            while held:
                key = yielded if ordered else next(iter(held))
                if key not in held:
                    break
                yielded += 1
                yield held.pop(key)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await source.aclose()


async def aextract_many(
    docs: Docs,
    *,
    extractor: Extractor | None = None,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    cache: ResultCache | str | Path | bool | None = None,
    ordered: bool = False,
    **extractor_options: Any,
) -> AsyncGenerator[Outcome, None]:
    """Extract many documents concurrently; yield one :class:`Outcome` per input.

    ``docs`` holds strings (id: :func:`pactx.documents.text_id`), bytes, ``Document`` objects,
    ``(id, text)`` pairs or ``InputFailure`` items, as a sync or async iterable (consumed
    lazily). Without ``extractor``, one is built from ``extractor_options`` and ``cache`` (and
    closed at the end); giving both an extractor and options is a ``TypeError``.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    engine, owned = _make_extractor(extractor, cache, extractor_options)
    gate = RateGate(requests_per_minute, tokens_per_minute) if requests_per_minute or tokens_per_minute else None
    try:
        async for outcome in _run(engine, docs, concurrency=concurrency, gate=gate, ordered=ordered):
            yield outcome
    finally:
        if owned:
            await engine.aclose()
            engine.close()


LOOP_CONCURRENCY = 64
"""Documents in flight that one event loop serves at full speed; above it, :func:`extract_many`
spreads a batch over worker processes by default (README, "Several processes on one machine")."""


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


def default_workers(concurrency: int, extractor: Extractor | None = None) -> int:
    """Worker processes :func:`extract_many` uses when ``workers`` is not given.

    One per :data:`LOOP_CONCURRENCY` documents in flight, rounded up, and at most one per CPU
    this process may run on: 1 up to concurrency 64. Always 1 for an extractor that cannot be
    rebuilt in another process (:meth:`Extractor.recipe`: the embedded model, a backend or
    transport given as an object).
    """
    if extractor is not None and extractor.recipe() is None:
        return 1
    return max(1, min(_cpus(), math.ceil(concurrency / LOOP_CONCURRENCY)))


def _worker_count(workers: int | None, concurrency: int, extractor: Extractor) -> int:
    if workers is None:
        return default_workers(concurrency, extractor)
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers > 1 and extractor.recipe() is None:
        raise ConfigurationError(
            f"workers={workers} needs an endpoint extractor that each worker process can rebuild from "
            f"its configuration; {extractor!r} cannot be (embedded model, or a backend or transport "
            "given as an object): use workers=1"
        )
    return min(workers, concurrency)


def _lost(item: Document | InputFailure, reason: str) -> Outcome:
    return Outcome.failure(item.id, "WorkerError", reason, item.source)


async def _worker_setup(data: dict[str, Any]) -> tuple[Any, Any]:
    """A worker process's handler: its own extractor (and the batch's shared rate gate)."""
    register_secret(data["recipe"]["config"].api_key)  # redacted here too, from the start
    extractor = Extractor(**data["recipe"])
    gate: RateGate | None = data["gate"]

    async def handle(item: Document | InputFailure) -> Outcome:
        return await _outcome(extractor, item, gate)

    async def close() -> None:
        await extractor.aclose()
        extractor.close()

    return handle, close


_PRELOAD = ("pactx.forkserver",)
"""Imported by the fork server workers start from: what a worker would otherwise import and
build on its first documents (:mod:`pactx.forkserver`)."""


def _pooled(
    docs: Iterable[Item],
    engine: Extractor,
    *,
    workers: int,
    concurrency: int,
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    ordered: bool,
) -> Generator[Outcome, None, None]:
    context = process_context(preload=_PRELOAD)
    limits = requests_per_minute or tokens_per_minute
    gate = RateGate(requests_per_minute, tokens_per_minute, context=context) if limits else None
    yield from run_in_processes(
        (as_document(raw) for raw in docs),
        workers=workers,
        limit=concurrency,
        setup=_worker_setup,
        data={"recipe": engine.recipe(), "gate": gate},
        lost=_lost,
        ordered=ordered,
        context=context,
    )


def extract_many(
    docs: Iterable[Item],
    *,
    extractor: Extractor | None = None,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    cache: ResultCache | str | Path | bool | None = None,
    ordered: bool = False,
    workers: int | None = None,
    **extractor_options: Any,
) -> Generator[Outcome, None, None]:
    """Synchronous :func:`aextract_many`: a generator driving its own event loop.

    Stopping early (``break``) or Ctrl-C cancels the documents in flight; outcomes already
    yielded are final. Call :func:`aextract_many` instead from a running event loop.

    ``workers`` processes share the batch, each running its own event loop with its own
    extractor rebuilt from this one's configuration (:meth:`Extractor.recipe`); documents go
    to the least busy, ``concurrency`` stays the total in flight, the rate limits hold for
    all of them together and the cache is the same file. Unset, :func:`default_workers`
    decides (1 up to concurrency 64). A document whose worker process dies comes out as a
    ``WorkerError`` failure.
    """
    if _loop_running():
        raise RuntimeError("extract_many cannot run inside an event loop; use aextract_many there")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    engine, owned = _make_extractor(extractor, cache, extractor_options)
    try:
        count = _worker_count(workers, concurrency, engine)
    except BaseException:
        if owned:
            engine.close()
        raise
    if count > 1:
        try:
            yield from _pooled(
                docs,
                engine,
                workers=count,
                concurrency=concurrency,
                requests_per_minute=requests_per_minute,
                tokens_per_minute=tokens_per_minute,
                ordered=ordered,
            )
        finally:
            if owned:
                engine.close()
        return
    outcomes = aextract_many(
        docs,
        extractor=engine,
        concurrency=concurrency,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        ordered=ordered,
    )
    runner = asyncio.Runner()
    interrupts = _Interrupts()
    interrupts.install()
    try:
        while True:
            interrupts.check()
            try:
                outcome = interrupts.run(runner.get_loop(), _next(outcomes))
            except StopAsyncIteration:
                return
            yield outcome
    finally:
        try:
            interrupts.run(runner.get_loop(), outcomes.aclose())
            interrupts.run(runner.get_loop(), engine.aclose())  # the client bound to this loop dies with it
        finally:
            runner.close()
            interrupts.restore()
            if owned:
                engine.close()


class _Interrupts:
    """Ctrl-C for the synchronous batch: never lost, never in the middle of a step.

    While a step of the event loop runs, the first SIGINT cancels it (as ``asyncio.run``
    does) and the step ends in ``KeyboardInterrupt``; between steps it raises at once, as
    Python's default handler would. Either way it is also remembered, so the next step raises
    ``KeyboardInterrupt`` even if the first one was swallowed (a ``KeyboardInterrupt`` that
    lands in a finalizer is only printed). A second SIGINT always raises at once. A handler
    the program installed itself is left alone.
    """

    def __init__(self) -> None:
        self.requested = False
        self._task: asyncio.Task[Any] | None = None
        self._installed = False
        self._context = contextvars.copy_context()

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True

    def restore(self) -> None:
        if self._installed and signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first, self.requested = not self.requested, True
        task = self._task
        if first and task is not None and not task.done():
            task.cancel()
            task.get_loop().call_soon_threadsafe(lambda: None)  # wake a loop blocked in select()
            return
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed since the batch began."""
        if self.requested:
            raise KeyboardInterrupt

    def run(self, loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
        """Run ``coro`` to completion on ``loop`` as one interruptible step."""
        task = loop.create_task(coro, context=self._context)
        self._task = task
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if self.requested:
                raise KeyboardInterrupt from None
            raise
        finally:
            self._task = None


async def _next(outcomes: AsyncIterator[Outcome]) -> Outcome:
    return await outcomes.__anext__()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
