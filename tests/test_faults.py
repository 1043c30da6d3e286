"""Fault injection against the real loopback server: every transient fault is retried and counted."""

from __future__ import annotations

import httpx
import pytest

from pactx import Extractor, ProviderError, extract_many
from pactx.testserver import FAULT_KINDS, FakeOpenAIServer, FaultPlan
from pactx.transport import RetryPolicy, RetryTransport

TEXT = "Mali, Niger and Burkina Faso signed a mutual defense pact in Niamey."
FAST = RetryPolicy(max_retries=3, initial_wait=0.01, max_wait=0.05, jitter=0.0)


def _extractor(server: FakeOpenAIServer, *, retry: RetryPolicy = FAST, **options: object) -> Extractor:
    return Extractor(base_url=server.url, model="m", retry=retry, **options)


@pytest.mark.parametrize("fault", ["429", "500", "503", "malformed", "drop"])
def test_one_transient_fault_is_retried_by_the_transport(fault: str) -> None:
    with FakeOpenAIServer(faults=FaultPlan(script=[fault])) as server:
        result = _extractor(server).extract(TEXT)
        assert server.fault_log == [fault, "ok"]
    assert result.metadata.transport_retries == 1
    assert result.metadata.attempts == 1  # a transport retry is not a re-ask
    assert result.agreements


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_the_async_path_retries_every_fault_kind(fault: str) -> None:
    with FakeOpenAIServer(faults=FaultPlan(script=[fault], slow_seconds=2.0)) as server:
        [outcome] = list(extract_many([("doc", TEXT)], extractor=_extractor(server, timeout=0.5)))
        assert server.fault_log == [fault, "ok"]
    assert outcome.ok, outcome.error
    assert outcome.result is not None and outcome.result.metadata.transport_retries == 1


def test_slow_answer_past_the_client_timeout_is_retried() -> None:
    with FakeOpenAIServer(faults=FaultPlan(script=["slow"], slow_seconds=2.0)) as server:
        result = _extractor(server, timeout=0.5).extract(TEXT)
        assert server.fault_log == ["slow", "ok"]
    assert result.metadata.transport_retries == 1 and result.metadata.attempts == 1


def test_latency_is_only_latency() -> None:
    with FakeOpenAIServer(latency=0.1) as server:
        result = _extractor(server).extract(TEXT)
    assert result.metadata.transport_retries == 0 and result.metadata.latency_s >= 0.1


def test_retry_after_is_honoured() -> None:
    waits: list[float] = []
    plan = FaultPlan(script=["429"], retry_after=0.04)
    with FakeOpenAIServer(faults=plan) as server:
        policy = RetryPolicy(initial_wait=5.0, max_wait=10.0)
        transport = RetryTransport(httpx.HTTPTransport(), policy, sleep=waits.append)
        with httpx.Client(transport=transport) as client:
            response = client.post(f"{server.url}/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 200
    assert waits == [pytest.approx(0.04)]  # the server's Retry-After, not the 5 s backoff


@pytest.mark.parametrize(("fault", "status"), [("500", 500), ("503", 503), ("429", 429)])
def test_persistent_server_errors_end_in_a_typed_provider_error(fault: str, status: int) -> None:
    retry = RetryPolicy(max_retries=2, initial_wait=0.01, max_wait=0.02)
    with FakeOpenAIServer(faults=FaultPlan(script=[fault] * 10)) as server:
        with pytest.raises(ProviderError) as info:
            _extractor(server, retry=retry).extract(TEXT, source_id="doc")
        assert server.completions == 3  # one try and two retries, nothing hidden
    assert info.value.status_code == status and info.value.source_id == "doc"


def test_persistent_malformed_json_is_a_provider_error_not_a_validation_failure() -> None:
    with FakeOpenAIServer(faults=FaultPlan(script=["malformed"] * 10)) as server:
        with pytest.raises(ProviderError) as info:
            _extractor(server, retry=RetryPolicy(max_retries=2, initial_wait=0.01, max_wait=0.02)).extract(TEXT)
        assert server.completions == 3
    assert "not valid JSON" in str(info.value)


def test_openai_client_retries_stay_off() -> None:
    """pactx's transport is the only retry policy: with it set to zero, one request is made."""
    with FakeOpenAIServer(faults=FaultPlan(script=["503"] * 5)) as server:
        extractor = _extractor(server, retry=RetryPolicy(max_retries=0))
        assert extractor.backend._client.max_retries == 0
        with pytest.raises(ProviderError):
            extractor.extract(TEXT)
        assert server.completions == 1
        [outcome] = list(extract_many([TEXT], extractor=extractor))  # the async client too
        assert outcome.error is not None and outcome.error.type == "ProviderError"
        assert server.completions == 2


def test_two_hundred_documents_with_thirty_percent_faults_all_come_out(seed_lines: list[str]) -> None:
    plan = FaultPlan(rate=0.3, kinds=FAULT_KINDS, seed=11, slow_seconds=1.5)
    retry = RetryPolicy(max_retries=12, initial_wait=0.01, max_wait=0.05, jitter=0.01)
    docs = [(f"d{i:03d}", seed_lines[i % len(seed_lines)]) for i in range(200)]
    with FakeOpenAIServer(faults=plan) as server:
        extractor = _extractor(server, retry=retry, timeout=0.5)
        outcomes = list(extract_many(docs, extractor=extractor, concurrency=16))
        faults = [kind for kind in server.fault_log if kind != "ok"]
        requests = len(server.fault_log)
    assert sorted(o.id for o in outcomes) == [d[0] for d in docs]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok][:3]
    assert len(faults) > 30 and set(faults) == set(FAULT_KINDS)
    # Every request the server saw, but each document's last one, is a counted transport retry:
    # every fault, plus any good answer that a loaded machine delivered after the 0.5 s timeout.
    retries = sum(o.result.metadata.transport_retries for o in outcomes)
    assert retries == requests - len(docs)
    assert retries >= len(faults)
    assert all(o.result.metadata.attempts == 1 for o in outcomes)


@pytest.mark.parametrize("header", ["soon", "Wed, 99 Foo 2024", "-"])
def test_a_retry_after_that_is_neither_delay_nor_date_falls_back_to_backoff(header: str) -> None:
    waits: list[float] = []
    answers = iter([httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200, json={})])
    policy = RetryPolicy(initial_wait=0.25, max_wait=10.0, jitter=0.0)
    transport = RetryTransport(httpx.MockTransport(lambda request: next(answers)), policy, sleep=waits.append)
    with httpx.Client(transport=transport) as client:
        response = client.post("http://127.0.0.1:9/chat/completions", json={})
    assert response.status_code == 200
    assert waits == [pytest.approx(0.25)]  # the policy's own first backoff, and no ValueError
