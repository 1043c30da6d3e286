"""Stop ``pactx extract`` mid-run (Ctrl-C or kill -9), rerun with --resume: every document once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pactx.testserver import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
DOCS = 48


@pytest.fixture
def corpus(tmp_path: Path, seed_lines: list[str]) -> Path:
    path = tmp_path / "news.jsonl"
    records = [{"id": f"doc-{i:02d}", "text": f"{seed_lines[i % len(seed_lines)]} (Report {i}.)"} for i in range(DOCS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def server():
    with FakeOpenAIServer(latency=0.3) as srv:
        yield srv


def _start(server: FakeOpenAIServer, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PACTX_BASE_URL": server.url,
        "PACTX_MODEL": "m",
        "PACTX_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "pactx.cli", "extract", *args, "--concurrency", "4"]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    """Let the child take Ctrl-C even when this run inherited SIGINT ignored.

    A shell without job control starts background commands with SIGINT ignored, and a
    child inherits that; Python then never installs its KeyboardInterrupt handler.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen[str], limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while len(_lines(path)) < count:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the run wrote too few lines"
        time.sleep(0.05)


def _check_complete(out: Path) -> None:
    rows = [json.loads(line) for line in _lines(out)]  # every line is valid JSON
    counts = Counter(r["id"] for r in rows)
    assert set(counts) == {f"doc-{i:02d}" for i in range(DOCS)}
    assert set(counts.values()) == {1}, [k for k, n in counts.items() if n > 1]
    assert all("result" in r for r in rows)


def test_ctrl_c_then_resume(server: FakeOpenAIServer, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = _start(server, tmp_path, str(corpus), "-o", str(out))
    _wait_for_lines(out, 8, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "--resume" in stderr and "Traceback" not in stderr
    written = [json.loads(line) for line in _lines(out)]  # nothing half-written
    assert 8 <= len(written) < DOCS

    rerun = _start(server, tmp_path, str(corpus), "-o", str(out), "--resume")
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr[-2000:]
    assert f"{len(written)} document(s) already in" in stderr
    _check_complete(out)
    assert server.completions <= DOCS + 4  # finished work is never redone (at most the 4 in flight)


def test_kill_9_then_resume_repairs_a_torn_line(server: FakeOpenAIServer, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = _start(server, tmp_path, str(corpus), "-o", str(out), "--no-cache", "--unordered")
    _wait_for_lines(out, 8, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with out.open("a", encoding="utf-8") as handle:  # as if killed in the middle of a write
        handle.write('{"id": "doc-47", "source": "news.js')

    rerun = _start(server, tmp_path, str(corpus), "-o", str(out), "--resume", "--no-cache", "--unordered")
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr[-2000:]
    assert "incomplete last line" in stderr
    _check_complete(out)


def test_resume_reports_output_lines_that_are_not_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pactx.cli import completed_ids

    out = tmp_path / "out.jsonl"
    good = json.dumps({"id": "a", "source": "s", "result": {"agreements": []}})
    out.write_text(good + "\nnot json at all\n" + json.dumps({"id": "b"}) + "\n\n", encoding="utf-8")
    assert completed_ids(out) == {"a"}
    message = " ".join(capsys.readouterr().err.split())
    assert "2 line(s)" in message and "first: line 2" in message and "extracted again" in message
