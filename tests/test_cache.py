"""The on-disk result cache: keys, hits with zero model calls, no cached errors, concurrency, CLI."""

from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pactx import ExtractionResult, ExtractionValidationError, Extractor, RunMetadata
from pactx.cache import ResultCache, cache_key, default_cache_path
from pactx.cli import app
from pactx.testserver import FakeOpenAIServer
from pactx.transport import RetryPolicy

TEXT = "Mali, Niger and Burkina Faso signed a mutual defense pact in Niamey."
FAST = RetryPolicy(max_retries=1, initial_wait=0.01, max_wait=0.02, jitter=0.0)
KEY_PARTS: dict[str, Any] = {
    "model": "m",
    "provider": "openai-compatible",
    "prompt_hash": "p" * 64,
    "schema_hash": "s" * 64,
    "params": {"temperature": 0.0, "seed": 0, "max_tokens": 1024},
    "text": TEXT,
}


def _result(source_id: str = "x") -> ExtractionResult:
    meta = RunMetadata(source_id=source_id, model="m", provider="p", prompt_version="v", prompt_hash="h",
                       schema_hash="s", pactx_version="0")
    return ExtractionResult(agreements=[], metadata=meta)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other"},
        {"provider": "llama-cpp"},
        {"prompt_hash": "q" * 64},
        {"schema_hash": "t" * 64},
        {"params": {"temperature": 0.7, "seed": 0, "max_tokens": 1024}},
        {"params": {"temperature": 0.0, "seed": 1, "max_tokens": 1024}},
        {"text": TEXT + " "},
    ],
)
def test_every_key_part_changes_the_key(change: dict[str, Any]) -> None:
    assert cache_key(**{**KEY_PARTS, **change}) != cache_key(**KEY_PARTS)
    assert cache_key(**KEY_PARTS) == cache_key(**dict(KEY_PARTS))


