"""The Ray Data engine on a local two-CPU Ray cluster, against the loopback OpenAI-compatible server.

One cluster serves the whole module (starting Ray takes several seconds). Skipped only when
Ray is not installed (``pip install 'pactx[ray]'``; install.sh installs it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'pactx[ray]' (install.sh does)")
pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'pactx[ray]'")

import pyarrow.parquet as pq  # noqa: E402

import pactx.ray as pray  # noqa: E402
from pactx import Extractor, Outcome, extract_many  # noqa: E402
from pactx.cache import ResultCache  # noqa: E402
from pactx.cli import app  # noqa: E402
from pactx.documents import text_id  # noqa: E402
from pactx.testserver import FakeOpenAIServer, document_of, floor_responder  # noqa: E402
from pactx.ray import DEFAULT_BATCH_SIZE  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
MARKER = f"pactx-ray-test-{uuid.uuid4().hex[:12]}"  # in the environment of this cluster's workers
POISON = "POISON-PILL"
runner = CliRunner()


def seed_texts() -> list[str]:
    lines = [line for p in sorted(SEEDS.glob("*.txt")) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        pytest.skip(f"seeds not found at {SEEDS}")
    return lines


def corpus(count: int, prefix: str = "doc") -> list[tuple[str, str]]:
    lines = seed_texts()
    return [(f"{prefix}-{i:04d}", f"{lines[i % len(lines)]} (Report {i}.)") for i in range(count)]


def poisoned(request: dict[str, Any]) -> dict[str, Any]:
    """The floor's answer, except for documents carrying the poison: those never validate."""
    if POISON in json.dumps(request.get("messages", [])):
        return {"agreements": "not a list"}
    return floor_responder(request)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A local Ray cluster: 2 CPUs, a small object store, no dashboard, loopback only."""
    if ray.is_initialized():  # pragma: no cover - another module left one running
        ray.shutdown()
    env = pytest.MonkeyPatch()
    for name in ("PACTX_BASE_URL", "PACTX_MODEL", "PACTX_API_KEY", "OPENAI_API_KEY", "PACTX_MODE", "RAY_ADDRESS",
                 "RAY_USAGE_STATS_ENABLED"):
        env.delenv(name, raising=False)
    env.setenv("PACTX_CACHE_DIR", str(tmp_path_factory.mktemp("ray-default-cache")))
    env.setenv("OMP_WAIT_POLICY", "PASSIVE")
    env.setenv(MARKER, "1")
    pray.init(num_cpus=2, object_store_memory=150 * 2**20, log_to_driver=False)
    yield
    ray.shutdown()
    env.undo()


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(poisoned, model="m") as srv:
        yield srv


def _comparable(outcome: Outcome) -> tuple[Any, ...]:
    """What must agree between two runs: everything but timings."""
    if outcome.ok:
        assert outcome.result is not None
        return (outcome.id, True, [a.model_dump(mode="json") for a in outcome.result.agreements])
    assert outcome.error is not None
    return (outcome.id, False, outcome.error.type, outcome.error.message)


def _worker_pids() -> set[int]:
    """Processes of this cluster's Extract actors (their titles, and our marker in their env)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if b"MapBatches(Extract)" in title and MARKER.encode() in environ:
            pids.add(int(entry))
    return pids


# -- in this process: the callable, without a cluster ---------------------------------------


def test_extract_turns_rows_into_records_and_keeps_failures(server: FakeOpenAIServer) -> None:
    udf = pray.Extract(base_url=server.url, model="m", concurrency=2, max_reasks=0)
    try:
        table = udf({"id": ["a", "b", "c", "d"], "text": [corpus(1)[0][1], "", None, f"{POISON} Mali."]})
    finally:
        udf.close()
    assert table.schema == pray.RESULT_SCHEMA
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == ["a", "b", "c", "d"]
    assert [r["ok"] for r in rows] == [True, False, False, False]
    records = [json.loads(r["record"]) for r in rows]
    assert records[0]["result"]["metadata"]["source_id"] == "a"
    assert records[1]["error"] == {"type": "InputError", "message": "empty document"}
    assert records[2]["error"]["type"] == "InputError" and "NoneType" in records[2]["error"]["message"]
    assert records[3]["error"]["type"] == "ExtractionValidationError"
    assert pray.outcome_of(rows[0]).to_record() == records[0]  # the record round-trips


