"""Worker processes: one event loop each, items dealt to the least busy, results exact.

:func:`run_in_processes` is the parent's side. It reads the items lazily and splits
``limit`` into a fixed share per worker: a worker runs at most its share at once, so at most
``limit`` items run over all workers. Each worker also holds a few items more than its share
(:data:`SPARE`), so it starts the next one the moment one finishes instead of waiting a round
trip through the parent; new items go to the worker with the most room. Results come back in
completion order, or in input order with ``ordered`` (then at most ``4 × limit`` items are
dealt but not yet yielded). A worker builds its handler once (``setup``, a module-level
function, so it pickles by name) and runs each item as a task of its own event loop, sending
results back in batches. After setup it moves what it has imported and built out of the
garbage collector's way (:func:`gc.freeze`, :data:`GC_THRESHOLDS`): the process is pactx's
own, and full collections over the libraries' objects stalled every document in flight for
up to 0.2 s.

Nothing is lost: the items a dying worker may have started (its share, oldest first) become
``lost(item, reason)``; the ones it held but cannot have started are dealt again, to the
other workers or a replacement started in its place (at most ``workers`` replacements in
all; past that the remaining items are lost the same way). Closing the generator, an
exception or Ctrl-C stops every worker:
each is asked to stop (it cancels what it runs and closes its handler), then terminated if
it has not exited within :data:`STOP_TIMEOUT` seconds. Workers ignore SIGINT, which the
terminal sends to the whole process group: the parent decides. A worker whose parent dies
sees its pipe close and exits.

Processes start from a fork server (where the platform has one) that imports the modules in
``preload`` once, so each batch starts its workers in milliseconds; elsewhere they spawn.
"""

from __future__ import annotations

import asyncio
import collections
import gc
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

__all__ = ["run_in_processes", "process_context", "WorkerSetupError", "STOP_TIMEOUT", "SPARE", "GC_THRESHOLDS"]

T = TypeVar("T")
R = TypeVar("R")

STOP_TIMEOUT = 5.0
"""Seconds a stopped worker gets to cancel its work and close before it is terminated."""

SPARE = 0.5
"""Items a worker holds beyond its share, as a fraction of the share (at least one): enough to
keep every slot busy while its results travel to the parent and new items come back."""

GC_THRESHOLDS = (20_000, 20, 20)
"""The garbage collector's thresholds in a worker process (Python's default is 700, 10, 10):
a document allocates thousands of short-lived objects that reference counting frees anyway."""

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


def _worker_main(conn: multiprocessing.connection.Connection, setup: Setup, data: Any, share: int = 1) -> None:
    """A worker process: serve items from ``conn`` until told to stop or the parent goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        asyncio.run(_serve(conn, setup, data, share, tune_gc=True))
    finally:
        conn.close()


async def _serve(
    conn: multiprocessing.connection.Connection, setup: Setup, data: Any, share: int = 1, *, tune_gc: bool = False
) -> None:
    """Run up to ``share`` items at once, the rest waiting in arrival order; results in batches.

    ``tune_gc``: this is a worker process of ours, so set its garbage collector up for the work.
    """
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
    if tune_gc:
        gc.freeze()  # what setup imported and built lives as long as the process: never scan it again
        gc.set_threshold(*GC_THRESHOLDS)
    conn.send(("ready", None))
    outbox: list[tuple[int, Any]] = []
    waiting: collections.deque[tuple[int, Any]] = collections.deque()
    tasks: set[asyncio.Task[None]] = set()
    running = 0
    stopping = False

    def flush() -> None:
        batch = outbox[:]
        outbox.clear()
        try:
            conn.send(("done", batch))
        except (OSError, ValueError):  # the parent is gone
            inbox.put_nowait(None)

    def fill() -> None:
        nonlocal running
        while waiting and running < share and not stopping:
            index, item = waiting.popleft()
            running += 1
            task = asyncio.create_task(run(index, item))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def run(index: int, item: Any) -> None:
        nonlocal running
        try:
            result = await handle(item)
        finally:
            running -= 1
            fill()  # the next item starts now, not after a round trip through the parent
        if not outbox:
            loop.call_soon(flush)  # one message for every result that lands in this step
        outbox.append((index, result))

    try:
        while (message := await inbox.get()) is not None:
            waiting.extend(message)
            fill()
    finally:
        stopping = True
        waiting.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close()


@dataclass(eq=False)
class _Worker(Generic[T]):
    process: Any
    conn: multiprocessing.connection.Connection
    share: int
    inflight: dict[int, T] = field(default_factory=dict)  # dealt, not yet answered, in dealing order
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
    workers = min(workers, limit)  # every worker's share is at least one item
    context = context or process_context()
    pool: list[_Worker[T]] = []
    restarts = workers

    def start(share: int) -> None:
        parent_end, child_end = context.Pipe()
        process = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child_end, setup, data, share), name="pactx-worker", daemon=True
        )
        process.start()
        child_end.close()
        pool.append(_Worker(process, parent_end, share))

    held: dict[int, R] = {}
    again: collections.deque[tuple[int, T]] = collections.deque()  # dealt to a worker that died unstarted
    source = iter(items)
    started = received = yielded = 0
    exhausted = False
    window = 4 * limit

    def room(worker: _Worker[T]) -> int:
        return worker.share + max(1, int(worker.share * SPARE)) - len(worker.inflight)

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
        dealt = list(worker.inflight.items())
        for index, item in dealt[: worker.share]:  # a worker starts items in the order dealt
            held[index] = lost(item, reason)
            received += 1
        again.extendleft(reversed(dealt[worker.share :]))
        worker.inflight.clear()
        worker.conn.close()
        if restarts > 0 and (again or not exhausted):
            restarts -= 1
            start(worker.share)

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

    def next_item() -> tuple[int, T] | None:
        nonlocal started, exhausted
        if again:
            return again.popleft()
        if exhausted or (ordered and started - yielded >= window):
            return None
        try:
            item = next(source)
        except StopIteration:
            exhausted = True
            return None
        started += 1
        return started - 1, item

    try:
        for number in range(workers):
            start(limit // workers + (number < limit % workers))
        while True:
            batches: dict[int, list[tuple[int, T]]] = {}
            while True:
                alive = [w for w in pool if w.alive]
                if alive:
                    worker = max(alive, key=room)
                    if room(worker) <= 0:
                        break
                dealt = next_item()
                if dealt is None:
                    break
                if not alive:
                    held[dealt[0]] = lost(dealt[1], "no worker process is left to run it")
                    received += 1
                    continue
                worker.inflight[dealt[0]] = dealt[1]
                batches.setdefault(id(worker), []).append(dealt)
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