def test_store_load_clear_and_info(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "sub" / "r.sqlite3")
    assert cache.get("k") is None
    cache.put("k", _result())
    again = ResultCache(cache.path)  # persistent: a new handle sees it
    assert again.get("k") == _result()
    assert again.info().entries == 1 and again.info().size_bytes > 0
    with sqlite3.connect(cache.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.clear() == 1 and cache.get("k") is None
    cache.close()
    again.close()


def test_default_location_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACTX_CACHE_DIR", str(tmp_path))
    assert default_cache_path() == tmp_path / "results.sqlite3"
    monkeypatch.delenv("PACTX_CACHE_DIR")
    assert default_cache_path() == Path.home() / ".cache" / "pactx" / "results.sqlite3"


def test_a_hit_makes_no_model_call_and_is_marked(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m", retry=FAST, cache=tmp_path / "c.sqlite3")
        first = extractor.extract(TEXT, source_id="a")
        assert server.completions == 1 and not first.metadata.cached
        second = extractor.extract(TEXT, source_id="b")
        assert server.completions == 1  # zero model calls
        assert second.metadata.cached and second.metadata.source_id == "b"
        assert second.agreements == first.agreements
        assert extractor.cached(TEXT, source_id="c") is not None
        assert extractor.cached(TEXT + " More.", source_id="c") is None
        other = Extractor(base_url=server.url, model="m", retry=FAST, cache=tmp_path / "c.sqlite3", seed=7)
        other.extract(TEXT)  # other generation parameters: a miss
        assert server.completions == 2


async def test_async_extraction_uses_the_cache(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m", retry=FAST, cache=tmp_path / "c.sqlite3")
        await extractor.aextract(TEXT)
        hit = await extractor.aextract(TEXT)
        assert hit.metadata.cached and server.completions == 1


def test_errors_are_never_cached(tmp_path: Path) -> None:
    def ungrounded(request: dict[str, Any]) -> dict[str, Any]:
        return {"agreements": [{"evidence": [{"quote": "nothing like this"}], "parties": [{"name": "Chad"}],
                                "agreement_type": "defense_pact", "status": "signed"}]}

    with FakeOpenAIServer(ungrounded) as server:
        cache = ResultCache(tmp_path / "c.sqlite3")
        extractor = Extractor(base_url=server.url, model="m", retry=FAST, cache=cache, max_reasks=0)
        for _ in range(2):
            with pytest.raises(ExtractionValidationError):
                extractor.extract(TEXT)
        assert server.completions == 2 and cache.info().entries == 0


def test_threads_share_one_cache(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c.sqlite3")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: cache.put(f"k{i}", _result(f"s{i}")), range(200)))
        found = list(pool.map(lambda i: cache.get(f"k{i}"), range(200)))
    assert all(r is not None and r.metadata.source_id == f"s{i}" for i, r in enumerate(found))
    assert cache.info().entries == 200
    cache.close()


def _write_many(path: str, worker: int) -> None:
    cache = ResultCache(path)
    for i in range(50):
        cache.put(f"w{worker}-{i}", _result(f"w{worker}-{i}"))
        cache.get(f"w{worker}-{max(i - 1, 0)}")
    cache.close()


def test_processes_share_one_cache(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite3")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert ResultCache(path).info().entries == 150


def test_cli_caches_by_default_and_no_cache_bypasses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACTX_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "docs.txt"
    source.write_text("Mali and Niger signed a defense pact.\nJapan and Australia signed a defence treaty.\n")
    runner = CliRunner()
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("PACTX_BASE_URL", server.url)
        monkeypatch.setenv("PACTX_MODEL", "m")
        args = ["extract", str(source), "--lines", "-o", str(tmp_path / "out.jsonl")]
        assert runner.invoke(app, args).exit_code == 0 and server.completions == 2
        assert runner.invoke(app, args).exit_code == 0 and server.completions == 2  # all cached
        rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert len(rows) == 2 and all(r["result"]["metadata"]["cached"] for r in rows)
        assert runner.invoke(app, [*args, "--no-cache"]).exit_code == 0 and server.completions == 4
    info = runner.invoke(app, ["cache", "info"])
    assert info.exit_code == 0 and _info_rows(info.output)["results"] == "2"  # the two texts, once each
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and "removed 2" in cleared.output
    assert ResultCache().info().entries == 0


def _info_rows(output: str) -> dict[str, str]:
    """The rows of the ``pactx cache info`` table, label to value."""
    rows: dict[str, str] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│|]", line) if cell.strip()]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def test_cli_cache_info_prints_the_entry_count_path_and_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACTX_CACHE_DIR", str(tmp_path))
    runner = CliRunner(env={"COLUMNS": "400"})  # one line per row: the path is never wrapped
    empty = _info_rows(runner.invoke(app, ["cache", "info"]).output)
    assert empty == {"path": str(tmp_path / "results.sqlite3"), "results": "0", "size": "0.00 MB"}
    cache = ResultCache()
    for i in range(7):
        cache.put(f"k{i}", _result(f"s{i}"))
    cache.put("k3", _result("again"))  # a replaced entry is not counted twice
    cache.close()
    info = runner.invoke(app, ["cache", "info"])
    assert info.exit_code == 0, info.output
    rows = _info_rows(info.output)
    assert (rows["path"], rows["results"]) == (str(cache.path), "7")
    assert re.fullmatch(r"\d+\.\d\d MB", rows["size"]) and rows["size"] != "0.00 MB"


def test_merge_copies_what_is_missing_and_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-node caches become one: entries the target lacks are copied, the rest left alone."""
    node_a, node_b = ResultCache(tmp_path / "a.sqlite3"), ResultCache(tmp_path / "b.sqlite3")
    node_a.put("shared", _result("from-a"))
    node_b.put("shared", _result("from-b"))
    node_b.put("only-b", _result("b"))
    node_b.close()
    assert node_a.merge(tmp_path / "b.sqlite3") == 1 and node_a.merge(tmp_path / "b.sqlite3") == 0
    assert node_a.get("only-b") is not None
    kept = node_a.get("shared")
    assert kept is not None and kept.metadata.source_id == "from-a"  # an entry already there is kept
    with pytest.raises(FileNotFoundError, match="no cache file at"):
        node_a.merge(tmp_path / "missing.sqlite3")
    (tmp_path / "notes.sqlite3").write_bytes(b"plain text, not a database" * 100)
    with pytest.raises(ValueError, match="not a pactx result cache"):
        node_a.merge(tmp_path / "notes.sqlite3")
    sqlite3.connect(tmp_path / "other.sqlite3").execute("CREATE TABLE notes (line TEXT)").connection.close()
    with pytest.raises(ValueError, match="no such table"):
        node_a.merge(tmp_path / "other.sqlite3")
    assert node_a.info().entries == 2  # a failed merge leaves the cache as it was
    node_a.close()

    monkeypatch.setenv("PACTX_CACHE_DIR", str(tmp_path / "cli"))
    merged = CliRunner().invoke(app, ["cache", "merge", str(tmp_path / "a.sqlite3")])
    assert merged.exit_code == 0 and "2 new result(s)" in merged.output, merged.output
    assert ResultCache().info().entries == 2
    missing = CliRunner().invoke(app, ["cache", "merge", str(tmp_path / "missing.sqlite3")])
    assert missing.exit_code == 1 and "no cache file at" in missing.output


def _open_and_read(path: str) -> str | None:
    from pactx.cache import ResultCache

    try:
        ResultCache(path).get("key")
    except Exception as exc:  # noqa: BLE001 - the test reports what failed
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method")
def test_processes_opening_a_new_cache_at_once_all_get_it(tmp_path: Path) -> None:
    """Worker processes open the batch's cache together; SQLite fails a concurrent switch to WAL
    at once ("database is locked") instead of waiting, so the cache retries it. Seen as a failed
    document in `pactx extract --workers 2` before."""
    paths = [str(tmp_path / f"c{n}" / "results.sqlite3") for n in range(60)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        errors = [e for path in paths for e in pool.map(_open_and_read, [path] * 4) if e]
    assert errors == []
