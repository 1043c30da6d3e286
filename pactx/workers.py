"""Worker processes: one event loop each, items dealt to the least busy, results exact.

:func:`run_in_processes` is the parent's side. It reads the items lazily, keeps at most
``limit`` of them in flight over all workers, sends each to the worker with the fewest in
flight and yields one result per item: in completion order, or in input order with
``ordered`` (then at most ``4 × limit`` items are started but not yet yielded). A worker
builds its handler once (``setup``, a module-level function, so it pickles by name) and runs
every item it is given as a task of its own event loop, sending results back in batches.

Nothing is lost: an item whose worker dies becomes ``lost(item, reason)`` and a replacement
worker is started (at most ``workers`` replacements in all; past that the remaining items
are lost the same way). Closing the generator, an exception or Ctrl-C stops every worker:
each is asked to stop (it cancels what it runs and closes its handler), then terminated if
it has not exited within :data:`STOP_TIMEOUT` seconds. Workers ignore SIGINT, which the
terminal sends to the whole process group: the parent decides. A worker whose parent dies
sees its pipe close and exits.

Processes start from a fork server (where the platform has one) that imports the modules in
``preload`` once, so each batch starts its workers in milliseconds; elsewhere they spawn.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from typing import Any, Generic, TypeVar

from pactx.errors import PactxError
from pactx.redaction import redact

__all__ = ["run_in_processes", "process_context", "WorkerSetupError", "STOP_TIMEOUT"]

T = TypeVar("T")
R = TypeVar("R")

STOP_TIMEOUT = 5.0
"""Seconds a stopped worker gets to cancel its work and close before it is terminated."""

Handler = Callable[[Any], Awaitable[Any]]
Setup = Callable[[Any], Awaitable[tuple[Handler, Callable[[], Awaitable[None]]]]]
"""Builds a worker's handler from the setup data: returns ``(handle, close)``."""


class WorkerSetupError(PactxError, RuntimeError):
    """A worker process could not start or build its handler (the message says why)."""


def process_context(preload: Iterable[str] = ()) -> BaseContext:
    """The multiprocessing context workers start from: a fork server preloading ``preload``,
    else spawn (platforms without a fork server)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))  # used when the fork server first starts
        return context
    return multiprocessing.get_context("spawn")  # pragma: no cover - Windows


def _worker_main(conn: multiprocessing.connection.Connection, setup: Setup, data: Any) -> None:
    """A worker process: serve items from ``conn`` until told to stop or the parent goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        asyncio.run(_serve(conn, setup, data))
    finally:
        conn.close()


