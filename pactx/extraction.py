"""Extraction: one document in, one validated, grounded :class:`ExtractionResult` out.

The :class:`Extractor` holds configuration (backend, prompt, re-ask policy, result cache,
chunking) for repeated use; :func:`extract` and :func:`aextract` are conveniences over a
cached default extractor. Validation re-asks go through instructor (``max_reasks``);
transport retries live in the HTTP transport (see :mod:`pactx.transport`). Both are counted
in the result's metadata. A text longer than the model's budget is extracted chunk by chunk
and the results merged (see :mod:`pactx.chunking`); with a cache (:mod:`pactx.cache`) a text
seen before is answered from disk with no model call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import instructor
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from openai.types.chat import ChatCompletion

from pactx._version import __version__
from pactx.cache import ResultCache, cache_key
from pactx.chunking import DEFAULT_MAX_CHUNK_CHARS, Chunk, Measure, merge_results, split_text
from pactx.documents import text_problem
from pactx.fingerprint import code_fingerprint
from pactx.errors import (
    ConfigurationError,
    ExtractionError,
    ExtractionValidationError,
    InputError,
    InternalError,
    PactxError,
    ProviderError,
)
from pactx.instructor_compat import prepared_response_model, skip_repeated_async_validator_walk
from pactx.prompts import DEFAULT_PROMPT, Prompt, load_prompt
from pactx.providers import Backend, OpenAIBackend, ProviderConfig, make_backend
from pactx.redaction import redact
from pactx.schema import ExtractionResult, RunMetadata, SecurityAgreement, TokenUsage
from pactx.staged import DEFAULT_STAGED_PROMPT, STRATEGIES, run_staged
from pactx.transport import retry_counter
from pactx.validation import GroundedAgreementList, to_plain, validation_context

__all__ = [
    "Extractor",
    "extract",
    "aextract",
    "schema_hash",
    "check_text",
    "CallGate",
    "use_call_gate",
    "DEFAULT_MAX_CHUNK_CHARS",
    "STRATEGIES",
    "filter_confidence",
    "resolve_strategy",
    "default_prompt",
]

RESPONSE_MODEL = prepared_response_model(GroundedAgreementList)
"""The response model sent to instructor (see :mod:`pactx.instructor_compat`)."""
skip_repeated_async_validator_walk(RESPONSE_MODEL)


class _DataContext(dict[str, Any]):
    """The validation context, reporting itself false so instructor does not template the messages.

    Given a truthy ``context``, instructor renders every message as a Jinja template with it:
    a document holding ``{{ source.text }}`` would be expanded and one holding ``{%`` would
    fail. Documents are data; instructor still passes this dict to validation unchanged.
    """

    def __bool__(self) -> bool:
        return False


def _empty_answer(request: dict[str, Any]) -> ChatCompletion:
    """A completion answering ``request`` with no agreement, as a tool call when it offers tools."""
    empty = json.dumps({"agreements": []})
    message: dict[str, Any] = {"role": "assistant", "content": empty}
    tools = request.get("tools") or []
    if tools:
        call = {"name": tools[0]["function"]["name"], "arguments": empty}
        message = {"role": "assistant", "content": None, "tool_calls": [{"id": "0", "type": "function", "function": call}]}
    return ChatCompletion.model_validate(
        {"id": "wire", "object": "chat.completion", "created": 0, "model": "none",
         "choices": [{"index": 0, "finish_reason": "stop", "message": message}]}
    )


_TOKEN_MARGIN = 64  # chat-template tokens around the prompt
_MIN_TOKEN_BUDGET = 256


@lru_cache(maxsize=1)
def schema_hash() -> str:
    """SHA-256 of the JSON schema the model is asked to fill."""
    schema = json.dumps(GroundedAgreementList.model_json_schema(), sort_keys=True)
    return hashlib.sha256(schema.encode("utf-8")).hexdigest()


def check_text(text: object, source_id: str | None = None) -> str:
    """Return ``text`` if it is a document pactx can read, else raise :class:`InputError`.

    Empty or white-space-only text, NUL bytes (binary data), lone surrogates (text that was
    not Unicode) and texts over :data:`pactx.documents.MAX_DOCUMENT_CHARS` are refused.
    """
    problem = text_problem(text)
    if problem is not None:
        raise InputError(problem, source_id=source_id)
    assert isinstance(text, str)
    return text


class CallGate(Protocol):
    """Admits each model call of the current context (rate limits) and learns what it cost."""

    async def admit(self, request: dict[str, Any]) -> float:
        """Wait until the call may go; return the tokens reserved for it."""
        ...

    def settle(self, reserved: float, used: int | None) -> None:
        """Correct a reservation with the tokens the call really used (``None``: unknown)."""
        ...


_CALL_GATE: ContextVar[CallGate | None] = ContextVar("pactx_call_gate", default=None)


def use_call_gate(gate: CallGate | None) -> None:
    """Route every asynchronous model call of the current context (task) through ``gate``."""
    _CALL_GATE.set(gate)


@dataclass
class _CallLog:
    """What the model calls of one extraction cost and returned."""

    calls: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    last_output: str | None = None

    def record(self, completion: ChatCompletion) -> None:
        self.calls += 1
        if completion.usage is not None:
            details = completion.usage.prompt_tokens_details  # the server's prompt-cache hits, if it says
            self.usage = self.usage.add(
                TokenUsage(
                    prompt_tokens=completion.usage.prompt_tokens or 0,
                    completion_tokens=completion.usage.completion_tokens or 0,
                    total_tokens=completion.usage.total_tokens or 0,
                    cached_tokens=(details.cached_tokens or 0) if details is not None else 0,
                )
            )
        if completion.choices:
            message = completion.choices[0].message
            if message.tool_calls:
                self.last_output = message.tool_calls[0].function.arguments  # type: ignore[union-attr]
            else:
                self.last_output = message.content


_CALL_LOG: ContextVar[_CallLog | None] = ContextVar("pactx_call_log", default=None)


class Extractor:
    """Extracts security agreements from text with one configured model and prompt.

    >>> extractor = Extractor()                      # embedded model, no key needed
    >>> extractor = Extractor(base_url="http://localhost:8000/v1", model="qwen2.5-7b")
    >>> result = extractor.extract("Mali, Niger and Burkina Faso signed a pact ...")

    ``strategy`` is ``direct`` (the model fills the whole schema; suits capable endpoints) or
    ``staged`` (pactx proposes candidates and the model chooses among them; needs a backend
    that scores choices, such as the embedded model). Unset, ``PACTX_STRATEGY`` decides, else
    the backend's default (each embedded model's best by eval score). ``min_confidence`` drops
    records whose confidence is below it (see :func:`filter_confidence`).

    ``cache`` keeps results on disk: ``True`` for the default location, a path, or a
    :class:`~pactx.cache.ResultCache`. A text over the budget (``max_chunk_chars`` for an
    endpoint; the context window ``n_ctx`` in tokens for the embedded model) is split into
    chunks overlapping by ``chunk_overlap`` of the budget, and their results merged.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        mode: str | None = None,
        prompt: str | Prompt | None = None,
        strategy: str | None = None,
        min_confidence: float | None = None,
        max_reasks: int = 2,
        config: ProviderConfig | None = None,
        backend: Backend | None = None,
        cache: ResultCache | str | Path | bool | None = None,
        max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
        chunk_overlap: float = 0.1,
        **config_options: Any,
    ) -> None:
        if backend is None:
            config = config or ProviderConfig.from_env(
                base_url=base_url, model=model, api_key=api_key, mode=mode, **config_options
            )
            backend = make_backend(config)
        if max_chunk_chars < 200 or not 0 <= chunk_overlap < 0.5:
            raise ValueError("max_chunk_chars must be at least 200 and chunk_overlap in [0, 0.5)")
        self.backend = backend
        self.strategy = _strategy(strategy, backend)
        if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be in [0, 1]")
        self.min_confidence = min_confidence
        if prompt is None:
            prompt = default_prompt(self.strategy)
        self.prompt = prompt if isinstance(prompt, Prompt) else load_prompt(prompt)
        self.max_reasks = max_reasks
        self.cache = _open_cache(cache)
        self.max_chunk_chars = max_chunk_chars
        self.chunk_overlap = chunk_overlap
        self._token_budget: int | None = None
        self._create = instructor.patch(create=self._complete, mode=backend.mode)
        self._acreate = instructor.patch(create=self._acomplete, mode=backend.mode)

    def __repr__(self) -> str:
        return (
            f"Extractor(provider={self.backend.provider!r}, model={self.backend.model!r}, "
            f"strategy={self.strategy!r}, prompt={self.prompt.version!r})"
        )

    # -- model calls ----------------------------------------------------------------------

    def _complete(self, **kwargs: Any) -> ChatCompletion:
        completion = self.backend.complete(**kwargs)
        log = _CALL_LOG.get()
        if log is not None:
            log.record(completion)
        return completion

    async def _acomplete(self, **kwargs: Any) -> ChatCompletion:
        gate = _CALL_GATE.get()
        reserved = await gate.admit(kwargs) if gate is not None else 0.0
        completion = await self.backend.acomplete(**kwargs)
        if gate is not None:
            gate.settle(reserved, completion.usage.total_tokens if completion.usage else None)
        log = _CALL_LOG.get()
        if log is not None:
            log.record(completion)
        return completion

    def _request(self, text: str) -> dict[str, Any]:
        params = self.backend.generation_params()
        return {
            "response_model": RESPONSE_MODEL,
            "messages": self.prompt.messages(text),
            "context": _DataContext(validation_context(text)),
            "max_retries": self.max_reasks,
            "model": self.backend.model,
            "temperature": params["temperature"],
            "max_tokens": params["max_tokens"],
            "seed": params["seed"],
        }

    def wire_request(self, text: str) -> dict[str, Any]:
        """The chat request the backend would receive for ``text`` on the first try (direct strategy).

        It is built by the same instructor code as a real call, so it holds what the mode adds
        (tools, response format, or the schema in the system message), shaped for the server
        family as the backend sends it; no model is called (instructor is handed an empty answer).
        """
        captured: dict[str, Any] = {}

        def capture(**kwargs: Any) -> ChatCompletion:
            captured.update(kwargs)
            return _empty_answer(kwargs)

        instructor.patch(create=capture, mode=self.backend.mode)(**self._request(text))
        shaped = getattr(self.backend, "shaped", None)  # the server family's own request shape
        return shaped(captured) if shaped is not None else captured

    # -- public entry points --------------------------------------------------------------

    def extract(self, text: str, *, source_id: str | None = None) -> ExtractionResult:
        """Extract the agreements reported in one document."""
        check_text(text, source_id)
        key, hit = self._lookup(text, source_id)
        if hit is not None:
            return self._filtered(hit)
        started = time.perf_counter()
        chunks = self.split(text)
        results: list[ExtractionResult] = []
        for chunk in chunks:
            try:
                results.append(self._extract_once(chunk.text, source_id))
            except ExtractionError as exc:
                raise _with_prior_cost(exc, results) from exc.__cause__
        return self._filtered(self._finish(text, key, chunks, results, started))

    async def aextract(self, text: str, *, source_id: str | None = None) -> ExtractionResult:
        """Asynchronous :meth:`extract`."""
        check_text(text, source_id)
        key, hit = self._lookup(text, source_id)
        if hit is not None:
            return self._filtered(hit)
        started = time.perf_counter()
        chunks = await asyncio.to_thread(self.split, text) if self._counts_tokens() else self.split(text)
        results: list[ExtractionResult] = []
        for chunk in chunks:
            try:
                results.append(await self._aextract_once(chunk.text, source_id))
            except ExtractionError as exc:
                raise _with_prior_cost(exc, results) from exc.__cause__
        return self._filtered(self._finish(text, key, chunks, results, started))

    def _filtered(self, result: ExtractionResult) -> ExtractionResult:
        if self.min_confidence is None:
            return result
        return filter_confidence(result, self.min_confidence)

    def recipe(self) -> dict[str, Any] | None:
        """Keyword arguments that build an equivalent extractor in another process, or ``None``.

        ``None`` unless the backend is an endpoint rebuilt from its configuration alone: a
        backend given as an object, an endpoint with an injected transport and the embedded
        model (which runs one call at a time) stay in their process. The recipe holds the
        API key; it is handed to worker processes over a pipe and never written anywhere.
        """
        backend = self.backend
        if type(backend) is not OpenAIBackend or backend.injected_transport:
            return None
        return {
            # the family this process detected: a worker does not ask the server again (detection
            # is up to three round trips, paid by every worker of every batch otherwise)
            "config": dataclasses.replace(backend.config, model=backend.model, server=backend.server.family.name),
            "prompt": self.prompt,
            "strategy": self.strategy,
            "min_confidence": self.min_confidence,
            "max_reasks": self.max_reasks,
            "cache": self.cache.path if self.cache is not None else None,
            "max_chunk_chars": self.max_chunk_chars,
            "chunk_overlap": self.chunk_overlap,
        }

    def cached(self, text: str, *, source_id: str | None = None) -> ExtractionResult | None:
        """The cached result for ``text`` (``metadata.cached`` set), or ``None``; no model call."""
        return self._lookup(text, source_id)[1]

    def close(self) -> None:
        """Close the result cache and the backend's HTTP client, if any."""
        if self.cache is not None:
            self.cache.close()
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()

    async def aclose(self) -> None:
        """Close the backend's asynchronous HTTP client bound to the running event loop."""
        aclose = getattr(self.backend, "aclose", None)
        if callable(aclose):
            await aclose()

    # -- one call (one chunk) ---------------------------------------------------------------

    def _staged_once(self, text: str, source_id: str | None) -> ExtractionResult:
        """One chunk through the staged strategy: the backend scores pactx's candidate answers."""
        log = _CallLog()
        started = time.perf_counter()
        try:
            answer = run_staged(self.backend, self.prompt, text)  # type: ignore[arg-type]
        except Exception as exc:
            raise self._failure(exc, log, source_id) from exc
        log.calls, log.usage = answer.questions, answer.usage
        return ExtractionResult(
            agreements=answer.agreements,
            metadata=self._metadata(log, 0, started, source_id, answer.warnings),
        )

    def _extract_once(self, text: str, source_id: str | None) -> ExtractionResult:
        if self.strategy == "staged":
            return self._staged_once(text, source_id)
        request = self._request(text)
        log, counter = _CallLog(), retry_counter()
        token = _CALL_LOG.set(log)
        started = time.perf_counter()
        try:
            answer = self._create(**request)
            return self._result(answer, request, log, counter.count, started, source_id)
        except Exception as exc:
            failure = self._failure(exc, log, source_id)
            raise failure from failure.__cause__  # None but for an InternalError's original
        finally:
            _CALL_LOG.reset(token)

    async def _aextract_once(self, text: str, source_id: str | None) -> ExtractionResult:
        if self.strategy == "staged":
            return await asyncio.to_thread(self._staged_once, text, source_id)
        request = self._request(text)
        log, counter = _CallLog(), retry_counter()
        token = _CALL_LOG.set(log)
        started = time.perf_counter()
        try:
            answer = await self._acreate(**request)
            return self._result(answer, request, log, counter.count, started, source_id)
        except Exception as exc:
            failure = self._failure(exc, log, source_id)
            raise failure from failure.__cause__  # None but for an InternalError's original
        finally:
            _CALL_LOG.reset(token)

    # -- chunking -------------------------------------------------------------------------

    def split(self, text: str) -> list[Chunk]:
        """The chunks ``text`` is extracted in (one chunk when it fits the budget)."""
        budget, measure = self._budget()
        if len(text.encode("utf-8")) <= budget:  # a token is at least one byte
            return [Chunk(0, len(text), text)]
        return split_text(text, budget, overlap=int(budget * self.chunk_overlap), measure=measure)

    def _counts_tokens(self) -> bool:
        return callable(getattr(self.backend, "count_tokens", None)) and isinstance(
            getattr(getattr(self.backend, "config", None), "n_ctx", None), int
        )

    def _budget(self) -> tuple[int, Measure]:
        """Chunk budget and its measure: tokens for a local model with a context window, else chars.

        For the embedded model the budget is ``n_ctx`` less the prompt, room for the answer
        and one re-ask (twice ``max_tokens``) and a margin for the chat template.
        """
        if not self._counts_tokens():
            return self.max_chunk_chars, len
        count: Measure = self.backend.count_tokens  # type: ignore[attr-defined]
        if self._token_budget is None:
            n_ctx: int = self.backend.config.n_ctx  # type: ignore[attr-defined]
            prompt = count(self.prompt.system + self.prompt.user.replace("{text}", ""))
            answer = 2 * int(self.backend.generation_params()["max_tokens"])
            self._token_budget = max(n_ctx - prompt - answer - _TOKEN_MARGIN, _MIN_TOKEN_BUDGET)
        return self._token_budget, count

    # -- results and cache ----------------------------------------------------------------

    def _cache_key(self, text: str) -> str:
        params = {
            **self.backend.generation_params(),
            "mode": getattr(self.backend.mode, "value", str(self.backend.mode)),
            "max_chunk_chars": self.max_chunk_chars,
            "chunk_overlap": self.chunk_overlap,
            "pactx_version": __version__,
            "strategy": self.strategy,
            "strategy_code": self._constraints_hash() if self.strategy == "staged" else None,
        }
        return cache_key(
            model=self.backend.model,
            provider=self.backend.provider,
            prompt_hash=self.prompt.sha256,
            schema_hash=schema_hash(),
            params=params,
            text=text,
        )

    def _lookup(self, text: str, source_id: str | None) -> tuple[str | None, ExtractionResult | None]:
        """The cache key of ``text`` (``None`` without a cache) and the cached result, if any."""
        if self.cache is None:
            return None, None
        key = self._cache_key(text)
        hit = self.cache.get(key)
        if hit is None:
            return key, None
        metadata = hit.metadata.model_copy(update={"cached": True, "source_id": source_id})
        return key, hit.model_copy(update={"metadata": metadata})

    def _finish(
        self,
        text: str,
        key: str | None,
        chunks: Sequence[Chunk],
        results: Sequence[ExtractionResult],
        started: float,
    ) -> ExtractionResult:
        if len(results) == 1:
            result = results[0]
        else:
            result = merge_results(text, chunks, results)
            latency = round(time.perf_counter() - started, 4)
            result.metadata = result.metadata.model_copy(update={"latency_s": latency})
        if self.cache is not None and key is not None:
            self.cache.put(key, result)
        return result

    def _result(
        self,
        answer: GroundedAgreementList,
        request: dict[str, Any],
        log: _CallLog,
        transport_retries: int,
        started: float,
        source_id: str | None,
    ) -> ExtractionResult:
        agreements = [_without_confidence(a) for a in to_plain(answer)]  # the model cannot set them
        return ExtractionResult(
            agreements=agreements,
            metadata=self._metadata(
                log, transport_retries, started, source_id, request["context"]["warnings"]
            ),
        )

    def _constraints_hash(self) -> str | None:
        """What constrains the answers beyond prompt and schema (cue vocabulary, grammar or
        staged candidate code; see :func:`pactx.fingerprint.code_fingerprint`)."""
        if self.strategy == "staged":
            return code_fingerprint(run_staged, extra="strategy=staged")
        constraints = self.backend.generation_params().get("constraints")
        return str(constraints) if constraints is not None else None

    def _metadata(
        self,
        log: _CallLog,
        transport_retries: int,
        started: float,
        source_id: str | None,
        warnings: Sequence[str],
    ) -> RunMetadata:
        return RunMetadata(
            source_id=source_id,
            model=self.backend.model,
            provider=self.backend.provider,
            prompt_version=self.prompt.version,
            prompt_hash=self.prompt.sha256,
            schema_hash=schema_hash(),
            constraints_hash=self._constraints_hash(),
            pactx_version=__version__,
            usage=log.usage,
            latency_s=round(time.perf_counter() - started, 4),
            attempts=log.calls,
            transport_retries=transport_retries,
            strategy=self.strategy,
            warnings=list(warnings),
        )

    def _failure(self, exc: Exception, log: _CallLog, source_id: str | None) -> Exception:
        """The typed error for an exception out of instructor.

        Only an answer that never validated (instructor's re-asks exhausted on validation or
        parse errors) and an answer cut off at ``max_tokens`` are
        :class:`ExtractionValidationError`; endpoint failures are :class:`ProviderError`, and
        anything else is a bug: :class:`InternalError`, with the original as ``__cause__``.
        """
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, PactxError) and not isinstance(cause, ExtractionError):
                return cause  # configuration or replay errors pass through unchanged
            if isinstance(cause, ProviderError):
                return ProviderError(
                    str(cause),
                    source_id=source_id,
                    status_code=cause.status_code,
                    attempts=log.calls,
                    usage=log.usage,
                )
            cause = cause.__cause__ or cause.__context__
        failed = exc.failed_attempts if isinstance(exc, InstructorRetryException) else None
        if failed and exc.__cause__ is failed[-1].exception:  # the last answer failed validation
            errors = [redact(str(a.exception)) for a in failed]
            return ExtractionValidationError(
                f"no valid answer after {log.calls} attempt(s): {errors[-1] if errors else exc}",
                source_id=source_id,
                attempts=log.calls,
                usage=log.usage,
                last_output=log.last_output,
                errors=errors,
            )
        if isinstance(exc, IncompleteOutputException):
            return ExtractionValidationError(
                "the model's answer was cut off at max_tokens",
                source_id=source_id,
                attempts=log.calls,
                usage=log.usage,
                last_output=log.last_output,
                errors=["output truncated (finish_reason=length)"],
            )
        original = exc.__cause__ if isinstance(exc, InstructorRetryException) and exc.__cause__ else exc
        error = InternalError(
            f"a bug in pactx: {type(original).__name__}: {redact(str(original))}",
            source_id=source_id,
            attempts=log.calls,
            usage=log.usage,
        )
        error.__cause__ = original
        return error