def test_extract_accepts_pandas_and_arrow_batches_without_ids(server: FakeOpenAIServer) -> None:
    import pandas as pd
    import pyarrow as pa

    text = corpus(1)[0][1]
    udf = pray.Extract(base_url=server.url, model="m")
    try:
        from_pandas = udf(pd.DataFrame({"text": [text], "source": ["feed.jsonl"]})).to_pylist()
        from_arrow = udf(pa.table({"text": [text]})).to_pylist()
        with pytest.raises(ValueError, match="'text' column"):
            udf({"body": [text]})
        with pytest.raises(TypeError, match="batch of rows"):
            udf([text])
    finally:
        udf.close()
    assert from_pandas[0]["id"] == from_arrow[0]["id"] == text_id(text)  # no id column: the text's hash
    assert from_pandas[0]["source"] == "feed.jsonl" and from_arrow[0]["source"] is None


def test_an_actors_rate_limit_holds_across_its_batches(server: FakeOpenAIServer) -> None:
    """The token bucket lives as long as the actor: a second batch finds it already drawn down."""
    udf = pray.Extract(base_url=server.url, model="m", requests_per_minute=6)  # refills 0.1 a second
    try:
        udf({"id": ["a", "b", "c"], "text": [t for _, t in corpus(3)]})
        assert udf.gate is not None and udf.gate.requests is not None
        after_one = udf.gate.requests.available
        udf({"id": ["d", "e", "f"], "text": [t for _, t in corpus(6)[3:]]})
        after_two = udf.gate.requests.available
    finally:
        udf.close()
    assert after_one < 4.5 and after_two < after_one - 2, (after_one, after_two)


def test_settings_carry_the_resolved_configuration(server: FakeOpenAIServer, tmp_path: Path) -> None:
    extractor = Extractor(base_url=server.url, api_key="sk-settings-secret", min_confidence=0.4, cache=tmp_path / "c.sqlite3")
    settings = pray.extractor_settings(extractor)
    extractor.close()
    assert settings["config"].model == "m"  # asked once, here; the workers need no listing
    assert settings["config"].api_key == "sk-settings-secret" and "sk-settings" not in repr(settings)
    assert settings["cache"] == str(tmp_path / "c.sqlite3") and settings["min_confidence"] == 0.4
    rebuilt = Extractor(**settings)
    assert rebuilt._cache_key("x") == Extractor(base_url=server.url, model="m", min_confidence=0.4)._cache_key("x")
    rebuilt.close()


def test_the_pool_shares_the_rate_limits(server: FakeOpenAIServer) -> None:
    class Recorder:
        def map_batches(self, fn: Any, **kwargs: Any) -> dict[str, Any]:
            return {"fn": fn, **kwargs}

    call = pray.extract_dataset(Recorder(), workers=4, requests_per_minute=100, tokens_per_minute=8000, base_url=server.url)  # type: ignore[arg-type]
    assert call["fn"] is pray.Extract and call["compute"].min_size == call["compute"].max_size == 4
    options = call["fn_constructor_kwargs"]
    assert options["requests_per_minute"] == 25 and options["tokens_per_minute"] == 2000
    assert options["base_url"] == server.url and call["batch_format"] == "pyarrow"
    with pytest.raises(ValueError, match="workers"):
        pray.extract_dataset(Recorder(), workers=0)  # type: ignore[arg-type]
    extractor = Extractor(base_url=server.url)
    with pytest.raises(TypeError, match="either an extractor or extractor options"):
        pray.extract_dataset(Recorder(), workers=1, extractor=extractor, model="m")  # type: ignore[arg-type]
    extractor.close()


def test_formats_are_told_by_name_or_refused() -> None:
    assert pray._format_of("a/b.JSONL", None) == "jsonl"
    assert pray._format_of(["x.parquet", "y.parquet"], None) == "parquet"
    with pytest.raises(ValueError, match="cannot tell the format of 'corpus/'"):
        pray._format_of("corpus/", None)
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        pray._format_of("a.csv", "csv")


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1:6379", True), ("localhost:1", True), ("ray://127.0.0.1:10001", True), ("[::1]:6379", True),
     ("head:6379", False), ("auto", False), ("ray://10.0.0.5:10001", False)],
)
def test_a_cluster_on_loopback_is_joined_on_loopback(address: str, loopback: bool) -> None:
    assert pray._is_loopback(address) is loopback


