"""Cost: token counts, prices, the dry run, cached tokens and a cache-friendly prompt order."""

from __future__ import annotations

import json
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import instructor
import pytest
from typer.testing import CliRunner

from pactx import Extractor, TokenUsage
from pactx.batch import Outcome, estimate_tokens, extract_many
from pactx.choices import ChoiceScores
from pactx.cli import app
from pactx.dryrun import DryRun, DryRunTotals
from pactx.evals.fixtures import Case
from pactx.evals.predictions import Prediction
from pactx.evals.reports import html_report, markdown
from pactx.evals.runner import evaluate
from pactx.pricing import BUILTIN_PRICES, LOCAL_PRICE, PRICES_AS_OF, Price, format_cost, parse_price, price_for
from pactx.prompts import OPEN_FENCE, load_prompt
from pactx.providers import MODES
from pactx.schema import ExtractionResult, RunMetadata
from pactx.testserver import FakeOpenAIServer, floor_responder
from pactx.tokens import ESTIMATE, MESSAGE_TOKENS, REPLY_TOKENS, counter_for_model, request_tokens, tiktoken_counter

from helpers import SAHEL

runner = CliRunner()
MALI = "Mali and Niger signed a mutual defense pact on 16 September 2023 in Bamako."


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACTX_CACHE_DIR", str(tmp_path / "cache"))


# -- prices ------------------------------------------------------------------------------------


def test_price_parses_and_names_what_is_wrong() -> None:
    assert parse_price("in=0.15,out=0.6") == Price(0.15, 0.6)
    assert parse_price(" input=1 , output=2, cached=0.5 ") == Price(1.0, 2.0, 0.5)
    for bad, says in [
        ("in=0.15", "out= missing"),
        ("out=1", "in= missing"),
        ("in=abc,out=1", "'abc' is not a number"),
        ("in=-1,out=1", "non-negative"),
        ("in=1,out=1,tip=5", "'tip=5'"),
        ("0.15,0.6", "'0.15'"),
        ("in=nan,out=1", "non-negative"),
    ]:
        with pytest.raises(ValueError, match=says) as info:
            parse_price(bad)
        assert repr(bad) in str(info.value)  # the message names the input


def test_cost_bills_cached_prompt_tokens_at_their_rate() -> None:
    usage = TokenUsage(prompt_tokens=1_000_000, completion_tokens=200_000, total_tokens=1_200_000, cached_tokens=600_000)
    assert Price(1.0, 10.0, 0.1).cost(usage) == pytest.approx(0.4 + 0.06 + 2.0)
    assert Price(1.0, 10.0).cost(usage) == pytest.approx(1.0 + 2.0)  # no cached rate: input rate
    assert LOCAL_PRICE.cost(usage) == 0.0


def test_builtin_prices_are_dated_and_found_by_model_name() -> None:
    assert PRICES_AS_OF and all(PRICES_AS_OF in p.source for p in BUILTIN_PRICES.values())
    mini = BUILTIN_PRICES["gpt-4o-mini"]
    assert price_for("gpt-4o-mini") is mini
    assert price_for("gpt-4o-mini-2024-07-18") is mini  # a dated snapshot
    assert price_for("openai/GPT-4o-mini") is mini  # a router's name
    assert price_for("gpt-4o") is BUILTIN_PRICES["gpt-4o"]  # not the mini's price by prefix
    assert price_for("qwen2.5:7b") is None and price_for(None) is None
    assert price_for("smollm2-135m", "llama-cpp") is LOCAL_PRICE


def test_format_cost_keeps_small_amounts_visible() -> None:
    assert format_cost(0.000042) == "$0.000042"
    assert format_cost(0.0123) == "$0.0123"
    assert format_cost(1234.5) == "$1,234.50"


# -- token counts ------------------------------------------------------------------------------