def default_prompt(strategy: str) -> str:
    """The prompt a strategy uses unless another is given."""
    return DEFAULT_STAGED_PROMPT if strategy == "staged" else DEFAULT_PROMPT


def resolve_strategy(requested: str | None, default: str = "direct") -> str:
    """The strategy to use: ``requested``, else ``PACTX_STRATEGY``, else ``default`` (the backend's)."""
    chosen = requested or os.environ.get("PACTX_STRATEGY") or default
    if chosen not in STRATEGIES:
        raise ConfigurationError(f"unknown strategy {chosen!r}; choose one of {', '.join(STRATEGIES)}")
    return chosen


def _strategy(requested: str | None, backend: Backend) -> str:
    chosen = resolve_strategy(requested, getattr(backend, "default_strategy", "direct"))
    if chosen == "staged" and not callable(getattr(backend, "choice_logprobs", None)):
        raise ConfigurationError(
            f"strategy 'staged' needs a backend that scores choices (the embedded model); "
            f"the {backend.provider} backend for {backend.model!r} does not: use strategy 'direct'"
        )
    return chosen


def _without_confidence(agreement: SecurityAgreement) -> SecurityAgreement:
    """``agreement`` with any confidence the model wrote removed (only pactx sets confidence)."""
    agreement.confidence = None
    for party in agreement.parties:
        party.confidence = None
    return agreement


