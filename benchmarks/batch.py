"""The Batch API end to end against the loopback server: ``python3 benchmarks/batch.py``.

One run measures, on the same documents and the same server (its own process, 200 ms per live
call, 10% of first answers ungrounded so that they are re-asked):

* a live run, ``extract_many`` at concurrency 32: documents per second and model calls;
* the Batch API: ``submit`` (requests written, uploaded, batch created) then ``collect``
  (results downloaded, every answer validated and grounded, the re-asks made live at
  concurrency 32): documents per second end to end, and the live calls it saved.

The loopback batch finishes at the first poll, so the Batch API row measures pactx's own cost
around a batch, not a provider's turnaround (OpenAI promises 24 hours). ``benchmarks/run.py``
includes these rows in its table.
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmark this checkout, whatever is installed

from pactx import Extractor, batch_api, extract_many  # noqa: E402

Server = Callable[..., AbstractContextManager[str]]
BatchRow = tuple[str, str, str, "bool | None"]


def batch_benchmark(
    docs: list[tuple[str, str]], server: Server, *, latency: float = 0.2, concurrency: int = 32, reask_share: float = 0.1
) -> list[BatchRow]:
    """Rows ``(name, result, target, met)`` for a live run and a Batch API run of ``docs``."""
    with server(latency, "--reask-share", str(reask_share)) as url, tempfile.TemporaryDirectory() as folder:
        extractor = Extractor(base_url=url, model="bench")
        started = time.perf_counter()
        outcomes = list(extract_many(docs, extractor=extractor, concurrency=concurrency))
        live_seconds = time.perf_counter() - started
        extractor.close()
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:2]
        live_calls = sum(o.result.metadata.attempts for o in outcomes if o.result is not None)

        job = Path(folder) / "job"
        started = time.perf_counter()
        batch_api.submit(docs, job, base_url=url, model="bench", cache=False)
        submitted = time.perf_counter()
        report = batch_api.collect(job, cache=False, concurrency=concurrency, wait=True, poll_interval=0.05)
        batch_seconds = time.perf_counter() - started
        assert (report.state, report.written, report.failed) == ("done", len(docs), 0), report
    n = len(docs)
    live_rate, batch_rate = n / live_seconds, n / batch_seconds
    saved = live_calls - report.live_calls
    return [
        (
            f"live run for comparison, {n} documents, concurrency {concurrency}, {latency * 1000:.0f} ms latency, "
            f"{reask_share:.0%} re-asked",
            f"{live_rate:.1f} docs/s, {live_calls} live calls",
            "",
            None,
        ),
        (
            f"Batch API end to end (submit, then collect with live re-asks), same {n} documents",
            f"**{batch_rate:.1f} docs/s** = {batch_rate / live_rate:.2f} of the live run (submit "
            f"{submitted - started:.1f} s, collect {batch_seconds - submitted + started:.1f} s); "
            f"{report.batch_answers} batch answers + {report.live_calls} live calls: "
            f"**{saved} of {live_calls} live calls saved ({saved / live_calls:.0%})**",
            "all documents, calls saved",
            report.written == n and saved > 0,
        ),
    ]


def main() -> int:
    from run import loopback_server, seed_documents  # benchmarks/run.py

    for name, result, target, met in batch_benchmark(seed_documents(400), functools.partial(loopback_server, module="pactx.testserver")):
        print(f"| {name} | {result} | {target} | {'' if met is None else 'yes' if met else '**no**'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
