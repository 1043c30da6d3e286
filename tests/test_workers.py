"""Worker processes (extract_many workers=): exact order, one cache, global rate limits, nothing lost."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pactx import Extractor, extract_many
from pactx.batch import default_workers
from pactx.errors import ConfigurationError
from pactx.testserver import FakeOpenAIServer, FaultPlan, floor_responder
from pactx.transport import RetryPolicy
from pactx.workers import WorkerSetupError, run_in_processes

ROOT = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(max_retries=0, initial_wait=0.01, max_wait=0.02, jitter=0.0)


def _docs(seed_lines: list[str], count: int) -> list[tuple[str, str]]:
    return [(f"d{i:03d}", f"{seed_lines[i % len(seed_lines)]} (Report {i}.)") for i in range(count)]


def _workers() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "pactx-worker"]


def _agreements(outcome: Any) -> Any:
    return outcome.to_record()["result"]["agreements"]


def test_ordered_output_across_workers_is_the_single_process_output(seed_lines: list[str]) -> None:
    docs = _docs(seed_lines, 60)
    with FakeOpenAIServer(latency=0.02) as server:
        extractor = Extractor(base_url=server.url, model="m", retry=FAST)
        pooled = list(extract_many(docs, extractor=extractor, concurrency=12, workers=2, ordered=True))
        single = list(extract_many(docs, extractor=extractor, concurrency=12, workers=1, ordered=True))
        assert server.completions == 120
    assert [o.id for o in pooled] == [d[0] for d in docs]
    assert all(o.ok for o in pooled)
    assert [_agreements(o) for o in pooled] == [_agreements(o) for o in single]
    assert sum(len(o.result.agreements) for o in pooled) > 0  # type: ignore[union-attr]
    assert _workers() == []


def test_unordered_output_has_every_document_once(seed_lines: list[str]) -> None:
    docs = _docs(seed_lines, 40)
    with FakeOpenAIServer(latency=0.01) as server:
        outcomes = list(extract_many(docs, base_url=server.url, model="m", concurrency=8, workers=2))
    assert sorted(o.id for o in outcomes) == [d[0] for d in docs]


def test_the_cache_is_shared_by_the_workers_and_no_document_is_asked_twice(
    seed_lines: list[str], tmp_path: Path
) -> None:
    docs = _docs(seed_lines, 40)
    repeat = [("again", docs[0][1])]  # the first document's text, long after it was done
    cache = tmp_path / "results.sqlite3"
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m", cache=cache)
        first = list(extract_many(docs + repeat, extractor=extractor, concurrency=4, workers=2, ordered=True))
        assert server.completions == len(docs)  # one of the two same texts came from the cache the other filled
        twins = [first[0], first[-1]]  # which one depends on which worker started first
        assert all(o.ok for o in twins) and sum(o.result.metadata.cached for o in twins) == 1  # type: ignore[union-attr]
        assert not any(o.result.metadata.cached for o in first[1:-1])  # type: ignore[union-attr]
        second = list(extract_many(docs, extractor=extractor, concurrency=8, workers=2))
        assert server.completions == len(docs)  # the rerun made no call at all
        extractor.close()
    assert all(o.ok and o.result.metadata.cached for o in second)  # type: ignore[union-attr]


def test_a_rate_limit_holds_for_all_workers_together(seed_lines: list[str]) -> None:
    rpm, extra = 30, 6  # the bucket holds 30 calls, then refills one every 2 s
    arrivals: list[float] = []

    def timed(request: dict[str, Any]) -> dict[str, Any]:
        arrivals.append(time.monotonic())
        return floor_responder(request)

    docs = _docs(seed_lines, rpm + extra)
    with FakeOpenAIServer(timed) as server:
        outcomes = list(
            extract_many(docs, base_url=server.url, model="m", concurrency=64, workers=2, requests_per_minute=rpm)
        )
    assert all(o.ok for o in outcomes) and len(arrivals) == rpm + extra
    arrivals.sort()
    # Admitted calls: at most 30 plus one per 2 s in any stretch of time. A call reaches the
    # server up to `delay` after its admission, so n arrivals span at least (n - 30) * 2 s less
    # that delay. Two buckets of 30, one per worker, would let all 36 through at once.
    delay = 2.0
    for i in range(len(arrivals)):
        for j in range(i + rpm, len(arrivals)):
            assert arrivals[j] - arrivals[i] >= (j - i + 1 - rpm) * 60 / rpm - delay, (i, j)


def test_failures_come_back_as_outcomes_from_the_workers(seed_lines: list[str]) -> None:
    docs: list[Any] = [*_docs(seed_lines, 6), ("empty", ""), ("binary", b"\x00\x01\x02")]
    with FakeOpenAIServer(faults=FaultPlan(rate=1.0, kinds=("500",))) as server:
        extractor = Extractor(base_url=server.url, model="m", retry=FAST)
        outcomes = list(extract_many(docs, extractor=extractor, concurrency=4, workers=2, ordered=True))
    assert [o.id for o in outcomes] == [d[0] for d in docs]
    kinds = [o.error.type for o in outcomes]  # type: ignore[union-attr]
    assert kinds == ["ProviderError"] * 6 + ["InputError", "InputError"]
    assert "500" in outcomes[0].error.message  # type: ignore[union-attr]


def test_a_killed_worker_loses_no_document(seed_lines: list[str]) -> None:
    docs = _docs(seed_lines, 40)
    outcomes = []
    with FakeOpenAIServer(latency=0.3) as server:
        for outcome in extract_many(docs, base_url=server.url, model="m", concurrency=8, workers=2):
            if not outcomes:
                os.kill(_workers()[0].pid, signal.SIGKILL)  # type: ignore[arg-type]
            outcomes.append(outcome)
    assert sorted(o.id for o in outcomes) == [d[0] for d in docs]
    lost = [o for o in outcomes if not o.ok]
    assert lost and all(o.error.type == "WorkerError" and "died" in o.error.message for o in lost)  # type: ignore[union-attr]
    assert len(lost) <= 4  # only what the killed worker had in flight
    assert _workers() == []


def test_stopping_early_stops_every_worker(seed_lines: list[str]) -> None:
    with FakeOpenAIServer(latency=0.2) as server:
        outcomes = extract_many(_docs(seed_lines, 200), base_url=server.url, model="m", concurrency=16, workers=2)
        next(outcomes)
        assert len(_workers()) == 2
        started = time.monotonic()
        outcomes.close()
        assert time.monotonic() - started < 5
        assert _workers() == []
        assert server.completions < 200


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_ctrl_c_on_the_cli_stops_its_workers_and_keeps_what_is_done(seed_lines: list[str], tmp_path: Path) -> None:
    inputs = tmp_path / "docs.jsonl"
    inputs.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in _docs(seed_lines, 300)))
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(latency=0.2) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "pactx.cli", "extract", str(inputs), "-o", str(out), "--no-cache",
                   "--base-url", server.url, "--model", "m", "--concurrency", "8", "--workers", "2"]
        proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 5):
            time.sleep(0.1)
        workers = _descendants(proc.pid)
        assert workers, "no worker processes were started"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    lines = out.read_text().splitlines()
    assert 5 <= len(lines) < 300 and all(json.loads(line)["result"] for line in lines)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running(workers):
        time.sleep(0.1)
    assert not _running(workers)  # the workers and the fork server they came from


def _running(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def test_default_workers_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    import pactx.batch as batch

    monkeypatch.setattr(batch, "_cpus", lambda: 4)
    assert [default_workers(c) for c in (1, 8, 64, 65, 128, 192, 1000)] == [1, 1, 1, 2, 2, 3, 4]
    monkeypatch.setattr(batch, "_cpus", lambda: 1)
    assert default_workers(1000) == 1


def test_extractors_that_cannot_be_rebuilt_stay_in_one_process() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(500))
    from pactx.providers import OpenAIBackend, ProviderConfig

    backend = OpenAIBackend(ProviderConfig(base_url="http://127.0.0.1:9/v1", model="m"), async_transport=mock)
    extractor = Extractor(backend=backend)
    assert extractor.recipe() is None
    assert default_workers(1000, extractor) == 1
    with pytest.raises(ConfigurationError, match="workers=2"):
        next(extract_many(["Mali and Niger signed a pact."], extractor=extractor, workers=2))
    with pytest.raises(ValueError, match="workers"):
        next(extract_many(["Mali and Niger signed a pact."], extractor=extractor, workers=0))


def test_a_recipe_rebuilds_the_same_extractor(tmp_path: Path) -> None:
    extractor = Extractor(base_url="http://127.0.0.1:9/v1", model="m", api_key="sk-secret-123456",
                          cache=tmp_path / "c.sqlite3", max_reasks=1, min_confidence=0.5)
    recipe = extractor.recipe()
    assert recipe is not None
    twin = Extractor(**recipe)
    text = "Mali and Niger signed a pact."
    assert twin._cache_key(text) == extractor._cache_key(text)
    assert (twin.max_reasks, twin.min_confidence, twin.cache.path) == (1, 0.5, tmp_path / "c.sqlite3")  # type: ignore[union-attr]
    assert "sk-secret" not in repr(recipe)


async def _failing_setup(data: Any) -> Any:
    raise RuntimeError(f"cannot set up {data}")


def test_a_worker_that_cannot_set_up_stops_the_batch_with_its_reason_redacted() -> None:
    from pactx.redaction import register_secret

    secret = "sk-workers-secret-0123456789"
    register_secret(secret)
    with pytest.raises(WorkerSetupError, match="cannot set up key=") as caught:
        list(run_in_processes(range(5), workers=2, limit=2, setup=_failing_setup, data=f"key={secret}", lost=str))
    assert secret not in str(caught.value)
    assert _workers() == []


def test_a_script_without_a_main_guard_gets_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from pactx.workers import run_in_processes\n"
        "from pactx.fastserver import main\n"  # any importable coroutine function would do
        "list(run_in_processes(range(3), workers=2, limit=2, setup=main, data=None, lost=str))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "WorkerSetupError" in done.stderr and '__name__ == "__main__"' in done.stderr


def test_workers_share_a_thread_safe_sync_consumer(seed_lines: list[str]) -> None:
    """The generator is consumed from a non-main thread: no signal handler is needed there."""
    results: list[int] = []
    with FakeOpenAIServer() as server:
        thread = threading.Thread(
            target=lambda: results.append(
                len(list(extract_many(_docs(seed_lines, 10), base_url=server.url, model="m", workers=2)))
            )
        )
        thread.start()
        thread.join(120)
    assert results == [10]


async def _doubling_setup(data: Any) -> Any:
    closed: list[bool] = data

    async def handle(item: int) -> int:
        return item * 2

    async def close() -> None:
        closed.append(True)

    return handle, close


def test_the_worker_loop_answers_batches_and_closes_on_stop() -> None:
    """The worker side in this process (a thread): ready, results by index, close on None."""
    import asyncio
    import multiprocessing.connection as mpc

    from pactx.workers import _serve

    parent, child = multiprocessing.Pipe()
    closed: list[bool] = []
    thread = threading.Thread(target=lambda: asyncio.run(_serve(child, _doubling_setup, closed)))
    thread.start()
    assert parent.recv() == ("ready", None)
    parent.send([(0, 5), (1, 7)])
    parent.send([(2, 1)])
    results: dict[int, int] = {}
    while len(results) < 3:
        assert mpc.wait([parent], timeout=10)
        kind, batch = parent.recv()
        assert kind == "done"
        results.update(batch)
    assert results == {0: 10, 1: 14, 2: 2}
    parent.send(None)
    thread.join(10)
    assert closed == [True] and not thread.is_alive()


def test_the_worker_loop_reports_a_failed_setup() -> None:
    import asyncio

    from pactx.workers import _serve

    parent, child = multiprocessing.Pipe()
    asyncio.run(_serve(child, _failing_setup, "abc"))
    assert parent.recv() == ("fatal", "RuntimeError: cannot set up abc")


def test_a_worker_rebuilds_the_extractor_without_asking_the_server_again() -> None:
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m")
        recipe = extractor.recipe()
    assert recipe is not None
    # the server is gone: a rebuilt backend that tried to detect it would find nothing there
    rebuilt = Extractor(**recipe)
    assert rebuilt.backend.server.family == extractor.backend.server.family
    assert rebuilt.backend.server.evidence == "named by PACTX_SERVER"  # named, not detected
    assert rebuilt.backend.mode_name == extractor.backend.mode_name


async def _counting_setup(data: Any) -> Any:
    """A handler that reports its process, the most items it ran at once and the GC's state."""
    import asyncio
    import gc

    state = {"running": 0, "most": 0}

    async def handle(item: int) -> tuple[int, int, int, tuple[int, int, int]]:
        if item == data:
            os._exit(3)  # this item kills its worker
        state["running"] += 1
        state["most"] = max(state["most"], state["running"])
        await asyncio.sleep(0.02)
        state["running"] -= 1
        return os.getpid(), state["most"], gc.get_freeze_count(), gc.get_threshold()

    async def close() -> None:
        pass

    return handle, close


