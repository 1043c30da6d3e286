"""Batch extraction: one outcome per input, typed failures, bounded concurrency, rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeLlamaBackend

from pactx import ExtractionResult, Extractor, Outcome, aextract_many, extract_many
from pactx.batch import RateGate, TokenBucket, estimate_tokens
from pactx.documents import MAX_DOCUMENT_CHARS, Document, InputFailure, text_id
from pactx.testserver import FakeOpenAIServer, document_of, floor_responder
from pactx.transport import RetryPolicy

FAST = RetryPolicy(max_retries=3, initial_wait=0.01, max_wait=0.05, jitter=0.0)
GOOD = [
    "Mali, Niger and Burkina Faso signed a mutual defense pact in Niamey.",
    "Australia and Tuvalu have signed a security and migration pact.",
    "Japan and the Philippines agreed to a reciprocal access agreement.",
]


@pytest.fixture
def server():
    with FakeOpenAIServer(model="batch-model") as srv:
        yield srv


def _extractor(server: FakeOpenAIServer, **options: Any) -> Extractor:
    return Extractor(base_url=server.url, model="batch-model", retry=FAST, **options)


def test_every_input_form_gives_one_outcome_with_its_id(server: FakeOpenAIServer, seed_lines: list[str]) -> None:
    docs: list[Any] = [
        GOOD[0],
        Document("doc-b", GOOD[1], source="b.txt"),
        ("doc-c", GOOD[2]),
        ("doc-d", GOOD[0].encode("utf-8")),
        InputFailure("broken", "broken.txt", "not valid UTF-8"),
        *[(f"seed-{i}", line) for i, line in enumerate(seed_lines[:10])],
    ]
    outcomes = list(extract_many(docs, extractor=_extractor(server), concurrency=4))
    assert len(outcomes) == len(docs)
    by_id = {o.id: o for o in outcomes}
    assert set(by_id) == {text_id(GOOD[0]), "doc-b", "doc-c", "doc-d", "broken"} | {f"seed-{i}" for i in range(10)}
    assert by_id["doc-b"].source == "b.txt"
    assert not by_id["broken"].ok and by_id["broken"].error.type == "InputError"
    for outcome in outcomes:
        if outcome.ok:
            assert isinstance(outcome.result, ExtractionResult) and outcome.error is None
            assert outcome.result.metadata.source_id == outcome.id
            assert outcome.to_record()["result"]["metadata"]["source_id"] == outcome.id


def test_ordered_yields_in_input_order(server: FakeOpenAIServer, seed_lines: list[str]) -> None:
    docs = [(f"d{i:02d}", line) for i, line in enumerate(seed_lines)]
    outcomes = list(extract_many(docs, extractor=_extractor(server), concurrency=6, ordered=True))
    assert [o.id for o in outcomes] == [d[0] for d in docs]
    assert all(o.ok for o in outcomes)


def test_bad_inputs_of_every_kind_fail_alone_and_every_good_document_comes_out(server: FakeOpenAIServer) -> None:
    bad: dict[str, Any] = {
        "empty": "",
        "blank": " \n\t ",
        "nul": "Mali and Niger\x00\x01 signed",
        "binary-bytes": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "latin1-bytes": "C\xf4te d'Ivoire signed a pact".encode("latin-1"),
        "surrogate": "Mali signed \udcff a pact",
        "huge": "Mali and Niger signed a pact. " * (MAX_DOCUMENT_CHARS // 29 + 10),
        "not-text": 42,
    }
    docs: list[Any] = []
    for i, (name, body) in enumerate(bad.items()):
        docs += [(f"good-{i}", GOOD[i % len(GOOD)]), (name, body)]
    outcomes = {o.id: o for o in extract_many(docs, extractor=_extractor(server), concurrency=4)}
    assert len(outcomes) == len(docs)
    assert all(outcomes[f"good-{i}"].ok for i in range(len(bad)))
    messages = {name: outcomes[name].error.message for name in bad}
    assert all(outcomes[name].error.type == "InputError" for name in bad)
    assert "empty" in messages["empty"] and "empty" in messages["blank"]
    assert "NUL" in messages["nul"] and "NUL" in messages["binary-bytes"]
    assert "UTF-8" in messages["latin1-bytes"] and "Unicode" in messages["surrogate"]
    assert "too long" in messages["huge"] and "expected text" in messages["not-text"]
    assert server.completions == len(bad)  # bad inputs never reach the model


def test_failures_are_typed_and_redacted() -> None:
    secret = "sk-batch-SECRET-998877"

    def ungrounded(request: dict[str, Any]) -> dict[str, Any]:
        return {"agreements": [{"evidence": [{"quote": "Chad joined in 2024"}], "parties": [{"name": "Chad"}],
                                "agreement_type": "defense_pact", "status": "signed"}]}

    with FakeOpenAIServer(ungrounded) as srv:
        extractor = Extractor(base_url=srv.url, model="m", retry=FAST, max_reasks=1)
        [outcome] = extract_many([("x", GOOD[0])], extractor=extractor)
    assert not outcome.ok and outcome.result is None
    assert outcome.error.type == "ExtractionValidationError" and "x:" in outcome.error.message
    with FakeOpenAIServer(api_key="right-key") as srv:
        extractor = Extractor(base_url=srv.url, model="m", api_key=secret, retry=FAST)
        [outcome] = extract_many([("y", GOOD[0])], extractor=extractor)
    assert outcome.error.type == "ProviderError" and "401" in outcome.error.message
    assert secret not in outcome.error.message
    assert secret not in str(outcome.to_record())


def test_concurrency_is_bounded_and_used() -> None:
    """A barrier proves three requests were in flight together; a counter proves never more."""
    barrier = threading.Barrier(3, timeout=10)
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def responder(request: dict[str, Any]) -> dict[str, Any]:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        with contextlib.suppress(threading.BrokenBarrierError):  # the last ones come in fewer than three
            barrier.wait()
        with lock:
            state["now"] -= 1
        return floor_responder(request)

    with FakeOpenAIServer(responder) as srv:
        barrier_docs = [(f"d{i}", GOOD[i % 3] + f" Item {i}.") for i in range(9)]
        outcomes = list(extract_many(barrier_docs, base_url=srv.url, model="m", retry=FAST, concurrency=3))
    assert all(o.ok for o in outcomes) and len(outcomes) == 9
    assert state["max"] == 3


def test_embedded_backend_runs_one_call_at_a_time_in_a_thread(seed_lines: list[str]) -> None:
    backend = FakeLlamaBackend()
    extractor = Extractor(backend=backend)
    outcomes = list(extract_many(seed_lines[:8], extractor=extractor, concurrency=8))
    assert len(outcomes) == 8 and all(o.ok for o in outcomes)
    assert backend.calls == 8 and backend.max_in_flight == 1


@pytest.fixture
def held_server(seed_lines: list[str]) -> Any:
    """A server that answers the first seed line at once and holds every other request.

    Held requests wait until the test ends (at most 30 s): a batch that stops early must
    cancel them, not wait for their answers.
    """
    release = threading.Event()

    def responder(request: dict[str, Any]) -> dict[str, Any]:
        if document_of(request).strip() != seed_lines[0].strip():
            release.wait(30)
        return floor_responder(request)

    with FakeOpenAIServer(responder) as srv:
        yield srv
        release.set()


def _counted(seed_lines: list[str], pulled: list[int]) -> Any:
    """The seed lines as ``(id, text)`` pairs, noting each one the batch takes."""
    for i, line in enumerate(seed_lines):
        pulled.append(i)
        yield (f"d{i}", line)


async def test_async_generator_yields_one_outcome_per_document(server: FakeOpenAIServer, seed_lines: list[str]) -> None:
    extractor = _extractor(server)
    seen = [o async for o in aextract_many([(str(i), t) for i, t in enumerate(seed_lines[:6])], extractor=extractor)]
    assert sorted(o.id for o in seen) == [str(i) for i in range(6)]


async def test_closing_the_async_generator_cancels_what_is_in_flight(
    held_server: FakeOpenAIServer, seed_lines: list[str]
) -> None:
    pulled: list[int] = []

    async def docs() -> Any:  # an async source, consumed lazily
        for item in _counted(seed_lines, pulled):
            yield item

    stream = aextract_many(docs(), extractor=_extractor(held_server), concurrency=2)
    first = await stream.__anext__()
    started = time.monotonic()
    await stream.aclose()  # cancels what is in flight
    others = lambda: [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]  # noqa: E731
    while others() and time.monotonic() - started < 10:
        await asyncio.sleep(0.05)
    assert not others(), others()  # the held request was cancelled, not left running until answered
    assert first.ok and first.id == "d0"
    assert pulled == [0, 1]  # no more documents taken than the concurrency
    assert held_server.completions <= 2


def test_breaking_out_of_the_sync_generator_stops_the_batch(held_server: FakeOpenAIServer, seed_lines: list[str]) -> None:
    pulled: list[int] = []
    started = time.monotonic()
    for outcome in extract_many(_counted(seed_lines, pulled), extractor=_extractor(held_server), concurrency=2):
        break
    assert time.monotonic() - started < 10  # the held request was cancelled, not awaited
    assert outcome.ok and outcome.id == "d0"
    assert pulled == [0, 1]  # no more documents taken than the concurrency
    assert held_server.completions <= 2


def test_extractor_and_options_are_exclusive(server: FakeOpenAIServer) -> None:
    with pytest.raises(TypeError):
        list(extract_many(["x"], extractor=_extractor(server), model="other"))
    with pytest.raises(ValueError):
        list(extract_many(["x"], extractor=_extractor(server), concurrency=0))


def test_batch_options_build_an_extractor_with_a_cache(server: FakeOpenAIServer, tmp_path: Path) -> None:
    options = {"base_url": server.url, "model": "m", "retry": FAST, "cache": tmp_path / "c.sqlite3"}
    first = list(extract_many(GOOD, **options))
    calls = server.completions
    second = list(extract_many(GOOD, **options))
    assert server.completions == calls  # all from the cache
    assert all(o.ok and o.result.metadata.cached for o in second)
    assert not any(o.result.metadata.cached for o in first)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_token_bucket_waits_for_refill_and_takes_corrections() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep)  # one token per second, burst 60
    for _ in range(60):
        await bucket.acquire()
    assert clock.slept == []
    await bucket.acquire()
    assert clock.slept == [pytest.approx(1.0)]
    bucket.adjust(-10)  # a refund
    assert bucket.available == pytest.approx(10)
    await bucket.acquire(100)  # more than the capacity: waits for a full bucket, then owes
    assert clock.slept[-1] == pytest.approx(50.0) and bucket.available == pytest.approx(-40)


async def test_rate_gate_reserves_an_estimate_and_settles_on_usage() -> None:
    gate = RateGate(requests_per_minute=120, tokens_per_minute=10_000)
    request = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 400}
    assert estimate_tokens(request) == 206  # 100 content + 3 message + 3 reply + 100 of max_tokens
    reserved = await gate.admit(request)
    assert reserved == 206
    assert gate.tokens is not None and gate.tokens.available == pytest.approx(9_794, abs=5)
    gate.settle(reserved, used=50)  # the call used fewer tokens than estimated
    assert gate.tokens.available == pytest.approx(9_950, abs=5)
    assert gate.requests is not None and gate.requests.available == pytest.approx(119, abs=0.1)


def test_rate_limits_see_every_model_call(
    server: FakeOpenAIServer, seed_lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    admitted: list[int] = []
    original = RateGate.admit

    async def counting(self: RateGate, request: dict[str, Any]) -> float:
        admitted.append(estimate_tokens(request))
        return await original(self, request)

    monkeypatch.setattr(RateGate, "admit", counting)
    docs = seed_lines[:5]
    limits = {"requests_per_minute": 10_000, "tokens_per_minute": 10**7}
    outcomes = list(extract_many(docs, extractor=_extractor(server), **limits))
    assert all(o.ok for o in outcomes)
    assert len(admitted) == server.completions == len(docs)


def test_outcome_record_shapes() -> None:
    failed = Outcome.failure("d1", "ProviderError", "Bearer sk-abcdefghijkl refused", "f.txt")
    assert failed.to_record() == {
        "id": "d1",
        "source": "f.txt",
        "error": {"type": "ProviderError", "message": "Bearer *** refused"},
    }


def test_sync_generator_inside_a_running_loop_is_refused(server: FakeOpenAIServer) -> None:
    async def inside() -> None:
        with pytest.raises(RuntimeError):
            next(iter(extract_many(GOOD, extractor=_extractor(server))))

    asyncio.run(inside())


@pytest.fixture
def python_sigint() -> Any:
    """Python's own SIGINT handler, even if this run inherited SIGINT ignored (background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_between_outcomes_is_never_lost_even_if_swallowed(server: FakeOpenAIServer, seed_lines: list[str]) -> None:
    """A KeyboardInterrupt caught by the caller (or lost in a finalizer) still stops the batch."""
    outcomes = extract_many(seed_lines[:6], base_url=server.url, model="m", concurrency=1)
    first = next(outcomes)
    assert first.ok
    try:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C in the caller's loop body ...
    except KeyboardInterrupt:
        pass  # ... swallowed
    with pytest.raises(KeyboardInterrupt):
        next(outcomes)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_while_waiting_for_the_model_stops_promptly(seed_lines: list[str]) -> None:
    with FakeOpenAIServer(latency=3.0) as slow:
        outcomes = extract_many(seed_lines[:4], base_url=slow.url, model="m", concurrency=2)
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        started = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            next(outcomes)
        assert time.monotonic() - started < 2.5  # the in-flight calls were cancelled, not awaited
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