def test_request_tokens_count_messages_and_the_schema_fields() -> None:
    request = {
        "messages": [{"role": "system", "content": "x" * 40}, {"role": "user", "content": "y" * 8}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    }
    tools = ESTIMATE.count(json.dumps(request["tools"]))
    base = REPLY_TOKENS + 2 * MESSAGE_TOKENS + 10 + 2
    assert request_tokens(request) == base + tools
    assert request_tokens(request, schema=False) == base
    reask = {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": "z" * 400}}]}]}
    assert request_tokens(reask) > 100  # an earlier answer sent back is prompt too
    assert estimate_tokens({**request, "max_tokens": 400}) == base + tools + 100  # the rate limits' reservation


def test_tiktoken_is_used_when_it_knows_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    class Encoding:
        name = "o200k_base"

        def encode(self, text: str, disallowed_special: Any = ()) -> list[int]:
            return list(range(len(text.split())))

    def encoding_for_model(model: str) -> Encoding:
        if model == "offline-model":
            raise ConnectionError("cannot download the encoding")
        if not model.startswith("gpt-"):
            raise KeyError(model)
        return Encoding()

    monkeypatch.setitem(sys.modules, "tiktoken", types.SimpleNamespace(encoding_for_model=encoding_for_model))
    tiktoken_counter.cache_clear()
    try:
        counter = counter_for_model("gpt-4o-mini")
        assert counter.exact and counter.method == "tiktoken o200k_base" and counter.count("three word text") == 3
        assert counter_for_model("qwen2.5:7b") is ESTIMATE
        assert counter_for_model("offline-model") is ESTIMATE
    finally:
        tiktoken_counter.cache_clear()
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # not installed
    assert counter_for_model("gpt-4o") is ESTIMATE
    tiktoken_counter.cache_clear()


# -- cached tokens in results --------------------------------------------------------------------


class CachingServer(FakeOpenAIServer):
    """Reports 100 prompt tokens served from its prompt cache; the first answer fails validation."""

    def __init__(self, **kwargs: Any) -> None:
        self.answers = 0
        super().__init__(responder=self._answer, **kwargs)

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        self.answers += 1
        if self.answers == 1:
            return {"agreements": [{"evidence": [{"quote": "not in the text at all"}], "parties": []}]}
        return floor_responder(request)

    def completion(self, request: dict[str, Any]) -> dict[str, Any]:
        body = super().completion(request)
        body["usage"]["prompt_tokens_details"] = {"cached_tokens": 100}
        return body


def test_results_carry_cached_tokens_summed_over_reasks() -> None:
    with CachingServer(usage=(300, 50)) as server:
        extractor = Extractor(base_url=server.url, model="m", mode="json_schema")
        result = extractor.extract(SAHEL)
    assert result.metadata.attempts == 2 == server.completions
    usage = result.metadata.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (600, 100, 200)


def test_a_failed_document_reports_what_its_attempts_cost() -> None:
    bad = {"agreements": [{"evidence": [{"quote": "never in the text"}], "parties": []}]}
    with FakeOpenAIServer(lambda request: bad, usage=(200, 20)) as server:
        extractor = Extractor(base_url=server.url, model="m", max_reasks=1)
        (outcome,) = list(extract_many([SAHEL], extractor=extractor))
    assert not outcome.ok and outcome.error is not None and outcome.error.usage is not None
    assert outcome.error.usage.prompt_tokens == 400  # two attempts
    assert outcome.to_record()["error"]["usage"]["completion_tokens"] == 40
    assert "usage" not in Outcome.failure("d", "InputError", "empty").to_record()["error"]


# -- the prompt order ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_two_documents_share_every_byte_before_the_document(mode: str) -> None:
    """System prompt, examples and schema come first and are identical, so provider prompt caches apply."""
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m", mode=mode)
        extractor.extract(SAHEL)
        extractor.extract(MALI)
        first, second = server.requests
    assert first["messages"][0]["role"] == "system"
    for key in ("tools", "tool_choice", "response_format"):
        assert json.dumps(first.get(key)) == json.dumps(second.get(key))

    def split(request: dict[str, Any]) -> tuple[str, str, str]:
        messages = request["messages"]
        (index,) = [i for i, m in enumerate(messages) if OPEN_FENCE in (m.get("content") or "")]
        content = messages[index]["content"]
        start = content.index(OPEN_FENCE) + len(OPEN_FENCE)
        end = content.rindex("\n</document>")
        before = json.dumps(messages[:index], ensure_ascii=False) + content[:start]
        return before, content[start:end], content[end:] + json.dumps(messages[index + 1 :])

    (head1, doc1, tail1), (head2, doc2, tail2) = split(first), split(second)
    assert head1 == head2 and len(head1) > 1000  # the static part, byte for byte
    assert (doc1, doc2) == (SAHEL, MALI)
    assert tail1 == tail2 and len(tail1) < 200  # only a short fixed instruction follows the document
    if mode in ("json", "md_json"):
        assert "GroundedAgreement" in head1 and "$defs" in head1  # the schema is in the static part


def test_the_wire_request_is_what_the_server_receives() -> None:
    with FakeOpenAIServer() as server:
        for mode in MODES:
            extractor = Extractor(base_url=server.url, model="m", mode=mode)
            extractor.extract(SAHEL)
            sent = server.requests[-1]
            built = json.loads(json.dumps(extractor.wire_request(SAHEL)))
            assert built == {k: v for k, v in sent.items() if k in built}, mode
            assert set(sent) - set(built) <= {"stream"}, mode
        assert server.completions == len(MODES)  # wire_request itself calls nothing


# -- the dry run --------------------------------------------------------------------------------


class RefusingServer:
    """An HTTP server on loopback that answers every request with a 500 and counts them."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _refuse(self) -> None:
                owner.hits.append(f"{self.command} {self.path}")
                body = b'{"error": {"message": "no requests allowed"}}'
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _refuse

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> RefusingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def refusing() -> Iterator[RefusingServer]:
    with RefusingServer() as server:
        yield server


def _seeds(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "seeds.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_dry_run_on_the_seeds_prints_tokens_and_cost_and_calls_nothing(
    refusing: RefusingServer, seed_lines: list[str], tmp_path: Path
) -> None:
    seeds = _seeds(tmp_path, seed_lines)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["extract", str(seeds), "--lines", "--dry-run", "--base-url", refusing.url,
              "--model", "gpt-4o-mini", "--mode", "json", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert refusing.hits == []  # not one request, not even to list the models
    assert not out.exists()  # nothing written
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["id"] for r in rows] == [f"seeds:{i}" for i in range(1, len(seed_lines) + 1)]
    assert all(r["requests"] == 1 and r["completion_tokens_max"] == 1024 for r in rows)
    prompt = sum(r["prompt_tokens"] for r in rows)
    assert all(r["prompt_tokens"] > 2500 for r in rows)  # json mode: the schema is in the prompt
    assert rows[0]["cacheable_prompt_tokens"] == 0 and rows[1]["cacheable_prompt_tokens"] > 2000
    mini = BUILTIN_PRICES["gpt-4o-mini"]
    worst = (prompt * mini.input + sum(r["completion_tokens_max"] for r in rows) * mini.output) / 1e6
    assert f"at most {format_cost(worst)}" in result.stderr
    assert f"{prompt:,}" in result.stderr and "estimate (characters / 4)" in result.stderr


def test_dry_run_with_an_endpoint_needs_a_model_and_still_asks_nothing(
    refusing: RefusingServer, tmp_path: Path
) -> None:
    seeds = _seeds(tmp_path, [MALI])
    result = runner.invoke(app, ["extract", str(seeds), "--dry-run", "--base-url", refusing.url])
    assert result.exit_code == 2 and "--model" in result.stderr
    assert refusing.hits == []


def test_dry_run_prices_with_the_given_price_and_reports_unreadable_inputs(
    refusing: RefusingServer, tmp_path: Path
) -> None:
    seeds = _seeds(tmp_path, [MALI, SAHEL])
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n", encoding="utf-8")
    args = ["extract", str(seeds), str(empty), "--lines", "--dry-run", "--base-url", refusing.url, "--model", "local-qwen"]
    unknown = runner.invoke(app, args)
    assert unknown.exit_code == 1  # the empty file
    assert "empty.txt" in unknown.stderr and "unknown: no built-in price for local-qwen" in unknown.stderr
    priced = runner.invoke(app, [*args, "--price", "in=1,out=2,cached=0.5"])
    assert "in $1, out $2, cached $0.5 per 1M tokens" in priced.stderr
    assert runner.invoke(app, [*args, "--price", "in=1"]).exit_code == 2
    assert refusing.hits == []


def test_dry_run_prompt_tokens_are_those_of_the_real_request() -> None:
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m", mode="tools")
        dry = DryRun(extractor)
        first, second = dry.estimate("a", SAHEL), dry.estimate("b", MALI)
        assert server.completions == 0
        extractor.extract(SAHEL)
        sent = server.requests[0]
    assert first.prompt_tokens == request_tokens(sent) and first.requests == 1
    assert first.cacheable_tokens == 0 < second.cacheable_tokens < second.prompt_tokens
    assert second.prompt_tokens - second.cacheable_tokens < 150  # what differs: the document and the closing
    totals = DryRunTotals()
    totals.add(first), totals.add(second)
    worst, cached = totals.cost(Price(1.0, 1.0, 0.0))
    assert worst - cached == pytest.approx(second.cacheable_tokens / 1e6)


def test_dry_run_counts_a_document_in_the_cache_as_free(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        extractor = Extractor(base_url=server.url, model="m", cache=tmp_path / "c.sqlite3")
        extractor.extract(SAHEL)
        estimate = DryRun(extractor).estimate("a", SAHEL)
    assert estimate.cached and estimate.prompt_tokens == 0 and estimate.requests == 0


class YesScorer:
    """A choice-scoring backend that always prefers the first option; tokens are words."""

    provider, model, mode, default_strategy = "scripted", "scripted", instructor.Mode.JSON_SCHEMA, "staged"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generation_params(self) -> dict[str, Any]:
        return {"temperature": 0.0, "max_tokens": 256}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def choice_logprobs(self, prompt: str, options: Sequence[Sequence[str]]) -> ChoiceScores:
        self.prompts.append(prompt)
        return ChoiceScores([0.0] + [-5.0] * (len(options) - 1), len(prompt.split()) + 1, 0, len(options))


def test_staged_dry_run_asks_the_most_questions_the_real_run_can() -> None:
    text = SAHEL + " Niger and Chad agreed to negotiate a security partnership."
    backend = YesScorer()
    extractor = Extractor(backend=backend, strategy="staged", prompt=load_prompt("staged_v1"))
    estimate = DryRun(extractor).estimate("a", text)
    assert backend.prompts == []  # the dry run asked the model nothing
    real = extractor.extract(text)
    assert estimate.requests == real.metadata.attempts == len(backend.prompts) > 4
    assert estimate.prompt_tokens == real.metadata.usage.prompt_tokens  # same prompts, same tokenizer
    assert 0 < estimate.cacheable_tokens < estimate.prompt_tokens  # each question extends the last


# -- the run summary and the eval report ------------------------------------------------------


def test_extract_summary_gives_tokens_and_cost(tmp_path: Path) -> None:
    seeds = _seeds(tmp_path, [SAHEL, MALI])
    with FakeOpenAIServer(usage=(1000, 100)) as server:
        args = ["extract", str(seeds), "--lines", "--base-url", server.url, "--model", "gpt-4o-mini",
                "-o", str(tmp_path / "out.jsonl")]
        result = runner.invoke(app, [*args, "--price", "in=2,out=10"])
        again = runner.invoke(app, args)  # from the cache: free
    assert result.exit_code == 0, result.output
    assert "2,000 prompt, 200 completion" in result.stderr
    assert "$0.006000 at in $2, out $10 per 1M tokens (--price)" in result.stderr
    assert "0 prompt, 0 completion" in again.stderr and "OpenAI list price as of" in again.stderr


def _result(doc_id: str, prompt: int, cached: int, completion: int) -> ExtractionResult:
    usage = TokenUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion, cached_tokens=cached)
    meta = RunMetadata(source_id=doc_id, model="gpt-4o-mini", provider="openai-compatible", prompt_version="v",
                       prompt_hash="p", schema_hash="s", pactx_version="0", usage=usage)
    return ExtractionResult(agreements=[], metadata=meta)


def test_eval_report_gives_tokens_per_document_and_the_cost() -> None:
    cases = [Case(id="a", text=SAHEL, gold=[], split="dev"), Case(id="b", text=MALI, gold=[], split="dev")]
    predictions = {"a": Prediction.from_result(_result("a", 3000, 2000, 100)),
                   "b": Prediction.from_result(_result("b", 1000, 0, 50))}
    report, _ = evaluate(cases, predictions, bootstrap=10)
    assert report["tokens_by_document"]["a"] == {"prompt_tokens": 3000, "completion_tokens": 100, "cached_tokens": 2000}
    assert report["run"]["tokens"]["cached_tokens"] == 2000
    mini = BUILTIN_PRICES["gpt-4o-mini"]
    expected = (2000 * mini.input + 2000 * mini.cached + 150 * mini.output) / 1e6  # type: ignore[operator]
    assert report["run"]["cost"]["usd"] == pytest.approx(expected, abs=1e-6)
    given, _ = evaluate(cases, predictions, bootstrap=10, price=Price(1, 1))
    assert given["run"]["cost"]["usd"] == pytest.approx(4150 / 1e6)
    assert "$0.004150 at in $1, out $1 per 1M tokens (--price)" in markdown(given)
    page = html_report(report, cases, predictions)
    assert "3,000 prompt (2,000 cached), 100 completion" in page
    local = [Prediction.from_result(_result(k, 10, 0, 1)) for k in "ab"]
    for p in local:
        p.metadata.provider = "llama-cpp"  # type: ignore[union-attr]
    free, _ = evaluate(cases, dict(zip("ab", local)), bootstrap=10)
    assert free["run"]["cost"]["usd"] == 0 and "$0 (local model, no per-token price)" in markdown(free)
    unpriced = {k: Prediction.from_result(_result(k, 10, 0, 1).model_copy(
        update={"metadata": _result(k, 10, 0, 1).metadata.model_copy(update={"model": "mystery"})})) for k in "ab"}
    assert evaluate(cases, unpriced, bootstrap=10)[0]["run"]["cost"] is None