def test_each_worker_runs_its_share_of_the_limit_and_no_more() -> None:
    """limit 5 over 2 workers: shares 3 and 2, each used fully, never exceeded, although each
    worker holds more items than its share (so it need not wait for the parent between items)."""
    results = list(run_in_processes(range(60), workers=2, limit=5, setup=_counting_setup, data=-1, lost=str))
    assert len(results) == 60
    most: dict[int, int] = {}
    for pid, peak, _, _ in results:  # type: ignore[misc]
        most[pid] = max(most.get(pid, 0), peak)
    assert sorted(most.values()) == [2, 3]


def test_worker_processes_keep_their_setup_out_of_the_garbage_collectors_way() -> None:
    from pactx.workers import GC_THRESHOLDS

    ((_, _, frozen, thresholds),) = list(run_in_processes([0], workers=1, limit=1, setup=_counting_setup, data=-1, lost=str))
    assert frozen > 1000 and thresholds == GC_THRESHOLDS


def test_what_a_dead_worker_held_but_had_not_started_is_run_elsewhere() -> None:
    """Shares of 1: the first worker starts item 0 (which kills it) and holds item 2 unstarted;
    item 0 is lost, item 2 goes to another worker and succeeds."""
    results = list(run_in_processes(range(8), workers=2, limit=2, setup=_counting_setup, data=0, lost=lambda i, why: (i, why)))
    lost = [r for r in results if isinstance(r[0], int) and isinstance(r[1], str)]
    assert len(results) == 8
    assert lost == [(0, "the worker process running it died (exit code 3)")]


def test_the_sync_connection_pool_is_built_only_when_a_sync_call_needs_it() -> None:
    """A worker process only calls asynchronously: it never imports httpcore or loads the CA bundle."""
    from pactx.transport import RetryTransport

    transport = RetryTransport()
    assert transport._inner is None
    transport.close()  # nothing to close yet
    assert isinstance(transport.inner, httpx.HTTPTransport) and transport.inner is transport.inner
    transport.close()


def test_the_fork_server_builds_what_workers_would_each_build_on_their_first_documents() -> None:
    code = (
        "import sys, pactx.forkserver, pactx.parties as p; "
        "print(p._alias_index.cache_info().currsize, 'instructor.v2.providers.openai.handlers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["1", "True"]
