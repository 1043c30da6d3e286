"""pactx benchmarks against the loopback OpenAI-compatible server: ``python3 benchmarks/run.py``.

Every figure is a ratio measured within this one run, so it compares across machines:

* throughput of :func:`pactx.extract_many` at several concurrencies with a fixed server
  latency, as a fraction of the ideal (concurrency / latency);
* pactx's own overhead per document over a bare ``openai`` call making the same request to
  the same zero-latency server;
* a rerun of a batch from the result cache (zero model calls) against the first run;
* the Batch API end to end against a live run of the same documents (``benchmarks/batch.py``);
* with ``--embedded``: documents per minute and tokens per second of the embedded model.
* with ``--ray``: the Ray Data engine with 1 and 2 workers (``benchmarks/ray_workers.py``).

The server runs in its own process, so it does not share the client's interpreter lock.
Results go to stdout and to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmark this checkout, whatever is installed

import httpx  # noqa: E402
import openai  # noqa: E402

from pactx import Extractor, extract_many  # noqa: E402
from pactx.batch import default_workers  # noqa: E402
from pactx.fastserver import write_answers  # noqa: E402
from pactx.transport import default_async_transport  # noqa: E402
from pactx.extraction import RESPONSE_MODEL  # noqa: E402

SEEDS = ROOT.parent / "shared" / "seeds"


@dataclass
class Row:
    """One line of the results table."""

    name: str
    result: str
    target: str = ""
    passed: bool | None = None

    def markdown(self) -> str:
        mark = {True: "yes", False: "**no**", None: ""}[self.passed]
        return f"| {self.name} | {self.result} | {self.target} | {mark} |"


def _seed_lines() -> list[str]:
    texts = (path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt")))
    lines = [line for text in texts for line in text.splitlines() if line.strip()]
    if not lines:
        sys.exit(f"no seed documents found in {SEEDS}")
    return lines


def stream_documents(count: int) -> Iterator[tuple[str, str]]:
    """``count`` distinct documents made from the seed lines, one at a time (nothing held)."""
    lines = _seed_lines()
    for i in range(count):
        yield f"doc-{i}", f"{lines[i % len(lines)]} (Report {i}.)"


def seed_documents(count: int) -> list[tuple[str, str]]:
    """``count`` distinct documents made from the seed lines."""
    return list(stream_documents(count))


@contextlib.contextmanager
def loopback_server(latency: float, *options: str, module: str = "pactx.fastserver") -> Iterator[str]:
    """Start the loopback server (``python -m pactx.fastserver``, with ``options``) in its own process; yield its URL.

    The lean asyncio server gives the test server's very answers for a fraction of its CPU
    (``module="pactx.testserver"`` runs the threaded one, which also serves the Batch API).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", module, "--latency", str(latency), *options]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def precomputed_answers(docs: Iterator[tuple[str, str]] | list[tuple[str, str]]) -> Iterator[str]:
    """A file of the floor's answers to ``docs`` for the loopback server's ``--answers``.

    A real endpoint does its work on another machine; on this one the loopback server would
    otherwise spend about a millisecond of the client's CPU per document running the floor.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answers.jsonl"
        write_answers(path, (text for _, text in docs))
        yield str(path)


def _proc_stat(pid: int | str) -> tuple[int, list[str]] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields  # parent pid, the fields after the name


def _tree() -> dict[int, list[str]]:
    """This process and its live descendants (Linux ``/proc``): pid -> stat fields."""
    stats = {int(e.name): _proc_stat(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()}
    tree, todo = {}, [os.getpid()]
    while todo:
        pid = todo.pop()
        found = stats.get(pid)
        if found is not None:
            tree[pid] = found[1]
        todo += [child for child, stat in stats.items() if stat is not None and stat[0] == pid]
    return tree


def tree_cpu() -> float | None:
    """CPU seconds used by this process and every descendant, reaped ones included (Linux).

    Each live process counts its own time and that of the children it has reaped, so the
    worker processes (children of the fork server) and the loopback server all count once.
    """
    if not Path("/proc/self/stat").exists():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(sum(int(f) for f in fields[11:15]) for fields in _tree().values()) / ticks


class RssSampler:
    """Peak resident memory of this process and of its largest descendant, sampled (Linux)."""

    def __init__(self, exclude: set[int]) -> None:
        self.exclude = exclude
        self.parent = self.child = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.25):
            for pid, fields in _tree().items():
                rss = int(fields[21]) * page
                if pid == os.getpid():
                    self.parent = max(self.parent, rss)
                elif pid not in self.exclude:
                    self.child = max(self.child, rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def throughput(concurrencies: list[int], latency: float, rounds: int = 40) -> list[Row]:
    """Documents per second at each concurrency, as a fraction of concurrency / latency.

    Each batch holds ``rounds`` × concurrency documents (8 s at the ideal rate with the
    defaults), so the sustained rate of a long batch is measured: the first wave, whose
    answers all land at once, and the last, half-empty one weigh one round in forty. Worker
    processes are extract_many's default for the concurrency (:func:`pactx.batch.default_workers`);
    CPU per document counts the client, its workers and the loopback server, which answers
    from the floor's answers worked out before the clock starts (:func:`precomputed_answers`).
    """
    rows = []
    most = max(concurrencies) * rounds
    with precomputed_answers(seed_documents(most)) as answers, loopback_server(latency, "--answers", answers) as url:
        extractor = Extractor(base_url=url, model="bench")
        for concurrency in concurrencies:
            warm = seed_documents(concurrency)
            list(extract_many(warm, extractor=extractor, concurrency=concurrency))
            docs = seed_documents(rounds * concurrency)
            cpu = tree_cpu()
            started = time.perf_counter()
            outcomes = list(extract_many(docs, extractor=extractor, concurrency=concurrency))
            elapsed = time.perf_counter() - started
            used = tree_cpu()
            assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:2]
            rate, ideal = len(docs) / elapsed, concurrency / latency
            target = {32: 0.9, 128: 0.85}.get(concurrency)
            workers = default_workers(concurrency, extractor)
            per_doc = f", {(used - cpu) / len(docs) * 1000:.2f} ms CPU/doc" if cpu is not None and used is not None else ""
            rows.append(
                Row(
                    f"throughput, concurrency {concurrency}, {latency * 1000:.0f} ms latency",
                    f"{rate:.1f} docs/s = **{rate / ideal:.2f}** of ideal ({ideal:.0f}/s); "
                    f"{workers} worker process{'es' if workers > 1 else ''}{per_doc}",
                    f"≥ {target}" if target else "",
                    rate / ideal >= target if target else None,
                )
            )
    return rows


def corpus_size(sizes: tuple[int, ...] = (1_000, 10_000), concurrency: int = 128, latency: float = 0.2) -> list[Row]:
    """How a run's cost grows with the corpus: wall time, docs/s, CPU and peak memory.

    Documents are generated and outcomes consumed one at a time, as ``pactx extract`` streams
    them; the memory of the parent and of the largest worker process is sampled during each run.
    """
    rows = []
    with precomputed_answers(stream_documents(max(sizes))) as answers, loopback_server(latency, "--answers", answers) as url:
        server = {pid for pid, fields in _tree().items() if pid != os.getpid()} if tree_cpu() is not None else set()
        extractor = Extractor(base_url=url, model="bench")
        list(extract_many(seed_documents(concurrency), extractor=extractor, concurrency=concurrency))  # warm-up
        for size in sizes:
            cpu = tree_cpu()
            with RssSampler(server) as rss:
                started = time.perf_counter()
                ok = sum(o.ok for o in extract_many(stream_documents(size), extractor=extractor, concurrency=concurrency))
                elapsed = time.perf_counter() - started
            used = tree_cpu()
            assert ok == size
            per_doc = f"{(used - cpu) / size * 1000:.2f} ms CPU/doc, " if cpu is not None and used is not None else ""
            memory = f"peak RSS {rss.parent / 2**20:.0f} MB (parent), {rss.child / 2**20:.0f} MB (largest worker)" if rss.parent else ""
            rows.append(
                Row(
                    f"corpus of {size:,} documents, concurrency {concurrency}, {latency * 1000:.0f} ms latency",
                    f"**{elapsed:.1f} s**, {size / elapsed:.1f} docs/s = {size / elapsed / (concurrency / latency):.2f} "
                    f"of ideal; {per_doc}{memory}",
                )
            )
    return rows


def _bare_request(extractor: Extractor, text: str) -> dict[str, object]:
    """The request pactx sends for ``text`` (json_schema mode), for a bare openai call."""
    params = extractor.backend.generation_params()
    return {
        "model": extractor.backend.model,
        "messages": extractor.prompt.messages(text),
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": RESPONSE_MODEL.__name__, "schema": RESPONSE_MODEL.model_json_schema()},
        },
        "temperature": params["temperature"],
        "max_tokens": params["max_tokens"],
        "seed": params["seed"],
    }


def overhead(docs_per_round: int = 60, rounds: int = 5) -> list[Row]:
    """Milliseconds per document pactx adds to a bare openai call (same request, same HTTP stack).

    Both arms run in alternating rounds; each arm's best round counts (as ``timeit`` does), so
    other load on the machine inflates neither.
    """
    docs = seed_documents(docs_per_round)
    with loopback_server(0.0) as url:
        extractor = Extractor(base_url=url, model="bench", mode="json_schema")
        bare = openai.OpenAI(base_url=url, api_key="bench", max_retries=0, http_client=httpx.Client())
        abare = openai.AsyncOpenAI(  # over the pool pactx's async calls use (aiohttp's)
            base_url=url, api_key="bench", max_retries=0, http_client=httpx.AsyncClient(transport=default_async_transport())
        )
        requests = [_bare_request(extractor, text) for _, text in docs]

        def sync_pair() -> tuple[float, float]:
            started = time.perf_counter()
            for request in requests:
                bare.chat.completions.create(**request)  # type: ignore[call-overload]
            middle = time.perf_counter()
            for _, text in docs:
                extractor.extract(text)
            return middle - started, time.perf_counter() - middle

        async def async_pair() -> tuple[float, float]:
            started = time.perf_counter()
            for request in requests:
                await abare.chat.completions.create(**request)  # type: ignore[call-overload]
            middle = time.perf_counter()
            for _, text in docs:
                await extractor.aextract(text)
            return middle - started, time.perf_counter() - middle

        async def async_rounds() -> list[tuple[float, float]]:
            await async_pair()  # warm-up
            pairs = [await async_pair() for _ in range(rounds)]
            await abare.close()
            await extractor.aclose()
            return pairs

        sync_pair()  # warm-up
        sync = [sync_pair() for _ in range(rounds)]
        asynchronous = asyncio.run(async_rounds())
    rows = []
    for label, pairs in (("sync `extract`", sync), ("async `aextract`", asynchronous)):
        bare_ms = min(theirs for theirs, _ in pairs) / docs_per_round * 1000
        extra = min(mine for _, mine in pairs) / docs_per_round * 1000 - bare_ms
        rows.append(
            Row(
                f"pactx overhead per document, {label}",
                f"**{extra:.2f} ms** over a bare openai call ({bare_ms:.2f} ms)",
                "< 5 ms",
                extra < 5,
            )
        )
    return rows


def cache_rerun(count: int = 200, latency: float = 0.2, concurrency: int = 32) -> list[Row]:
    """The same batch twice with a fresh cache: the rerun makes no model call."""
    docs = seed_documents(count)
    with tempfile.TemporaryDirectory() as folder, loopback_server(latency) as url:
        extractor = Extractor(base_url=url, model="bench", cache=Path(folder) / "results.sqlite3")
        started = time.perf_counter()
        first = list(extract_many(docs, extractor=extractor, concurrency=concurrency))
        middle = time.perf_counter()
        second = list(extract_many(docs, extractor=extractor, concurrency=concurrency))
        elapsed = time.perf_counter() - middle
        extractor.close()
    assert all(o.ok and not o.result.metadata.cached for o in first)  # type: ignore[union-attr]
    hits = sum(bool(o.result and o.result.metadata.cached) for o in second)
    speedup = (middle - started) / elapsed
    return [
        Row(
            f"rerun of {count} documents from the cache",
            f"{hits}/{count} cached (0 model calls), **{speedup:.0f}×** faster ({elapsed * 1000:.0f} ms)",
            "≥ 50×, 0 calls",
            speedup >= 50 and hits == count,
        )
    ]


def batch_api(count: int = 400) -> list[Row]:
    """The Batch API end to end against the loopback server (``benchmarks/batch.py``)."""
    from batch import batch_benchmark

    batch_server = functools.partial(loopback_server, module="pactx.testserver")  # the threaded server has the Batch API
    return [Row(*row) for row in batch_benchmark(seed_documents(count), batch_server)]


def embedded(count: int = 4) -> list[Row]:
    """The in-process model on a few seed lines: documents per minute, tokens per second."""
    docs = [(i, text) for i, (_, text) in enumerate(seed_documents(count))]
    extractor = Extractor()  # no endpoint: the embedded default model
    extractor.extract(docs[0][1][:200])  # load the model
    started = time.perf_counter()
    outcomes = list(extract_many([(str(i), t) for i, t in docs], extractor=extractor))
    elapsed = time.perf_counter() - started
    results = [o.result for o in outcomes if o.result is not None]
    generated = sum(r.metadata.usage.completion_tokens for r in results)
    total = sum(r.metadata.usage.total_tokens for r in results)
    return [
        Row(
            f"embedded {extractor.backend.model}, {count} seed documents",
            f"**{count / elapsed * 60:.1f} docs/min**, {generated / elapsed:.1f} generated tokens/s "
            f"({total / elapsed:.0f} tokens/s with the prompt); {len(results)}/{count} valid",
        )
    ]


def articles(count: int, words: int = 300) -> list[str]:
    """``count`` news-style articles of about ``words`` words, each made of consecutive seed lines."""
    lines = [text for _, text in seed_documents(10_000)]
    out: list[str] = []
    position = 0
    while len(out) < count and position < len(lines):
        article: list[str] = []
        while position < len(lines) and sum(len(t.split()) for t in article) < words:
            article.append(lines[position])
            position += 1
        out.append(" ".join(article))
    return out


def embedded_articles(count: int = 5) -> list[Row]:
    """The default embedded configuration on ~300-word articles: seconds and tokens per document."""
    extractor = Extractor()  # no endpoint: the default model with its default strategy
    texts = articles(count + 1)
    started = time.perf_counter()
    extractor.extract(texts[0])  # loads the model and reads the worked examples once
    first = time.perf_counter() - started
    results, seconds = [], []
    for text in texts[1:]:
        started = time.perf_counter()
        results.append(extractor.extract(text))
        seconds.append(time.perf_counter() - started)
    n = len(results)
    mean = sum(seconds) / n
    usage = [r.metadata.usage for r in results]
    words = sum(len(t.split()) for t in texts[1:]) / n
    return [
        Row(
            f"default embedded configuration ({extractor.backend.model}, {extractor.strategy}), "
            f"{n} articles of ~{words:.0f} words",
            f"**{mean:.2f} s/document** (slowest {max(seconds):.2f} s; first call with model load "
            f"{first:.1f} s); per document {sum(u.prompt_tokens for u in usage) / n:.0f} prompt tokens "
            f"({sum(u.cached_tokens for u in usage) / n:.0f} of them from the prompt cache), "
            f"{sum(u.completion_tokens for u in usage) / n:.0f} completion tokens, "
            f"{sum(r.metadata.attempts for r in results) / n:.0f} questions",
            "≤ 8 s/document",
            max(seconds) <= 8.0,
        )
    ]


def header(command: str) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        "# pactx benchmarks\n\n"
        f"`{command}` on {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, load average at start {load}. "
        "The loopback server runs in its own process; every figure is a ratio measured in this run.\n\n"
        "| benchmark | result | target | met |\n|---|---|---|---|"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedded", action="store_true", help="also benchmark the embedded model (slow)")
    parser.add_argument("--ray", action="store_true", help="also Ray Data with 1 and 2 workers (needs pactx[ray])")
    parser.add_argument("--concurrency", default="1,8,32,128", help="comma-separated concurrencies")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency for throughput, seconds")
    parser.add_argument("--rounds", type=int, default=40, help="batch length for throughput, in latency rounds")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--no-readme", action="store_true", help="leave the table in README.md as it is")
    parser.add_argument("--corpus", default="1000,10000", help="corpus sizes for the cost-growth rows ('' to skip)")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python3 benchmarks/run.py", *given])
    lines = [header(command)]
    print(lines[0], flush=True)
    sections = [
        lambda: throughput([int(c) for c in args.concurrency.split(",")], args.latency, args.rounds),
        overhead,
        cache_rerun,
        batch_api,
    ]
    if args.corpus:
        sizes = tuple(int(n) for n in args.corpus.split(","))
        sections.append(lambda: corpus_size(sizes, latency=args.latency))
    if args.embedded:
        sections += [embedded, embedded_articles]
    if args.ray:
        from ray_workers import ray_workers  # benchmarks/ray_workers.py

        sections.append(lambda: ray_workers(args.latency))
    for section in sections:
        for row in section():
            lines.append(row.markdown())
            print(row.markdown(), flush=True)
    _, context, table_head = lines[0].split("\n\n")
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not args.no_readme:
        update_readme(ROOT / "README.md", context, "\n".join([table_head, *lines[1:]]))
    return 0


README_START, README_END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def update_readme(path: Path, context: str, table: str) -> None:
    """Replace the table between the README's benchmark markers with this run's."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        print(f"{path}: no {README_START} ... {README_END} markers; README left as it is")
        return
    block = f"{README_START}\n{context}\n\n{table}\n{README_END}"
    path.write_text(text[:start] + block + text[end + len(README_END) :], encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