async def _serve(conn: multiprocessing.connection.Connection, setup: Setup, data: Any) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[list[tuple[int, Any]] | None] = asyncio.Queue()

    def read() -> None:  # a thread, so the parent's sends never wait on this loop
        message: list[tuple[int, Any]] | None = None
        try:
            while (message := conn.recv()) is not None:
                loop.call_soon_threadsafe(inbox.put_nowait, message)
        except (EOFError, OSError):  # the parent is gone
            message = None
        except RuntimeError:  # the loop has finished already
            return
        try:
            loop.call_soon_threadsafe(inbox.put_nowait, message)
        except RuntimeError:
            pass

    threading.Thread(target=read, name="pactx-worker-inbox", daemon=True).start()
    try:
        handle, close = await setup(data)
    except Exception as exc:
        conn.send(("fatal", redact(f"{type(exc).__name__}: {exc}")))
        return
    conn.send(("ready", None))
    outbox: list[tuple[int, Any]] = []
    tasks: set[asyncio.Task[None]] = set()

    def flush() -> None:
        batch = outbox[:]
        outbox.clear()
        try:
            conn.send(("done", batch))
        except (OSError, ValueError):  # the parent is gone
            inbox.put_nowait(None)

    async def run(index: int, item: Any) -> None:
        result = await handle(item)
        if not outbox:
            loop.call_soon(flush)  # one message for every result that lands in this step
        outbox.append((index, result))

    try:
        while (message := await inbox.get()) is not None:
            for index, item in message:
                task = asyncio.create_task(run(index, item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close()


@dataclass(eq=False)
class _Worker(Generic[T]):
    process: Any
    conn: multiprocessing.connection.Connection
    inflight: dict[int, T] = field(default_factory=dict)
    alive: bool = True
    ready: bool = False


def run_in_processes(
    items: Iterable[T],
    *,
    workers: int,
    limit: int,
    setup: Setup,
    data: Any,
    lost: Callable[[T, str], R],
    ordered: bool = False,
    context: BaseContext | None = None,
) -> Generator[R, None, None]:
    """Yield ``handle(item)`` for every item, computed by ``workers`` processes (see the module)."""
    if workers < 1 or limit < 1:
        raise ValueError("workers and limit must be at least 1")
    context = context or process_context()
    pool: list[_Worker[T]] = []
    restarts = workers

    def start() -> None:
        parent_end, child_end = context.Pipe()
        process = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child_end, setup, data), name="pactx-worker", daemon=True
        )
        process.start()
        child_end.close()
        pool.append(_Worker(process, parent_end))

    held: dict[int, R] = {}
    source = iter(items)
    started = received = yielded = 0
    exhausted = False
    window = 4 * limit

    def bury(worker: _Worker[T]) -> None:
        nonlocal received, restarts
        worker.alive = False
        worker.process.join(1.0)
        if not worker.ready:
            raise WorkerSetupError(
                f"a worker process exited while starting (exit code {worker.process.exitcode}). A script "
                "that starts worker processes must do so under `if __name__ == \"__main__\":` (worker "
                "processes import the main module; see the multiprocessing guide), or use one process"
            )
        reason = f"the worker process running it died (exit code {worker.process.exitcode})"
        for index, item in worker.inflight.items():
            held[index] = lost(item, reason)
            received += 1
        worker.inflight.clear()
        worker.conn.close()
        if restarts > 0 and not exhausted:
            restarts -= 1
            start()

    def receive(worker: _Worker[T]) -> None:
        nonlocal received
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            bury(worker)
            return
        if message[0] == "fatal":
            raise WorkerSetupError(f"a worker process could not start: {redact(message[1])}")
        if message[0] == "ready":
            worker.ready = True
            return
        for index, result in message[1]:
            del worker.inflight[index]
            held[index] = result
            received += 1

    try:
        for _ in range(workers):
            start()
        while True:
            batches: dict[int, list[tuple[int, T]]] = {}
            while not exhausted and started - received < limit and (not ordered or started - yielded < window):
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                alive = [w for w in pool if w.alive]
                if not alive:
                    held[started] = lost(item, "no worker process is left to run it")
                    started += 1
                    received += 1
                    continue
                worker = min(alive, key=lambda w: len(w.inflight))
                worker.inflight[started] = item
                batches.setdefault(id(worker), []).append((started, item))
                started += 1
            for worker in pool:
                if id(worker) in batches:
                    try:
                        worker.conn.send(batches[id(worker)])
                    except OSError:  # it died: its sentinel says so below
                        pass
            while held:
                key = yielded if ordered else next(iter(held))
                if key not in held:
                    break
                yielded += 1
                yield held.pop(key)
            if exhausted and received == started and not held:
                return
            alive = [w for w in pool if w.alive]
            if not alive:
                continue  # the rest are lost above
            ready = multiprocessing.connection.wait([w.conn for w in alive] + [w.process.sentinel for w in alive])
            for worker in alive:
                if worker.conn in ready:
                    receive(worker)
                elif worker.process.sentinel in ready and worker.alive:
                    while worker.alive and worker.conn.poll():  # results sent before it died
                        receive(worker)
                    if worker.alive:
                        bury(worker)
    finally:
        _stop(pool)


def _stop(pool: list[_Worker[Any]]) -> None:
    """Ask every worker to stop, wait up to :data:`STOP_TIMEOUT`, terminate the rest."""
    for worker in pool:
        try:
            worker.conn.send(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + STOP_TIMEOUT
    for worker in pool:
        worker.process.join(max(0.0, deadline - time.monotonic()))
    for worker in pool:
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(1.0)
        if worker.process.is_alive():  # pragma: no cover - ignores SIGTERM
            worker.process.kill()
            worker.process.join()
        worker.conn.close()
