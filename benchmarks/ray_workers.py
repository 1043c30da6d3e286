"""Ray Data engine with 1 and 2 workers on this machine: ``python3 benchmarks/ray_workers.py``.

A local Ray cluster (one CPU per worker) extracts the same documents from the loopback server
(its own process, fixed latency) with :func:`pactx.ray.extract_dataset`, once with one actor
and once with two, each keeping ``--concurrency`` documents in flight. Reported: the pool's
documents per second while its actors work (each actor's rows over the time from the start
of its first batch to the end of its last, summed over actors; the actors' start-up, a few
seconds per run, is left out), the end-to-end time including it, and the ratio of the two
rates. For reference, one local process runs :func:`pactx.extract_many` at the two workers'
combined concurrency. Needs ``pactx[ray]``. Prints Markdown rows; ``benchmarks/run.py --ray``
adds them to the main table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run.py's helpers
from run import Row, loopback_server, seed_documents  # noqa: E402

from pactx import extract_many  # noqa: E402


def _timed_extract() -> type:
    """pactx.ray.Extract, adding to each row its actor's pid and its batch's start and end."""
    import pyarrow as pa

    import pactx.ray as pray

    class TimedExtract(pray.Extract):
        def __call__(self, batch: Any) -> pa.Table:
            started = time.time()
            table = super().__call__(batch)
            ended = time.time()
            rows = table.num_rows
            return (
                table.append_column("pid", pa.array([os.getpid()] * rows, pa.int64()))
                .append_column("started", pa.array([started] * rows, pa.float64()))
                .append_column("ended", pa.array([ended] * rows, pa.float64()))
            )

    return TimedExtract


def _working_rate(spans: dict[int, list[tuple[float, float, int]]]) -> float:
    """Sum over actors of rows / (end of its last batch - start of its first)."""
    return sum(
        sum(n for _, _, n in batches) / (max(e for _, e, _ in batches) - min(s for s, _, _ in batches))
        for batches in spans.values()
    )


def ray_workers(latency: float = 0.2, concurrency: int = 64, rounds: int = 20, batch_size: int = 256) -> list[Row]:
    """Rows: Ray with 1 worker, with 2 workers (and their ratio), one local process."""
    import ray

    import pactx.ray as pray

    count = rounds * 2 * concurrency  # `rounds` latency rounds for the two workers together
    docs = seed_documents(count)
    rows: list[Row] = []
    rates: dict[int, float] = {}
    pray.init(num_cpus=2, object_store_memory=200 * 2**20, log_to_driver=False)
    timed = _timed_extract()
    try:
        with loopback_server(latency) as url:
            for workers in (1, 2):
                dataset = ray.data.from_items(
                    [{"id": i, "text": t} for i, t in docs], override_num_blocks=-(-count // batch_size)
                )
                results = dataset.map_batches(
                    timed,
                    fn_constructor_kwargs={"concurrency": concurrency, "base_url": url, "model": "bench"},
                    compute=ray.data.ActorPoolStrategy(size=workers),
                    batch_size=batch_size,
                    batch_format="pyarrow",
                    num_cpus=1,
                )
                started = time.perf_counter()
                calls: Counter[tuple[int, float, float]] = Counter()  # (pid, start, end) of each call: rows
                done = failed = 0
                for batch in results.iter_batches(batch_size=None, batch_format="pyarrow"):
                    done += batch.num_rows
                    failed += batch.num_rows - sum(batch.column("ok").to_pylist())
                    calls.update(zip(*(batch.column(c).to_pylist() for c in ("pid", "started", "ended"))))
                elapsed = time.perf_counter() - started
                spans: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
                for (pid, call_start, call_end), n in calls.items():
                    spans[pid].append((call_start, call_end, n))
                assert done == count and failed == 0, (done, failed)
                assert len(spans) == workers, f"{len(spans)} actors did the work of {workers}"
                rate = rates[workers] = _working_rate(spans)
                ideal = workers * concurrency / latency
                rows.append(
                    Row(
                        f"Ray Data, {workers} worker{'s' * (workers > 1)} × concurrency {concurrency}, "
                        f"{latency * 1000:.0f} ms latency, {count} documents",
                        f"{rate:.1f} docs/s = **{rate / ideal:.2f}** of ideal ({ideal:.0f}/s) while working; "
                        f"{elapsed:.1f} s end to end (actors' start included)",
                    )
                )
            total = 2 * concurrency
            local_started = time.perf_counter()
            outcomes = list(extract_many(docs, base_url=url, model="bench", concurrency=total))
            local_rate = count / (time.perf_counter() - local_started)
            assert all(o.ok for o in outcomes)
    finally:
        ray.shutdown()
    rows.append(
        Row(
            "Ray Data, 2 workers vs 1",
            f"**{rates[2] / rates[1]:.2f}×** the documents/s (one local process at concurrency {total}, "
            f"for reference: {local_rate:.1f} docs/s)",
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency, seconds")
    parser.add_argument("--concurrency", type=int, default=64, help="documents in flight per worker")
    parser.add_argument("--rounds", type=int, default=20, help="batch length, in latency rounds of both workers")
    parser.add_argument("--batch-size", type=int, default=256, help="rows per map_batches call")
    args = parser.parse_args(argv)
    from run import header

    print(header("python3 benchmarks/ray_workers.py"), flush=True)
    for row in ray_workers(args.latency, args.concurrency, args.rounds, args.batch_size):
        print(row.markdown(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
