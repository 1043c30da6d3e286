"""The OpenAI-compatible path, end to end through instructor, over httpx.MockTransport."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from helpers import SAHEL, SAHEL_ANSWER, UNGROUNDED_ANSWER, ScriptedServer, completion, mock_backend
from pactx import (
    ExtractionResult,
    ExtractionValidationError,
    Extractor,
    ProviderError,
)
from pactx.extraction import schema_hash


def test_tool_call_answer_is_parsed_grounded_and_coded() -> None:
    server = ScriptedServer(httpx.Response(200, json=completion(SAHEL_ANSWER)))
    result = Extractor(backend=mock_backend(server)).extract(SAHEL, source_id="sahel")
    assert isinstance(result, ExtractionResult)
    [pact] = result.agreements
    assert [p.code for p in pact.parties] == ["MLI", "NER", "BFA"]
    assert {p.kind.value for p in pact.parties} == {"state"}
    quote = pact.evidence[0]
    assert SAHEL[quote.start : quote.end] == quote.quote
    meta = result.metadata
    assert (meta.source_id, meta.attempts, meta.provider, meta.model) == ("sahel", 1, "openai-compatible", "mock-model")
    assert meta.usage.total_tokens == 140
    assert meta.schema_hash == schema_hash() and len(meta.prompt_hash) == 64
    body = server.bodies()[0]
    assert body["tools"][0]["function"]["name"] == "GroundedAgreementList"
    assert body["temperature"] == 0.0 and body["seed"] == 0
    assert "<document>" in body["messages"][-1]["content"]


def test_invalid_answer_is_reasked_with_the_error_then_accepted() -> None:
    server = ScriptedServer(
        httpx.Response(200, json=completion(UNGROUNDED_ANSWER)),
        httpx.Response(200, json=completion(SAHEL_ANSWER)),
    )
    result = Extractor(backend=mock_backend(server)).extract(SAHEL)
    assert len(server.requests) == 2
    reask = json.dumps(server.bodies()[1]["messages"])
    assert "does not occur in the text" in reask and "Chad" in reask
    assert result.metadata.attempts == 2
    assert result.metadata.usage.total_tokens == 280  # both attempts counted
    assert [p.code for p in result.agreements[0].parties] == ["MLI", "NER", "BFA"]


def test_answer_that_never_validates_ends_in_typed_error_with_last_attempt() -> None:
    server = ScriptedServer(httpx.Response(200, json=completion(UNGROUNDED_ANSWER)))
    extractor = Extractor(backend=mock_backend(server), max_reasks=2)
    with pytest.raises(ExtractionValidationError) as info:
        extractor.extract(SAHEL, source_id="doc-7")
    error = info.value
    assert error.attempts == 3 and len(server.requests) == 3
    assert error.usage.total_tokens == 3 * 140
    assert error.source_id == "doc-7" and "doc-7" in str(error)
    assert error.last_output is not None and "Chad" in error.last_output
    assert any("not mentioned in the text" in e for e in error.errors)


def test_json_schema_mode_sends_response_format_and_reads_content() -> None:
    server = ScriptedServer(httpx.Response(200, json=completion(SAHEL_ANSWER, tools=False)))
    result = Extractor(backend=mock_backend(server, mode="json_schema")).extract(SAHEL)
    body = server.bodies()[0]
    assert body["response_format"]["type"] == "json_schema"
    assert "tools" not in body
    assert len(result.agreements) == 1


def test_unknown_endpoint_defaults_to_json_schema_and_openai_to_tools() -> None:
    handler = ScriptedServer(httpx.Response(200, json=completion(SAHEL_ANSWER)))
    assert mock_backend(handler, mode=None, server=None).mode.name == "JSON_SCHEMA"
    openai_backend = mock_backend(handler, mode=None, server=None, base_url="https://api.openai.com/v1")
    assert openai_backend.mode.name == "TOOLS"
    assert all(r.url.host == "mock.invalid" for r in handler.requests)  # OpenAI is known by its host


def test_empty_agreement_list_is_a_valid_answer_and_is_kept() -> None:
    """The model may say "no agreement", even on a text that names a pact: no re-ask, nothing added."""
    server = ScriptedServer(httpx.Response(200, json=completion({"agreements": []})))
    result = Extractor(backend=mock_backend(server)).extract(SAHEL, source_id="empty")
    assert len(server.requests) == 1  # accepted as it came: no re-ask
    assert result.agreements == []  # pactx never fills in agreements the model did not give
    meta = result.metadata
    assert (meta.source_id, meta.attempts, meta.usage.total_tokens, meta.warnings) == ("empty", 1, 140, [])


def test_party_written_differently_is_replaced_by_the_text_spelling_with_a_warning() -> None:
    answer = json.loads(json.dumps(SAHEL_ANSWER))
    answer["agreements"][0]["parties"].append({"name": "United States"})
    text = SAHEL + " The U.S. criticized the move."
    server = ScriptedServer(httpx.Response(200, json=completion(answer)))
    result = Extractor(backend=mock_backend(server)).extract(text)
    names = {p.name: p.code for p in result.agreements[0].parties}
    assert names.get("U.S") == "USA" or names.get("U.S.") == "USA"
    assert any("United States" in w for w in result.metadata.warnings)


def test_unknown_party_is_kept_without_code_and_warned() -> None:
    answer = json.loads(json.dumps(SAHEL_ANSWER))
    answer["agreements"][0]["parties"].append({"name": "the juntas"})
    text = SAHEL + " Observers say the juntas coordinate."
    server = ScriptedServer(httpx.Response(200, json=completion(answer)))
    result = Extractor(backend=mock_backend(server)).extract(text)
    junta = [p for p in result.agreements[0].parties if p.name == "the juntas"]
    assert junta and junta[0].code is None and junta[0].kind.value == "other"
    assert any("no known code" in w for w in result.metadata.warnings)


def test_server_refusing_the_key_never_leaks_it(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-test-SECRET-0123456789"

    def refuse(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"].removeprefix("Bearer ")
        return httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {sent}"}})

    caplog.set_level(logging.DEBUG)
    extractor = Extractor(backend=mock_backend(refuse, api_key=secret))
    with pytest.raises(ProviderError) as info:
        extractor.extract(SAHEL)
    assert info.value.status_code == 401
    assert secret not in str(info.value) and "***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert secret not in caplog.text
    assert secret not in repr(extractor.backend.config)


def test_client_error_is_not_retried_and_is_typed() -> None:
    server = ScriptedServer(httpx.Response(400, json={"error": {"message": "bad request"}}))
    with pytest.raises(ProviderError) as info:
        Extractor(backend=mock_backend(server)).extract(SAHEL)
    assert info.value.status_code == 400 and len(server.requests) == 1


def test_transient_errors_are_retried_by_the_transport_and_counted() -> None:
    server = ScriptedServer(
        httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"message": "slow down"}}),
        httpx.Response(503, json={"error": {"message": "busy"}}),
        httpx.Response(200, json=completion(SAHEL_ANSWER)),
    )
    result = Extractor(backend=mock_backend(server)).extract(SAHEL)
    assert result.metadata.transport_retries == 2
    assert result.metadata.attempts == 1  # re-asks and transport retries are counted apart


def test_environment_configures_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    from pactx.providers import ProviderConfig

    monkeypatch.setenv("PACTX_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("PACTX_MODEL", "served-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback-key")
    config = ProviderConfig.from_env()
    assert (config.base_url, config.model, config.api_key) == ("http://127.0.0.1:9/v1", "served-model", "sk-fallback-key")
    monkeypatch.setenv("PACTX_API_KEY", "sk-pactx-key")
    assert ProviderConfig.from_env().api_key == "sk-pactx-key"
    assert ProviderConfig.from_env(model="explicit").model == "explicit"


async def test_async_twin_gives_the_same_result() -> None:
    server = ScriptedServer(httpx.Response(200, json=completion(SAHEL_ANSWER)))
    backend = mock_backend(server)
    extractor = Extractor(backend=backend)
    backend._async_transport = httpx.MockTransport(server)
    result = await extractor.aextract(SAHEL, source_id="a")
    assert [p.code for p in result.agreements[0].parties] == ["MLI", "NER", "BFA"]
    assert result.metadata.source_id == "a"


def test_documents_are_never_rendered_as_templates() -> None:
    server = ScriptedServer(httpx.Response(200, json=completion({"agreements": []})))
    text = "Officials wrote {{ source.text }} and {% raw %} in a memo about Mali and Niger.\n"
    Extractor(backend=mock_backend(server)).extract(text)
    sent = server.bodies()[0]["messages"]
    assert "{{ source.text }}" in sent[-1]["content"] and "{% raw %}" in sent[-1]["content"]
    assert sent[0]["content"].endswith("\n")  # the prompt file's text, byte for byte
