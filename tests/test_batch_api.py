"""Provider Batch APIs (pactx.batch_api) against the loopback server's /v1/files and /v1/batches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import SAHEL, UNGROUNDED_ANSWER
from pactx import Extractor, batch_api
from pactx.batch_api import BatchStatus, CollectReport
from pactx.cli import app
from pactx.errors import ConfigurationError, ProviderError
from pactx.testserver import BatchPlan, FakeOpenAIServer, floor_responder

ROOT = Path(__file__).resolve().parent.parent


def _docs(seed_lines: list[str], count: int) -> list[tuple[str, str]]:
    return [(f"doc-{i:02d}", f"{seed_lines[i % len(seed_lines)]} (Report {i}.)") for i in range(count)]


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what differs between two runs of the same extraction (timing, cache flag)."""
    record = json.loads(json.dumps(record))
    metadata = record["result"]["metadata"]
    for name in ("latency_s", "cached"):
        metadata.pop(name, None)
    return record


def _invalid_first(request: dict[str, Any]) -> dict[str, Any]:
    """Every first answer is ungrounded (a quote the text does not hold); a re-ask gets the floor's."""
    if len(request["messages"]) == 2:
        return UNGROUNDED_ANSWER
    return floor_responder(request)


def _said(result: Any) -> str:
    """A CLI run's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _body_of(line: bytes) -> bytes:
    """The ``body`` of a batch input line, as the bytes written there."""
    marker = b', "body": '
    assert line.endswith(b"}\n")
    return line[line.index(marker) + len(marker) : -2]


@pytest.fixture
def server():
    with FakeOpenAIServer() as srv:
        yield srv


# -- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["tools", "json_schema", "json", "md_json"])
def test_batch_body_is_the_live_request_byte_for_byte(tmp_path: Path, mode: str) -> None:
    with FakeOpenAIServer() as server:
        Extractor(base_url=server.url, model="m", mode=mode, max_tokens=700, seed=3).extract(SAHEL)
        batch_api.submit([("sahel", SAHEL)], tmp_path / "job", base_url=server.url, model="m", mode=mode,
                         max_tokens=700, seed=3, cache=False)
    [line] = (tmp_path / "job" / "requests" / "r1-p0001.jsonl").read_bytes().splitlines(keepends=True)
    request = json.loads(line)
    assert (request["method"], request["url"]) == ("POST", "/v1/chat/completions")
    assert request["custom_id"].startswith("pactx-")
    assert _body_of(line) == server.bodies[0]  # what the live client sent, to the byte
    body = request["body"]
    assert (body["model"], body["max_tokens"], body["seed"], body["temperature"]) == ("m", 700, 3, 0.0)
    assert ("tools" in body) == (mode == "tools")


def test_identical_texts_are_requested_once_and_cached_ones_not_at_all(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    other = "Japan and the Philippines signed a reciprocal access agreement in Manila."
    Extractor(base_url=server.url, model="m", cache=cache).extract(other)
    status = batch_api.submit(
        [("a", SAHEL), ("b", SAHEL), ("c", other), ("bad", "   ")], tmp_path / "job",
        base_url=server.url, model="m", cache=cache,
    )
    assert (status.documents, status.cached, status.requests) == (4, 1, 1)
    report = batch_api.collect(tmp_path / "job", cache=cache)
    out = _records(report.output)  # type: ignore[arg-type]
    assert [r["id"] for r in out] == ["a", "b", "c"]
    assert out[2]["result"]["metadata"]["cached"] is True
    [failure] = _records(report.failures_path)  # type: ignore[arg-type]
    assert failure == {"id": "bad", "source": None, "error": {"type": "InputError", "message": "empty document"}}
    assert server.batches.executed == 1


def test_large_inputs_are_split_by_requests_and_by_bytes(server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path) -> None:
    docs = _docs(seed_lines, 7)
    by_count = batch_api.submit(docs, tmp_path / "count", base_url=server.url, model="m", cache=False, max_requests=3)
    assert [p.requests for p in by_count.parts] == [3, 3, 1]
    assert len({p.batch_id for p in by_count.parts}) == 3
    one = by_count.parts[0].bytes // 3
    by_size = batch_api.submit(docs, tmp_path / "size", base_url=server.url, model="m", cache=False, max_bytes=2 * one + 2000)
    assert len(by_size.parts) >= 3 and all(p.bytes <= 2 * one + 2000 for p in by_size.parts)
    for part in by_size.parts:  # each input file is what the manifest says
        assert (tmp_path / "size" / "requests" / f"{part.name}.jsonl").stat().st_size == part.bytes
    assert sum(p.requests for p in by_size.parts) == 7
    with pytest.raises(ConfigurationError, match="exceeds the batch size limit"):
        batch_api.submit(docs, tmp_path / "tiny", base_url=server.url, model="m", cache=False, max_bytes=1000)
    report = batch_api.collect(tmp_path / "count", cache=False)
    assert (report.state, report.written, report.live_calls) == ("done", 7, 0)


# -- the happy path ---------------------------------------------------------------------------


def test_collect_writes_what_a_live_run_writes_and_fills_the_cache(
    server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path
) -> None:
    docs = _docs(seed_lines, 12)
    live = [
        {"id": doc_id, "source": None, "result": Extractor(base_url=server.url, model="m").extract(text, source_id=doc_id).model_dump(mode="json")}
        for doc_id, text in docs
    ]
    calls = server.completions
    cache = tmp_path / "cache.sqlite3"
    submitted = batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=cache)
    assert isinstance(submitted, BatchStatus) and submitted.state == "in_progress"
    assert batch_api.status(tmp_path / "job").state == "ready"
    report = batch_api.collect(tmp_path / "job", cache=cache)
    assert isinstance(report, CollectReport)
    assert (report.state, report.written, report.failed, report.batch_answers, report.live_calls) == ("done", 12, 0, 12, 0)
    assert server.completions == calls  # no live call
    assert [_comparable(r) for r in _records(tmp_path / "job" / "out.jsonl")] == [_comparable(r) for r in live]
    assert batch_api.status(tmp_path / "job").state == "collected"
    rerun = Extractor(base_url=server.url, model="m", cache=cache)
    assert all(rerun.extract(text).metadata.cached for _, text in docs)
    assert server.completions == calls  # the cache answered
    again = batch_api.collect(tmp_path / "job", cache=cache)  # idempotent
    assert (again.written, again.already_done) == (0, 12)
    assert len(_records(tmp_path / "job" / "out.jsonl")) == 12


def test_status_reports_progress_until_the_batch_ends(seed_lines: list[str], tmp_path: Path) -> None:
    with FakeOpenAIServer(batch_plans=[BatchPlan(polls=3)]) as server:
        batch_api.submit(_docs(seed_lines, 8), tmp_path / "job", base_url=server.url, model="m", cache=False)
        first = batch_api.status(tmp_path / "job")
        second = batch_api.status(tmp_path / "job")
        report = batch_api.collect(tmp_path / "job", cache=False)
        assert report.state == "in_progress" and not (tmp_path / "job" / "out.jsonl").exists()
        done = batch_api.collect(tmp_path / "job", cache=False, wait=True, poll_interval=0.01)
    assert (first.state, first.parts[0].status, first.parts[0].completed) == ("in_progress", "in_progress", 2)
    assert (second.parts[0].status, second.parts[0].completed) == ("in_progress", 4)
    assert (done.state, done.written) == ("done", 8)


# -- second rounds ----------------------------------------------------------------------------


def test_invalid_answers_are_reasked_live_by_default(seed_lines: list[str], tmp_path: Path) -> None:
    docs = _docs(seed_lines, 5)
    with FakeOpenAIServer(_invalid_first) as server:
        live = [Extractor(base_url=server.url, model="m").extract(t, source_id=i).model_dump(mode="json") for i, t in docs]
        calls = server.completions
        batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False)
        report = batch_api.collect(tmp_path / "job", cache=False, concurrency=2)
        assert server.completions - calls == 5  # the re-asks only
    assert (report.state, report.written, report.batch_answers, report.live_calls) == ("done", 5, 5, 5)
    out = _records(tmp_path / "job" / "out.jsonl")
    assert [_comparable(r)["result"] for r in out] == [_comparable({"result": r})["result"] for r in live]
    assert {r["result"]["metadata"]["attempts"] for r in out} == {2}
    assert {r["result"]["metadata"]["usage"]["total_tokens"] for r in out} == {360}  # both calls counted


def test_reask_batch_sends_a_follow_up_batch(seed_lines: list[str], tmp_path: Path) -> None:
    docs = _docs(seed_lines, 4)
    with FakeOpenAIServer(_invalid_first) as server:
        batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False, reask="batch")
        first = batch_api.collect(tmp_path / "job", cache=False)
        assert (first.state, first.pending, first.rounds, first.written) == ("in_progress", 4, 2, 0)
        status = batch_api.status(tmp_path / "job")
        assert [p.round for p in status.parts] == [1, 2]
        followup = (tmp_path / "job" / "requests" / "r2-p0001.jsonl").read_bytes().splitlines()
        assert len(followup) == 4 and all(len(json.loads(line)["body"]["messages"]) > 2 for line in followup)
        second = batch_api.collect(tmp_path / "job", cache=False)
        assert server.completions == 0  # not one live call
    assert (second.state, second.written, second.rounds) == ("done", 4, 2)
    assert {r["result"]["metadata"]["attempts"] for r in _records(tmp_path / "job" / "out.jsonl")} == {2}


def test_answers_that_never_validate_fail_as_they_do_live(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: UNGROUNDED_ANSWER) as server:
        batch_api.submit([("sahel", SAHEL)], tmp_path / "job", base_url=server.url, model="m", cache=False, max_reasks=1)
        report = batch_api.collect(tmp_path / "job", cache=False)
    assert (report.written, report.failed, report.live_calls) == (0, 1, 1)
    [failure] = _records(tmp_path / "job" / "out.failures.jsonl")
    assert failure["error"]["type"] == "ExtractionValidationError"
    assert "does not occur in the text" in failure["error"]["message"]


# -- partial failure and the ways a batch ends ------------------------------------------------


def test_error_malformed_and_missing_lines_are_asked_again_live(seed_lines: list[str], tmp_path: Path) -> None:
    plan = BatchPlan(error_lines=(1,), malformed_lines=(2,), missing_lines=(3,))
    docs = _docs(seed_lines, 8)
    with FakeOpenAIServer(batch_plans=[plan]) as server:
        batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False)
        report = batch_api.collect(tmp_path / "job", cache=False)
        assert server.completions == 3
    assert (report.state, report.written, report.failed) == ("done", 8, 0)
    assert (report.batch_answers, report.live_calls, report.unanswered, report.malformed) == (5, 3, 3, 1)
    ids = [r["id"] for r in _records(tmp_path / "job" / "out.jsonl")]
    assert ids == ["doc-00", "doc-04", "doc-05", "doc-06", "doc-07", "doc-01", "doc-02", "doc-03"]  # batch answers first


@pytest.mark.parametrize("outcome", ["expired", "cancelled"])
def test_an_expired_or_cancelled_batch_keeps_its_answers(outcome: str, seed_lines: list[str], tmp_path: Path) -> None:
    with FakeOpenAIServer(batch_plans=[BatchPlan(outcome=outcome, answered=2)]) as server:
        batch_api.submit(_docs(seed_lines, 5), tmp_path / "job", base_url=server.url, model="m", cache=False)
        report = batch_api.collect(tmp_path / "job", cache=False)
        assert server.completions == 3
    assert (report.written, report.batch_answers, report.live_calls) == (5, 2, 3)
    assert any(outcome in note for note in report.notes)


def test_a_failed_batch_is_resubmitted_then_its_documents_fail_by_name(seed_lines: list[str], tmp_path: Path) -> None:
    docs = _docs(seed_lines, 3)
    plans = [BatchPlan(outcome="failed"), BatchPlan(outcome="failed", failure_code="quota_exceeded")]
    with FakeOpenAIServer(batch_plans=plans) as server:
        batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False, reask="batch")
        first = batch_api.collect(tmp_path / "job", cache=False)
        assert first.state == "in_progress" and any("token_limit_exceeded" in n for n in first.notes)
        second = batch_api.collect(tmp_path / "job", cache=False)
        assert server.completions == 0
    assert (second.state, second.written, second.failed) == ("done", 0, 3)
    failures = _records(tmp_path / "job" / "out.failures.jsonl")
    assert {f["error"]["type"] for f in failures} == {"ProviderError"}
    assert all("quota_exceeded" in f["error"]["message"] for f in failures)
    status = batch_api.status(tmp_path / "job")
    assert [p.status for p in status.parts] == ["failed", "failed"] and status.parts[1].errors


def test_a_resubmitted_request_that_is_answered_completes(seed_lines: list[str], tmp_path: Path) -> None:
    with FakeOpenAIServer(batch_plans=[BatchPlan(error_lines=(0,))]) as server:
        batch_api.submit(_docs(seed_lines, 3), tmp_path / "job", base_url=server.url, model="m", cache=False, reask="batch")
        assert batch_api.collect(tmp_path / "job", cache=False).written == 2
        final = batch_api.collect(tmp_path / "job", cache=False)
    assert (final.state, final.written, final.failed, final.already_done) == ("done", 1, 0, 2)


def test_cancel_stops_the_batches_and_collect_keeps_what_they_answered(seed_lines: list[str], tmp_path: Path) -> None:
    with FakeOpenAIServer(batch_plans=[BatchPlan(polls=10, answered=1)]) as server:
        batch_api.submit(_docs(seed_lines, 4), tmp_path / "job", base_url=server.url, model="m", cache=False,
                         reask="batch", max_requests=2)
        cancelled = batch_api.cancel(tmp_path / "job")
        assert [p.status for p in cancelled.parts] == ["cancelling", "cancelling"]
        report = batch_api.collect(tmp_path / "job", cache=False)
        assert server.completions == 0 and len(server.batches.batches) == 2  # no follow-up batch
    assert (report.state, report.written, report.failed) == ("done", 2, 2)
    assert {f["error"]["message"] for f in _records(tmp_path / "job" / "out.failures.jsonl")} == {
        "the job was cancelled before a batch answered this document"
    }


# -- resume -----------------------------------------------------------------------------------


def test_submit_again_on_the_same_folder_continues_and_refuses_other_inputs(
    server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path
) -> None:
    docs = _docs(seed_lines, 3)
    first = batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False)
    again = batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False)
    assert again.job_id == first.job_id and len(server.batches.batches) == 1
    with pytest.raises(ConfigurationError, match="other documents"):
        batch_api.submit(docs[:2], tmp_path / "job", base_url=server.url, model="m", cache=False)
    with pytest.raises(ConfigurationError, match="other max_reasks, model"):
        batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="n", cache=False, max_reasks=1)
    assert len(server.batches.batches) == 1


def test_long_documents_are_requested_chunk_by_chunk_and_merged_as_live(
    server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path
) -> None:
    long_text = " ".join(seed_lines[:6])
    live = Extractor(base_url=server.url, model="m", max_chunk_chars=400).extract(long_text, source_id="long")
    assert live.metadata.chunks > 2
    status = batch_api.submit([("long", long_text), ("short", SAHEL)], tmp_path / "job", base_url=server.url,
                              model="m", cache=False, max_chunk_chars=400)
    assert status.requests == live.metadata.chunks + 1
    report = batch_api.collect(tmp_path / "job", cache=False)
    assert (report.written, report.live_calls) == (2, 0)
    [first, _] = _records(tmp_path / "job" / "out.jsonl")
    assert _comparable(first) == _comparable({"id": "long", "source": None, "result": live.model_dump(mode="json")})


@pytest.mark.parametrize("step", ["upload", "create"])
def test_a_lost_reply_is_found_on_the_provider_not_repeated(
    step: str, server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path
) -> None:
    server.batches.lose_reply(step)  # the server acts, then answers 500
    status = batch_api.submit(_docs(seed_lines, 2), tmp_path / "job", base_url=server.url, model="m", cache=False)
    assert len([f for f in server.batches.files.values() if f.purpose == "batch"]) == 1
    [batch] = server.batches.batches.values()
    assert status.parts[0].batch_id == batch.id
    assert server.batches.count("POST", "files" if step == "upload" else "batches") == 1
    assert server.batches.count("GET", "files" if step == "upload" else "batches") == 1  # looked it up


def test_a_step_that_keeps_failing_stops_with_a_provider_error_and_resumes(
    server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(batch_api, "_sleep", waits.append)
    server.batches.refuse("create", times=3)
    docs = _docs(seed_lines, 2)
    with pytest.raises(ProviderError, match="InternalServerError .HTTP 500. while creating the batch"):
        batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False)
    assert waits == [1.0, 2.0] and not server.batches.batches
    assert batch_api.status(tmp_path / "job").state == "submitting"
    resumed = batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False)
    assert resumed.state == "in_progress" and len(server.batches.batches) == 1


def test_bad_options_and_folders_are_refused_by_name(server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    submit = lambda **options: batch_api.submit([SAHEL], tmp_path / "job", base_url=server.url, model="m", **options)  # noqa: E731
    with pytest.raises(ConfigurationError, match="unknown reask policy 'later'"):
        submit(reask="later")
    with pytest.raises(ConfigurationError, match="must be positive"):
        submit(max_requests=0)
    with pytest.raises(ConfigurationError, match="direct strategy only"):
        submit(strategy="staged")
    submit(cache=False)
    with pytest.raises(ConfigurationError, match="unknown reask policy"):
        batch_api.collect(tmp_path / "job", reask="never")
    prompt = next((tmp_path / "job" / "prompt").glob("*.toml"))
    prompt.write_text(prompt.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="prompt file changed since submit"):
        batch_api.collect(tmp_path / "job")
    (tmp_path / "job" / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not a readable manifest"):
        batch_api.status(tmp_path / "job")
    (tmp_path / "job" / "manifest.json").write_text('{"format": 99}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="manifest format 99"):
        batch_api.status(tmp_path / "job")


def _cli(server: FakeOpenAIServer, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PACTX_BASE_URL": server.url, "PACTX_MODEL": "m",
           "PACTX_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "pactx.cli", "batch", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("step", ["upload", "create"])
def test_submit_killed_after_the_provider_acted_resumes_without_duplicates(
    step: str, server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path
) -> None:
    inputs = tmp_path / "news.jsonl"
    inputs.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in _docs(seed_lines, 6)), encoding="utf-8")
    job = tmp_path / "job"
    hold = server.batches.hold(step)  # the server stores the file (or creates the batch), then never answers
    proc = _cli(server, tmp_path, "submit", str(inputs), "--out", str(job))
    assert hold.reached.wait(120), proc.communicate(timeout=5)[1][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    hold.release.set()
    assert proc.returncode == -signal.SIGKILL
    assert len(server.batches.batches) == (1 if step == "create" else 0)

    rerun = _cli(server, tmp_path, "submit", str(inputs), "--out", str(job))
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr[-2000:]
    assert len([f for f in server.batches.files.values() if f.purpose == "batch"]) == 1
    [batch] = server.batches.batches.values()  # created once
    manifest = json.loads((job / "manifest.json").read_text())
    assert manifest["rounds"][0]["parts"][0]["batch_id"] == batch.id
    report = batch_api.collect(job, cache=False)
    assert (report.state, report.written) == ("done", 6)


def test_collect_killed_mid_run_resumes_with_every_document_once(seed_lines: list[str], tmp_path: Path) -> None:
    docs = _docs(seed_lines, 24)
    with FakeOpenAIServer(_invalid_first, latency=0.3) as server:
        batch_api.submit(docs, tmp_path / "job", base_url=server.url, model="m", cache=False)
        out = tmp_path / "job" / "out.jsonl"
        proc = _cli(server, tmp_path, "collect", str(tmp_path / "job"), "--concurrency", "2", "--no-cache")
        deadline = time.monotonic() + 120
        while len(_records(out)) < 3:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        written = len(_records(out))
        assert 3 <= written < 24
        with out.open("a", encoding="utf-8") as handle:  # as if killed in the middle of a write
            handle.write('{"id": "doc-23", "source": nu')
        report = batch_api.collect(tmp_path / "job", cache=False)
        assert server.completions <= 24 + 2  # at most the two in flight at the kill are asked twice
    counts = Counter(r["id"] for r in _records(out))
    assert set(counts) == {d[0] for d in docs} and set(counts.values()) == {1}
    assert (report.state, report.already_done, report.written) == ("done", written, 24 - written)


def test_collect_killed_while_downloading_resumes(server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path) -> None:
    batch_api.submit(_docs(seed_lines, 3), tmp_path / "job", base_url=server.url, model="m", cache=False)
    hold = server.batches.hold("content")
    proc = _cli(server, tmp_path, "collect", str(tmp_path / "job"), "--no-cache")
    assert hold.reached.wait(120), proc.communicate(timeout=5)[1][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    hold.release.set()
    assert not (tmp_path / "job" / "out.jsonl").exists()
    report = batch_api.collect(tmp_path / "job", cache=False)
    assert (report.written, report.live_calls, report.malformed, report.unanswered) == (3, 0, 0, 0)
    assert server.batches.count("GET", "content") == 2  # downloaded again, once


# -- command line -----------------------------------------------------------------------------


def test_cli_submit_status_collect_then_extract_makes_no_call(
    server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACTX_API_KEY", "sk-batch-SECRET-0123456789")
    inputs = tmp_path / "news.txt"
    inputs.write_text("\n".join(t for _, t in _docs(seed_lines, 5)), encoding="utf-8")
    runner = CliRunner()
    job = tmp_path / "job"
    submitted = runner.invoke(app, ["batch", "submit", str(inputs), "--lines", "--out", str(job), "--base-url", server.url, "--model", "m"])
    assert submitted.exit_code == 0, submitted.output
    assert "r1-p0001" in submitted.output
    shown = runner.invoke(app, ["batch", "status", str(job)])
    assert shown.exit_code == 0 and "completed" in shown.output
    collected = runner.invoke(app, ["batch", "collect", str(job)])
    assert collected.exit_code == 0, collected.output
    assert len(_records(job / "out.jsonl")) == 5
    live = runner.invoke(app, ["extract", str(inputs), "--lines", "-o", str(tmp_path / "live.jsonl"), "--base-url", server.url, "--model", "m"])
    assert live.exit_code == 0 and server.completions == 0  # every answer came from the cache collect filled
    files = [p for p in job.rglob("*") if p.is_file()]
    assert not any(b"SECRET" in p.read_bytes() for p in files)  # the key is never written


def test_cli_exit_statuses(tmp_path: Path, seed_lines: list[str]) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["batch", "collect", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "not a batch job folder" in _said(missing)
    no_endpoint = runner.invoke(app, ["batch", "submit", str(tmp_path), "--out", str(tmp_path / "job")])
    assert no_endpoint.exit_code == 2 and "needs an endpoint" in _said(no_endpoint)
    server = FakeOpenAIServer(batch_plans=[BatchPlan(polls=1)]).start()
    try:
        inputs = tmp_path / "news.txt"
        inputs.write_text(f"{SAHEL}\n   \n", encoding="utf-8")
        args = ["batch", "submit", str(inputs), "--out", str(tmp_path / "job"), "--base-url", server.url, "--model", "m"]
        assert runner.invoke(app, args).exit_code == 0
        running = runner.invoke(app, ["batch", "collect", str(tmp_path / "job"), "--no-cache"])
        assert running.exit_code == 3 and "still running" in _said(running)
        finished = runner.invoke(app, ["batch", "collect", str(tmp_path / "job"), "--no-cache", "--wait", "--poll-interval", "0.01"])
        assert finished.exit_code == 0, finished.output
        args[4] = str(tmp_path / "job2")
        assert runner.invoke(app, args).exit_code == 0
        server.batches.batches.clear()  # the provider no longer knows the running batch
        lost = runner.invoke(app, ["batch", "status", str(tmp_path / "job2")])
        assert lost.exit_code == 1 and "HTTP 404" in _said(lost) and "run the same command again" in _said(lost)
    finally:
        server.stop()