def test_an_unreachable_cluster_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ray._private import ray_constants

    during: list[Any] = []

    def refuse(**kwargs: Any) -> None:
        during.append((os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"), ray_constants.ENABLE_RAY_CLUSTER))
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    doc = tmp_path / "d.txt"
    doc.write_text("Mali and Niger signed a pact.", encoding="utf-8")
    with FakeOpenAIServer(model="m") as server:
        args = ["extract", str(doc), "--base-url", server.url, "--engine", "ray", "--ray-address", "127.0.0.1:9"]
        result = runner.invoke(app, args)
    assert result.exit_code == 2 and "cannot reach the Ray cluster at 127.0.0.1:9" in result.output, result.output
    assert during == [("0", False)]  # joined in single-machine mode, on loopback
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" not in os.environ and ray_constants.ENABLE_RAY_CLUSTER  # restored


# -- on the cluster ---------------------------------------------------------------------------


def test_a_thousand_documents_give_the_same_outcomes_as_the_local_path(cluster: None, server: FakeOpenAIServer) -> None:
    docs = corpus(1000)
    docs[10] = ("bad-empty", "")
    docs[20] = ("bad-nul", "Mali\x00Niger")
    docs[30] = ("poisoned", f"{POISON}: Mali and Niger signed a defense pact.")
    local = [o for o in extract_many(docs, base_url=server.url, model="m", concurrency=16, max_reasks=1)]
    local_calls = server.completions
    dataset = ray.data.from_items([{"id": i, "text": t} for i, t in docs], override_num_blocks=16)
    rows = pray.extract_dataset(dataset, workers=2, base_url=server.url, model="m", max_reasks=1).take_all()
    assert len(rows) == 1000 and Counter(r["id"] for r in rows) == Counter(i for i, _ in docs)
    remote = [pray.outcome_of(r) for r in rows]
    assert sorted(map(_comparable, remote), key=str) == sorted(map(_comparable, local), key=str)
    assert server.completions - local_calls == local_calls  # the same model calls, re-asks included
    failed = {r["id"]: json.loads(r["record"])["error"]["type"] for r in rows if not r["ok"]}
    assert failed == {"bad-empty": "InputError", "bad-nul": "InputError", "poisoned": "ExtractionValidationError"}


def test_the_ray_extract_many_keeps_input_order_and_yields_input_failures(cluster: None, server: FakeOpenAIServer) -> None:
    docs: list[Any] = [*corpus(40), ("blank", "   "), b"\xff\xfe not utf-8"]
    outcomes = list(pray.extract_many(docs, base_url=server.url, model="m", ordered=True, workers=2, batch_size=8, window=25))
    assert [o.id for o in outcomes[:2]] == [f"doc-{i:04d}" for i in range(2)]
    ids = [o.id for o in outcomes if o.ok]
    assert ids == [i for i, _ in corpus(40)]  # in input order, across windows and workers
    failures = {o.id: o.error.type for o in outcomes if not o.ok and o.error}
    assert len(failures) == 2 and set(failures.values()) == {"InputError"} and "blank" in failures


def test_a_killed_worker_loses_no_document(cluster: None) -> None:
    docs = corpus(240)
    with FakeOpenAIServer(model="m", latency=0.1) as server:
        dataset = ray.data.from_items([{"id": i, "text": t} for i, t in docs], override_num_blocks=24)
        results = pray.extract_dataset(dataset, workers=2, batch_size=10, concurrency=4, base_url=server.url, model="m")
        seen: list[str] = []
        killed: int | None = None
        pids_seen: set[int] = set()
        for batch in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            seen += batch.column("id").to_pylist()
            pids_seen |= _worker_pids()
            if killed is None and len(seen) >= 20:
                live = _worker_pids()
                assert live, "no Extract actor found"
                killed = min(live)
                os.kill(killed, signal.SIGKILL)  # as the OOM killer would: no cleanup, mid-batch
        calls = server.completions
    assert killed is not None and not Path(f"/proc/{killed}").exists()
    assert len(pids_seen - {killed}) >= 2, pids_seen  # a new actor took the dead one's place
    counts = Counter(seen)
    assert set(counts) == {i for i, _ in docs} and set(counts.values()) == {1}
    # Every document was asked at least once; a batch the killed actor had in flight is asked
    # again (more calls), but an actor killed between two batches had nothing to redo, so the
    # count alone cannot tell that the retry happened: the ids above are what must hold.
    assert calls >= len(docs)


def test_node_caches_hit_wherever_they_were_written_and_merge(cluster: None, server: FakeOpenAIServer, tmp_path: Path) -> None:
    docs = corpus(80)
    node_a, node_b = tmp_path / "node-a.sqlite3", tmp_path / "node-b.sqlite3"

    def run(part: list[tuple[str, str]], cache: Path) -> list[Outcome]:
        dataset = ray.data.from_items([{"id": i, "text": t} for i, t in part])
        rows = pray.extract_dataset(dataset, workers=2, batch_size=10, base_url=server.url, model="m", cache=str(cache)).take_all()
        return [pray.outcome_of(r) for r in rows]

    run(docs[:40], node_a)  # two actors share node A's cache file
    run(docs[40:], node_b)  # as if on another node
    assert server.completions == 80
    merged = ResultCache(node_a)
    assert merged.merge(node_b) == 40 and merged.merge(node_b) == 0  # idempotent
    merged.close()
    again = run(docs, node_a)  # node A's own results and node B's, wherever each document lands
    assert server.completions == 80 and all(o.result and o.result.metadata.cached for o in again)
    local = list(extract_many(docs, base_url=server.url, model="m", cache=node_a))  # keys are the same here
    assert server.completions == 80 and all(o.result and o.result.metadata.cached for o in local)


def test_read_documents_and_write_results_round_trip(cluster: None, server: FakeOpenAIServer, tmp_path: Path) -> None:
    import pyarrow as pa

    docs = corpus(30)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t, "lang": "en"}) + "\n" for i, t in docs), encoding="utf-8")
    (tmp_path / "news").mkdir()
    for part in (0, 1):  # a folder of Parquet files
        half = docs[part::2]
        table = pa.table({"doc": [i for i, _ in half], "body": [t for _, t in half], "lang": ["en"] * len(half)})
        pq.write_table(table, tmp_path / "news" / f"part-{part}.parquet")
    from_jsonl = pray.read_documents(str(source))
    from_parquet = pray.read_documents(str(tmp_path / "news"), format="parquet", id_column="doc", text_column="body")
    assert from_parquet.schema().names == ["id", "text"]
    assert sorted(r["id"] for r in from_parquet.take_all()) == [i for i, _ in docs]
    results = pray.extract_dataset(from_jsonl, workers=1, base_url=server.url, model="m").materialize()
    pray.write_results(results, str(tmp_path / "out-jsonl"))
    pray.write_results(results, str(tmp_path / "out-parquet"), format="parquet")
    assert server.completions == len(docs)  # one extraction, written twice
    lines = [line for f in sorted((tmp_path / "out-jsonl").glob("*.jsonl")) for line in f.read_text(encoding="utf-8").splitlines()]
    records = [json.loads(line) for line in lines]
    assert sorted(r["id"] for r in records) == [i for i, _ in docs]
    assert all(set(r) == {"id", "source", "result"} for r in records)  # what `pactx extract` writes
    table = pq.read_table(tmp_path / "out-parquet")
    assert table.schema.names == pray.RESULT_SCHEMA.names and all(table.column("ok").to_pylist())
    by_id = {r["id"]: r for r in records}
    for row in table.to_pylist():  # the Parquet rows hold the same records
        assert json.loads(row["record"]) == by_id[row["id"]]
    with pytest.raises(ValueError, match="unknown format"):
        pray.write_results(results, str(tmp_path / "x"), format="csv")


