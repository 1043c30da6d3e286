"""The pactx command line, against a real loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pactx import ExtractionResult, __version__
from pactx.cli import app
from pactx.testserver import FakeOpenAIServer

runner = CliRunner()


@pytest.fixture
def server():
    with FakeOpenAIServer(model="loopback-model") as srv:
        yield srv


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_extract_lines_writes_one_valid_line_per_document(
    server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACTX_BASE_URL", server.url)  # no model set: pactx asks the server
    source = tmp_path / "seeds.txt"
    source.write_text("\n".join(seed_lines[:6]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["extract", str(source), "--lines", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"seeds:{i}" for i in range(1, 7)]
    for row in rows:
        parsed = ExtractionResult.model_validate(row["result"])
        assert row["source"] == str(source)
        assert parsed.metadata.model == "loopback-model"
        for agreement in parsed.agreements:
            assert all(p.code for p in agreement.parties if p.kind.value == "state")
    assert "documents" in result.output and "failures" in result.output


def test_bad_inputs_are_named_and_the_rest_go_through(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACTX_BASE_URL", server.url)
    good = tmp_path / "good.txt"
    good.write_text("Australia and Tuvalu have signed a security and migration pact.", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("C\xf4te d'Ivoire signed a pact".encode("latin-1"))
    missing = tmp_path / "missing.txt"
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["extract", str(good), str(empty), str(latin1), str(missing), "-o", str(out)])
    assert result.exit_code == 1  # something failed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["good"]
    failures = [json.loads(line) for line in (tmp_path / "out.failures.jsonl").read_text().splitlines()]
    by_source = {Path(f["source"]).name: f["error"]["message"] for f in failures}
    assert "empty" in by_source["empty.txt"]
    assert "UTF-8" in by_source["latin1.txt"]
    assert "no such file" in by_source["missing.txt"]
    for name in ("empty.txt", "latin1.txt", "missing.txt"):
        assert name in result.output


def test_api_key_from_environment_never_printed_even_when_refused(tmp_path: Path) -> None:
    secret = "sk-live-VERY-SECRET-4242"
    with FakeOpenAIServer(api_key="the-right-key") as srv:
        doc = tmp_path / "doc.txt"
        doc.write_text("Mali and Niger signed a defense pact.", encoding="utf-8")
        env = {**os.environ, "PACTX_BASE_URL": srv.url, "PACTX_MODEL": "m", "PACTX_API_KEY": secret}
        proc = subprocess.run(
            [sys.executable, "-m", "pactx.cli", "extract", str(doc), "-o", str(tmp_path / "o.jsonl")],
            capture_output=True, text=True, env=env, timeout=120,
        )
    assert proc.returncode == 1
    everything = proc.stdout + proc.stderr + (tmp_path / "o.failures.jsonl").read_text()
    assert "401" in everything
    assert secret not in everything


def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACTX_BASE_URL", "http://127.0.0.1:9/v1")
    doc = tmp_path / "d.txt"
    doc.write_text("text", encoding="utf-8")
    result = runner.invoke(app, ["extract", str(doc)])
    assert result.exit_code == 2
    assert "127.0.0.1:9" in result.output or "Connection" in result.output
