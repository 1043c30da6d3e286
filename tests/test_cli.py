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


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI caches results by default; keep each test's cache to itself."""
    monkeypatch.setenv("PACTX_CACHE_DIR", str(tmp_path / "cache"))


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


def test_batch_with_every_kind_of_bad_input_keeps_every_good_document(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pactx.documents import MAX_DOCUMENT_CHARS

    monkeypatch.setenv("PACTX_BASE_URL", server.url)
    folder = tmp_path / "news"
    folder.mkdir()
    good = {
        "g1": "Australia and Tuvalu have signed a security and migration pact.",
        "g2": "Mali, Niger and Burkina Faso signed a mutual defense pact.",
        "g3": "Japan and the Philippines agreed to a reciprocal access agreement.",
    }
    for name, text in good.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "blank.txt").write_text("  \n\t\n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00IHDR")
    (folder / "latin1.txt").write_bytes("C\xf4te d'Ivoire signed a pact".encode("latin-1"))
    records = [
        {"id": "j-good", "text": "France and India signed a defence cooperation agreement."},
        {"id": "j-nul", "text": "Mali\u0000 and Niger"},
        {"id": "j-huge", "text": "Mali and Niger signed a pact. " * (MAX_DOCUMENT_CHARS // 29 + 10)},
        {"id": "j-blank", "text": "   "},
    ]
    (folder / "batch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + "not json\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["extract", str(folder), "-o", str(out), "--concurrency", "3"])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == ["g1", "g2", "g3", "j-good"]
    failure_lines = (tmp_path / "out.failures.jsonl").read_text().splitlines()
    failures = {f["id"]: f["error"] for f in map(json.loads, failure_lines)}
    assert all(error["type"] == "InputError" for error in failures.values())
    assert "empty" in failures["empty"]["message"] and "empty" in failures["blank"]["message"]
    assert "NUL" in failures["binary"]["message"] and "NUL" in failures["j-nul"]["message"]
    assert "UTF-8" in failures["latin1"]["message"] and "too long" in failures["j-huge"]["message"]
    assert "empty" in failures["j-blank"]["message"] and "not JSON" in failures["batch:5"]["message"]
    assert server.completions == 4  # bad inputs never reach the model


def test_usage_and_configuration_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "d.txt"
    doc.write_text("Mali and Niger signed a pact.", encoding="utf-8")
    assert runner.invoke(app, ["extract", str(doc), "--resume"]).exit_code == 2  # nothing to resume into
    assert runner.invoke(app, ["extract", str(doc), "--concurrency", "0"]).exit_code == 2
    with FakeOpenAIServer() as srv:
        bad_mode = runner.invoke(app, ["extract", str(doc), "--base-url", srv.url, "--mode", "telepathy"])
    assert bad_mode.exit_code == 2 and "telepathy" in bad_mode.output


def test_long_document_is_chunked_and_options_are_accepted(
    server: FakeOpenAIServer, seed_lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACTX_BASE_URL", server.url)
    article = tmp_path / "article.txt"
    article.write_text("\n\n".join(seed_lines), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["extract", str(article), "-o", str(out), "--max-chunk-chars", "2000", "--rpm", "6000", "--tpm", "10000000",
            "--unordered", "--timeout", "30"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    parsed = ExtractionResult.model_validate(row["result"])
    text = article.read_text(encoding="utf-8")
    assert parsed.metadata.chunks > 1 and server.completions == parsed.metadata.chunks
    for agreement in parsed.agreements:
        assert all(text[q.start : q.end] == q.quote for q in agreement.evidence)


def test_output_written_into_the_input_folder_is_not_read_back(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACTX_BASE_URL", server.url)
    (tmp_path / "a.txt").write_text("Mali and Niger signed a mutual defense pact.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe not utf-8")
    out = tmp_path / "out.jsonl"
    args = ["extract", str(tmp_path), "-o", str(out), "--model", "m"]
    first = runner.invoke(app, args)
    assert first.exit_code == 1 and (tmp_path / "out.failures.jsonl").exists()
    again = runner.invoke(app, [*args, "--resume"])  # out.jsonl and out.failures.jsonl now sit in the folder
    failed = [json.loads(line)["id"] for line in (tmp_path / "out.failures.jsonl").read_text().splitlines()]
    assert again.exit_code == 1 and failed == ["bad"], failed
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a"]