def filter_confidence(result: ExtractionResult, min_confidence: float) -> ExtractionResult:
    """``result`` without the agreements whose confidence is below ``min_confidence``.

    An agreement without a confidence (the ``direct`` strategy gives none) is kept, and a
    warning says the threshold could not apply to it. Parties below the threshold are kept:
    the threshold is about whether the record exists.
    """
    kept: list[SecurityAgreement] = []
    warnings = list(result.metadata.warnings)
    for agreement in result.agreements:
        if agreement.confidence is None:
            note = "min_confidence not applied: the strategy gives no confidence"
            if note not in warnings:
                warnings.append(note)
            kept.append(agreement)
        elif agreement.confidence.agreement >= min_confidence:
            kept.append(agreement)
    dropped = len(result.agreements) - len(kept)
    if dropped:
        warnings.append(f"{dropped} agreement(s) below min_confidence {min_confidence} dropped")
    metadata = result.metadata.model_copy(update={"warnings": warnings})
    return result.model_copy(update={"agreements": kept, "metadata": metadata})


def _open_cache(cache: ResultCache | str | Path | bool | None) -> ResultCache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return ResultCache()
    return cache if isinstance(cache, ResultCache) else ResultCache(cache)


def _with_prior_cost(exc: ExtractionError, done: Sequence[ExtractionResult]) -> ExtractionError:
    """``exc`` with the calls and tokens of the chunks extracted before it added in."""
    for result in done:
        exc.attempts += result.metadata.attempts
        exc.usage = exc.usage.add(result.metadata.usage)
    return exc


_DEFAULT_EXTRACTORS: dict[tuple[tuple[str, Any], ...], Extractor] = {}


def _default_extractor(options: dict[str, Any]) -> Extractor:
    key = tuple(sorted(options.items()))
    if key not in _DEFAULT_EXTRACTORS:
        _DEFAULT_EXTRACTORS[key] = Extractor(**options)
    return _DEFAULT_EXTRACTORS[key]


def extract(text: str, *, source_id: str | None = None, **options: Any) -> ExtractionResult:
    """Extract the agreements reported in ``text``.

    ``options`` are :class:`Extractor` arguments (``base_url``, ``model``, ``api_key``,
    ``mode``, ``prompt``, ``max_reasks``, ...). Extractors are cached per set of options, so
    repeated calls do not reload the embedded model.
    """
    return _default_extractor(options).extract(text, source_id=source_id)


async def aextract(text: str, *, source_id: str | None = None, **options: Any) -> ExtractionResult:
    """Asynchronous :func:`extract`."""
    return await _default_extractor(options).aextract(text, source_id=source_id)