def test_a_wrong_key_fails_every_row_and_appears_nowhere(cluster: None, tmp_path: Path) -> None:
    secret = "sk-wrong-" + uuid.uuid4().hex
    with FakeOpenAIServer(model="m", api_key="sk-the-right-one") as server:
        dataset = ray.data.from_items([{"id": i, "text": t} for i, t in corpus(6)])
        rows = pray.extract_dataset(dataset, workers=1, base_url=server.url, model="m", api_key=secret).take_all()
    assert len(rows) == 6 and not any(r["ok"] for r in rows)
    assert {json.loads(r["record"])["error"]["type"] for r in rows} == {"ProviderError"}
    assert all(secret not in r["record"] for r in rows)  # the server echoed it; the worker redacted it
    session = Path(ray._private.worker._global_node.get_session_dir_path())
    leaked = [p for p in session.rglob("*") if p.is_file() and p.stat().st_size < 50_000_000 and secret.encode() in p.read_bytes()]
    assert not leaked, leaked


# -- the command line -------------------------------------------------------------------------


def _write_corpus(path: Path, docs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in docs), encoding="utf-8")
    return path


def test_cli_engine_ray_writes_what_the_local_engine_writes(
    cluster: None, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The endpoint comes from this process's environment, which the workers never saw."""
    monkeypatch.setenv("PACTX_BASE_URL", server.url)
    monkeypatch.setenv("PACTX_MODEL", "m")
    docs = [*corpus(50), ("empty-one", " ")]
    source = _write_corpus(tmp_path / "news.jsonl", docs)
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        result = runner.invoke(app, ["extract", str(source), "-o", str(out), "--no-cache", "--engine", engine])
        assert result.exit_code == 1, result.output  # the empty document failed, the rest went through
        failures = [json.loads(line) for line in out.with_suffix(".failures.jsonl").read_text().splitlines()]
        assert [f["id"] for f in failures] == ["empty-one"]
        outputs[engine] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in outputs["ray"]] == [i for i, _ in docs[:50]]  # input order by default
    assert [r["result"]["agreements"] for r in outputs["ray"]] == [r["result"]["agreements"] for r in outputs["local"]]


