"""Honest failure types: only an answer that failed validation is an ExtractionValidationError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import pactx.validation
from pactx import (
    ExtractionError,
    ExtractionValidationError,
    Extractor,
    InternalError,
    PactxError,
    extract_many,
)
from pactx.cli import app
from pactx.testserver import FakeOpenAIServer

from helpers import SAHEL, SAHEL_ANSWER, UNGROUNDED_ANSWER, ScriptedServer, completion, mock_backend


def _broken_resolve(name: str) -> Any:
    raise KeyError(f"gazetteer bug while resolving {name!r}")


@pytest.fixture
def pactx_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in pactx's own validation code: it raises KeyError, not a validation error."""
    monkeypatch.setattr(pactx.validation, "resolve", _broken_resolve)


def test_a_bug_in_validation_is_an_internal_error_with_its_cause(pactx_bug: None) -> None:
    server = ScriptedServer(httpx.Response(200, json=completion(SAHEL_ANSWER)))
    with pytest.raises(InternalError) as info:
        Extractor(backend=mock_backend(server), max_reasks=2).extract(SAHEL, source_id="doc-1")
    error = info.value
    assert not isinstance(error, ExtractionValidationError)
    assert isinstance(error, ExtractionError) and isinstance(error, PactxError)
    assert isinstance(error.__cause__, KeyError) and error.__cause__.__traceback__ is not None
    assert "KeyError" in str(error) and "doc-1" in str(error)
    assert len(server.requests) == 1  # a bug is not re-asked
    assert error.attempts == 1 and error.usage.total_tokens == 140


def test_a_bug_in_the_backend_is_an_internal_error() -> None:
    class BrokenBackend:
        provider, model = "broken", "m"
        mode = mock_backend(ScriptedServer(httpx.Response(500))).mode

        def generation_params(self) -> dict[str, Any]:
            return {"temperature": 0.0, "seed": 0, "max_tokens": 64}

        def complete(self, **kwargs: Any) -> Any:
            return None + 1  # type: ignore[operator]

        async def acomplete(self, **kwargs: Any) -> Any:
            return self.complete(**kwargs)

    extractor = Extractor(backend=BrokenBackend())  # type: ignore[arg-type]
    with pytest.raises(InternalError) as info:
        extractor.extract(SAHEL)
    assert isinstance(info.value.__cause__, TypeError)
    [outcome] = extract_many([("d", SAHEL)], extractor=extractor)
    assert outcome.error is not None and outcome.error.type == "InternalError"


def test_validation_exhaustion_and_truncation_stay_validation_errors() -> None:
    server = ScriptedServer(httpx.Response(200, json=completion(UNGROUNDED_ANSWER)))
    with pytest.raises(ExtractionValidationError) as info:
        Extractor(backend=mock_backend(server), max_reasks=1).extract(SAHEL)
    assert info.value.attempts == 2 and info.value.__cause__ is None
    cut = completion(SAHEL_ANSWER)
    cut["choices"][0]["finish_reason"] = "length"
    server = ScriptedServer(httpx.Response(200, json=cut))
    with pytest.raises(ExtractionValidationError) as info:
        Extractor(backend=mock_backend(server), max_reasks=1).extract(SAHEL)
    assert "cut off" in str(info.value)


def test_batch_and_cli_failure_records_name_the_real_type(
    pactx_bug: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer() as server:
        [outcome] = extract_many([("x", SAHEL)], extractor=Extractor(base_url=server.url, model="m"))
        assert outcome.error is not None and outcome.error.type == "InternalError"
        assert outcome.to_record()["error"]["type"] == "InternalError"
        monkeypatch.setenv("PACTX_BASE_URL", server.url)
        monkeypatch.setenv("PACTX_CACHE_DIR", str(tmp_path / "cache"))
        source = tmp_path / "doc.txt"
        source.write_text(SAHEL, encoding="utf-8")
        out = tmp_path / "out.jsonl"
        result = CliRunner().invoke(app, ["extract", str(source), "-o", str(out)])
    assert result.exit_code == 1, result.output
    [record] = [json.loads(line) for line in (tmp_path / "out.failures.jsonl").read_text().splitlines()]
    assert record["error"]["type"] == "InternalError" and "KeyError" in record["error"]["message"]
