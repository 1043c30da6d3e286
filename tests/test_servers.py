"""Server families: detection from /v1/models metadata, the mode each gets, request shapes,
refusals of a request's shape (never retried), and the one-at-a-time server's limits.

Everything here runs over httpx.MockTransport or the loopback FakeOpenAIServer; the real
llama-cpp-python server is in test_real_server.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from helpers import SAHEL, SAHEL_ANSWER, completion
from pactx import Extractor, ProviderError
from pactx.batch import extract_many
from pactx.errors import ConfigurationError
from pactx.extraction import RESPONSE_MODEL
from pactx.providers import OpenAIBackend, ProviderConfig, served_schema
from pactx.servers import FAMILIES, detect, forget, identify, server_family, shape_rejection
from pactx.testserver import FakeOpenAIServer
from pactx.transport import RetryPolicy

FAST = RetryPolicy(max_retries=3, initial_wait=0.0, max_wait=0.0, jitter=0.0)

# /v1/models as each family answers it (llama-cpp-python's copied from a real 0.3.36 server).
LISTINGS: dict[str, dict[str, Any]] = {
    "llama-cpp-python": {"object": "list", "data": [{"id": "/models/SmolLM2.gguf", "object": "model", "owned_by": "me", "permissions": []}]},
    "llama-server": {"object": "list", "data": [{"id": "model.gguf", "object": "model", "created": 1, "owned_by": "llamacpp", "meta": {"n_ctx_train": 8192}}]},
    "vllm": {"object": "list", "data": [{"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "created": 1, "owned_by": "vllm", "root": "Qwen/Qwen2.5-7B-Instruct", "max_model_len": 32768}]},
    "ollama": {"object": "list", "data": [{"id": "qwen2.5:7b", "object": "model", "created": 1731878400, "owned_by": "library"}]},
    "lm-studio": {"data": [{"id": "qwen2.5-7b-instruct", "object": "model", "owned_by": "organization_owner"}], "object": "list"},
    "openai": {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "system"}]},
}
TGI_LISTING = {"object": "list", "data": [{"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "created": 0, "owned_by": "Qwen/Qwen2.5-7B-Instruct"}]}
TGI_INFO = {"model_id": "Qwen/Qwen2.5-7B-Instruct", "max_total_tokens": 4096, "router": "text-generation-router", "version": "3.0.1"}

# llama-cpp-python 0.3.36 answering response_format {"type": "json_schema"} (recorded).
LLAMA_CPP_PYTHON_REFUSAL = {
    "error": {
        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
        "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
        "'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"/site-packages/llama_cpp/server/app.py\", "
        "line 376, in create_chat_completion\n    POST /v1/chat/completions",
        "type": "internal_server_error", "param": None, "code": None,
    }
}


class Server:
    """A MockTransport handler: GET answers from ``routes`` (404 otherwise), POST from ``chat``."""

    def __init__(self, routes: dict[str, Any], chat: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.routes = routes
        self.chat = chat or (lambda request: httpx.Response(200, json=completion(SAHEL_ANSWER, tools=False)))
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            return self.chat(request)
        body = self.routes.get(request.url.path)
        return httpx.Response(200, json=body) if body is not None else httpx.Response(404, json={"error": "not found"})

    def posts(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


def backend(server: Server, base_url: str = "http://127.0.0.1:8000/v1", **config: Any) -> OpenAIBackend:
    options: dict[str, Any] = {"base_url": base_url, "retry": FAST}
    options.update(config)
    return OpenAIBackend(ProviderConfig(**options), transport=httpx.MockTransport(server))


@pytest.mark.parametrize("family", sorted(LISTINGS))
def test_each_family_is_recognized_from_its_model_listing(family: str) -> None:
    found, evidence = identify("http://10.0.0.5:8000/v1", LISTINGS[family])
    assert found is not None and found.name == family
    assert "owned_by" in evidence


def test_listings_that_show_no_family_are_left_to_the_probes() -> None:
    assert identify("http://h:1/v1", {"data": [{"id": "m", "owned_by": "pactx"}]})[0] is None
    assert identify("http://h:1/v1", {"data": []})[0] is None
    assert identify("http://h:1/v1", {"unexpected": True})[0] is None
    assert identify("http://h:1/v1", TGI_LISTING)[0] is None  # TGI's owner is the model id: ask /info
    assert identify("https://api.openai.com/v1", None)[0] is FAMILIES["openai"]


@pytest.mark.parametrize(
    ("family", "mode"),
    [("openai", "tools"), ("vllm", "json_schema"), ("ollama", "json_schema"), ("llama-server", "json_schema"),
     ("llama-cpp-python", "json_object_schema"), ("lm-studio", "json_schema")],
)
def test_the_detected_family_decides_the_mode(family: str, mode: str) -> None:
    server = Server({"/v1/models": LISTINGS[family]})
    chosen = backend(server)
    assert (chosen.server.family.name, chosen.mode_name) == (family, mode)
    assert chosen.model == LISTINGS[family]["data"][0]["id"]  # the one listing also gave the model
    assert [r.url.path for r in server.requests] == ["/v1/models"]


def test_tgi_is_recognized_by_its_info_endpoint_and_sends_the_schema_as_value() -> None:
    server = Server({"/v1/models": TGI_LISTING, "/info": TGI_INFO})
    tgi = backend(server)
    assert (tgi.server.family.name, tgi.mode_name) == ("tgi", "json_object_schema")
    Extractor(backend=tgi).extract(SAHEL)
    response_format = server.posts()[0]["response_format"]
    assert response_format["type"] == "json_object"
    assert response_format["value"] == RESPONSE_MODEL.model_json_schema()  # as is: TGI does not get a shaped one


def test_ollama_with_an_unusual_owner_is_recognized_by_its_version_endpoint() -> None:
    listing = {"object": "list", "data": [{"id": "acme/extractor:7b", "object": "model", "created": 1, "owned_by": "acme"}]}
    server = Server({"/v1/models": listing, "/api/version": {"version": "0.5.7"}})
    assert backend(server, base_url="http://127.0.0.1:11434/v1").server.family.name == "ollama"


def test_an_unknown_server_gets_json_schema_after_two_probes() -> None:
    server = Server({"/v1/models": {"data": [{"id": "m", "owned_by": "someone"}]}})
    unknown = backend(server)
    assert (unknown.server.family.name, unknown.mode_name) == ("generic", "json_schema")
    assert [r.url.path for r in server.requests] == ["/v1/models", "/api/version", "/info"]


def test_the_answer_is_cached_per_base_url() -> None:
    server = Server({"/v1/models": LISTINGS["vllm"]})
    backend(server)
    backend(server, mode="tools")
    backend(server, base_url="http://127.0.0.1:8000/v1/")  # the same base URL
    assert len(server.requests) == 1
    backend(server, base_url="http://127.0.0.1:9000/v1")  # another server
    assert len(server.requests) == 2
    forget("http://127.0.0.1:8000/v1")
    backend(server)
    assert len(server.requests) == 3


def test_a_listing_that_fails_is_not_cached_and_without_a_model_is_a_clear_error() -> None:
    server = Server({})  # /v1/models answers 404
    with pytest.raises(ProviderError, match="listing the served models"):
        backend(server)
    named = backend(server, model="m")  # with a model, the call goes on as a generic server
    assert named.server.family.name == "generic" and named.server.listing_error == "HTTP 404"
    info = detect(httpx.Client(transport=httpx.MockTransport(server)), "http://127.0.0.1:8000/v1")
    assert info.listing_error == "HTTP 404"  # asked again: failures are not cached


def test_pactx_mode_overrides_the_family_and_pactx_server_skips_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server({"/v1/models": LISTINGS["llama-cpp-python"]})
    monkeypatch.setenv("PACTX_MODE", "md_json")
    overridden = OpenAIBackend(ProviderConfig.from_env(base_url="http://127.0.0.1:8000/v1", retry=FAST), transport=httpx.MockTransport(server))
    assert (overridden.server.family.name, overridden.mode_name, overridden.mode.name) == ("llama-cpp-python", "md_json", "MD_JSON")
    monkeypatch.delenv("PACTX_MODE")
    monkeypatch.setenv("PACTX_SERVER", "vLLM")
    named = OpenAIBackend(ProviderConfig.from_env(base_url="http://127.0.0.1:8001/v1", model="m", retry=FAST), transport=httpx.MockTransport(server))
    assert (named.server.family.name, named.mode_name) == ("vllm", "json_schema")
    assert len(server.requests) == 1  # only the first backend asked
    with pytest.raises(ConfigurationError, match="unknown server family 'vlm'"):
        server_family("vlm")
    with pytest.raises(ConfigurationError, match="unknown mode"):
        backend(server, mode="grammar")


def _document(request: dict[str, Any]) -> str:
    return request["messages"][-1]["content"]


def test_llama_cpp_python_gets_a_json_object_with_a_bounded_schema_whose_quotes_are_the_documents() -> None:
    text = 'Officials called it "historic". Mali, Niger and Burkina Faso signed a mutual defense pact in Niamey.'
    answer = {"agreements": [{"evidence": [{"quote": "Mali, Niger and Burkina Faso signed a mutual defense pact in Niamey."}],
                              "parties": [{"name": "Mali"}, {"name": "Niger"}], "agreement_type": "defense_pact", "status": "signed"}]}
    server = Server({"/v1/models": LISTINGS["llama-cpp-python"]}, lambda r: httpx.Response(200, json=completion(answer, tools=False)))
    served = backend(server)
    assert served.max_concurrency == 1 and served.policy.retry_read_timeouts is False
    result = Extractor(backend=served).extract(text)
    assert [p.code for p in result.agreements[0].parties] == ["MLI", "NER"]
    response_format = server.posts()[0]["response_format"]
    assert set(response_format) == {"type", "schema"} and response_format["type"] == "json_object"
    quotes = response_format["schema"]["$defs"]["GroundedEvidence"]["properties"]["quote"]["enum"]
    assert "Officials called it \u201dhistoric\u201d." in quotes  # no '"' in a grammar literal
    assert not any('"' in q for q in quotes)
    assert result.metadata.constraints_hash is not None  # the shaping code is part of the cache key


def test_llama_cpp_python_tools_get_the_same_bounded_parameters() -> None:
    server = Server({"/v1/models": LISTINGS["llama-cpp-python"]}, lambda r: httpx.Response(200, json=completion(SAHEL_ANSWER)))
    Extractor(backend=backend(server, mode="tools")).extract(SAHEL)
    parameters = server.posts()[0]["tools"][0]["function"]["parameters"]
    raw = RESPONSE_MODEL.model_json_schema()
    assert parameters != raw
    assert parameters["properties"]["agreements"]["maxItems"] <= 3
    assert "enum" in parameters["$defs"]["GroundedEvidence"]["properties"]["quote"]


def test_served_schema_drops_choices_no_grammar_literal_can_hold() -> None:
    messages = [{"role": "user", "content": "<document>\nA path C:\\temp was named. Chad and Niger signed a pact.\n</document>"}]
    schema = served_schema(RESPONSE_MODEL.model_json_schema(), messages, "source", 1024)
    quotes = schema["$defs"]["GroundedEvidence"]["properties"]["quote"]["enum"]
    assert quotes == ["Chad and Niger signed a pact."]
    free = served_schema(RESPONSE_MODEL.model_json_schema(), messages, "free", 1024)
    assert "enum" not in free["$defs"]["GroundedEvidence"]["properties"]["quote"]
    with pytest.raises(ConfigurationError, match="unknown decoding"):
        served_schema(RESPONSE_MODEL.model_json_schema(), messages, "strict", 1024)


def test_a_refused_shape_fails_at_once_naming_the_mode_and_others_to_try() -> None:
    server = Server({"/v1/models": LISTINGS["llama-cpp-python"]}, lambda r: httpx.Response(500, json=LLAMA_CPP_PYTHON_REFUSAL))
    extractor = Extractor(backend=backend(server, mode="json_schema", retry=RetryPolicy()))  # real backoff
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        extractor.extract(SAHEL)
    assert time.perf_counter() - started < 1.0
    assert len(server.posts()) == 1  # neither the transport nor instructor asked again
    message = str(info.value)
    assert "llama-cpp-python's server" in message and "mode 'json_schema'" in message
    assert "Input should be 'text' or 'json_object' (at body.response_format.type)" in message
    assert "json_object_schema" in message and info.value.status_code == 500


def test_an_ordinary_500_is_still_retried() -> None:
    server = Server({"/v1/models": LISTINGS["vllm"]}, lambda r: httpx.Response(500, json={"error": {"message": "CUDA out of memory"}}))
    with pytest.raises(ProviderError, match="HTTP 500"):
        Extractor(backend=backend(server)).extract(SAHEL)
    assert len(server.posts()) == 1 + FAST.max_retries


def test_a_refused_shape_in_a_4xx_names_the_mode_too() -> None:
    refusal = {"object": "error", "message": "tool_choice 'required' is not supported", "type": "BadRequestError", "code": 400}
    server = Server({"/v1/models": LISTINGS["vllm"]}, lambda r: httpx.Response(400, json=refusal))
    with pytest.raises(ProviderError, match=r"vLLM at .* mode 'tools' \(HTTP 400: tool_choice 'required' is not supported\)"):
        Extractor(backend=backend(server, mode="tools")).extract(SAHEL)
    assert len(server.posts()) == 1


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, json.dumps(LLAMA_CPP_PYTHON_REFUSAL), "Input should be 'text' or 'json_object' (at body.response_format.type)"),
        (422, json.dumps({"detail": [{"loc": ["body", "tools"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}]}),
         "Extra inputs are not permitted (at body.tools)"),
        (400, json.dumps({"error": "'response_format.type' must be 'json_schema' or 'text'"}), "'response_format.type' must be 'json_schema' or 'text'"),
        (500, json.dumps({"error": {"code": 500, "message": "JSON schema conversion failed: unsupported format", "type": "server_error"}}),
         "JSON schema conversion failed: unsupported format"),
        (500, json.dumps({"error": {"message": "CUDA out of memory"}}), None),
        (503, json.dumps({"error": {"message": "response_format is loading"}}), None),  # 503: the server is busy
        (400, json.dumps({"error": {"message": "Requested tokens (5000) exceed context window of 2048"}}), None),
        (500, "<html>upstream down</html>", None),
    ],
)
def test_shape_refusals_are_told_from_other_errors(status: int, body: str, reason: str | None) -> None:
    assert shape_rejection(status, body.encode()) == reason


def test_a_read_timeout_is_not_retried_on_a_server_that_answers_one_at_a_time() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    serial = Server({"/v1/models": LISTINGS["llama-cpp-python"]}, slow)
    with pytest.raises(ProviderError, match="one answer at a time") as info:
        Extractor(backend=backend(serial)).extract(SAHEL)
    assert len(serial.posts()) == 1 and "--timeout" in str(info.value)
    other = Server({"/v1/models": LISTINGS["vllm"]}, slow)
    with pytest.raises(ProviderError, match="APITimeoutError"):
        Extractor(backend=backend(other, base_url="http://127.0.0.1:8100/v1")).extract(SAHEL)
    assert len(other.posts()) == 1 + FAST.max_retries


def test_a_batch_keeps_one_request_in_flight_on_a_one_at_a_time_server(seed_lines: list[str]) -> None:
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def responder(request: dict[str, Any]) -> dict[str, Any]:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return {"agreements": []}

    with FakeOpenAIServer(responder) as fake:
        outcomes = list(extract_many(seed_lines[:4], base_url=fake.url, model="m", server="llama-cpp-python", concurrency=4))
        assert all(o.ok for o in outcomes) and fake.completions == 4
        assert fake.requests[0]["response_format"]["type"] == "json_object"
        assert state["most"] == 1
        state["most"] = 0
        list(extract_many(seed_lines[:4], base_url=fake.url, model="m", concurrency=4))
        assert state["most"] > 1  # a generic server gets the concurrency asked for