def test_cli_engine_options_are_checked(tmp_path: Path) -> None:
    doc = tmp_path / "d.txt"
    doc.write_text("Mali and Niger signed a pact.", encoding="utf-8")
    with FakeOpenAIServer(model="m") as server:
        base = ["extract", str(doc), "--base-url", server.url]
        spark = runner.invoke(app, [*base, "--engine", "spark"])
        stray = runner.invoke(app, [*base, "--ray-workers", "2"])
    assert spark.exit_code == 2 and "unknown engine 'spark'" in spark.output
    assert stray.exit_code == 2 and "need --engine ray" in stray.output


def test_cli_resume_after_a_killed_ray_driver_skips_what_is_done(cluster: None, tmp_path: Path) -> None:
    """A `pactx extract --engine ray --ray-address ...` process joins the cluster, is killed, and resumes."""
    docs = corpus(6 * DEFAULT_BATCH_SIZE, prefix="news")  # six batches: an actor may hold two at once
    source = _write_corpus(tmp_path / "news.jsonl", docs)
    out = tmp_path / "out.jsonl"
    address = ray.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:")  # pactx.ray.init's local cluster listens on loopback only
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    with FakeOpenAIServer(model="m", latency=0.2) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PACTX_CACHE_DIR": str(tmp_path / "cache")}
        command = [sys.executable, "-m", "pactx.cli", "extract", str(source), "-o", str(out), "--no-cache",
                   "--base-url", server.url, "--model", "m", "--engine", "ray", "--ray-address", address,
                   "--ray-workers", "1", "--concurrency", "2"]
        proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not out.exists() or len(out.read_bytes().splitlines()) < 10:
            assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "the Ray driver wrote too few lines"
            time.sleep(0.1)
        proc.kill()
        proc.communicate(timeout=30)
        first = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert 10 <= len(first) < len(docs)
        # The killed driver's actors live on in the cluster until Ray reaps the job: let their
        # last requests land before counting, then judge the resumed run by what it asked for.
        quiet_since, seen = time.monotonic(), server.completions
        while time.monotonic() - quiet_since < 2.0:
            time.sleep(0.1)
            if server.completions != seen:
                quiet_since, seen = time.monotonic(), server.completions
        before = server.completions
        resumed = runner.invoke(app, ["extract", str(source), "-o", str(out), "--resume", "--no-cache", "--base-url",
                                      server.url, "--model", "m", "--engine", "ray", "--ray-workers", "2", "--concurrency", "8"])
        assert resumed.exit_code == 0, resumed.output
        assert f"{len(first)} document(s) already in" in resumed.output
        ids = {text: doc_id for doc_id, text in docs}
        asked = Counter(ids[document_of(request)] for request in server.requests[before:])
        done = {row["id"] for row in first}
        assert not done & set(asked)  # nothing done is asked again
        assert set(asked) == {doc_id for doc_id, _ in docs} - done and set(asked.values()) == {1}
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    counts = Counter(r["id"] for r in rows)
    assert set(counts) == {i for i, _ in docs} and set(counts.values()) == {1}
    assert all("result" in r for r in rows)


@pytest.mark.embedded
def test_an_actor_runs_the_embedded_model(cluster: None) -> None:
    text = corpus(1)[0][1]
    dataset = ray.data.from_items([{"id": "seed", "text": text}, {"id": "blank", "text": ""}])
    rows = {r["id"]: r for r in pray.extract_dataset(dataset, workers=1, strategy="staged").take_all()}
    record = json.loads(rows["seed"]["record"])
    assert rows["seed"]["ok"] and record["result"]["metadata"]["provider"] == "llama-cpp"
    assert not rows["blank"]["ok"]
