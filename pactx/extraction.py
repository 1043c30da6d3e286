"""Extraction: one document in, one validated, grounded :class:`ExtractionResult` out.

The :class:`Extractor` holds configuration (backend, prompt, re-ask policy) for repeated
use; :func:`extract` and :func:`aextract` are conveniences over a cached default extractor.
Validation re-asks go through instructor (``max_reasks``); transport retries live in the HTTP
transport (see :mod:`pactx.transport`). Both are counted in the result's metadata.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import instructor
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from openai.types.chat import ChatCompletion

from pactx._version import __version__
from pactx.errors import (
    ExtractionError,
    ExtractionValidationError,
    InputError,
    PactxError,
    ProviderError,
)
from pactx.prompts import DEFAULT_PROMPT, Prompt, load_prompt
from pactx.providers import Backend, ProviderConfig, make_backend
from pactx.redaction import redact
from pactx.schema import ExtractionResult, RunMetadata, TokenUsage
from pactx.transport import retry_counter
from pactx.validation import GroundedAgreementList, to_plain, validation_context

__all__ = ["Extractor", "extract", "aextract", "schema_hash", "check_text"]

RESPONSE_MODEL = GroundedAgreementList


@lru_cache(maxsize=1)
def schema_hash() -> str:
    """SHA-256 of the JSON schema the model is asked to fill."""
    schema = json.dumps(RESPONSE_MODEL.model_json_schema(), sort_keys=True)
    return hashlib.sha256(schema.encode("utf-8")).hexdigest()


def check_text(text: object, source_id: str | None = None) -> str:
    """Return ``text`` if it is a document pactx can read, else raise :class:`InputError`."""
    if not isinstance(text, str):
        raise InputError(f"expected text, got {type(text).__name__}", source_id=source_id)
    if not text.strip():
        raise InputError("the document is empty", source_id=source_id)
    if "\x00" in text:
        raise InputError("the document contains NUL bytes (binary data?)", source_id=source_id)
    return text


@dataclass
class _CallLog:
    """What the model calls of one extraction cost and returned."""

    calls: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    last_output: str | None = None

    def record(self, completion: ChatCompletion) -> None:
        self.calls += 1
        if completion.usage is not None:
            self.usage = self.usage.add(
                TokenUsage(
                    prompt_tokens=completion.usage.prompt_tokens or 0,
                    completion_tokens=completion.usage.completion_tokens or 0,
                    total_tokens=completion.usage.total_tokens or 0,
                )
            )
        if completion.choices:
            message = completion.choices[0].message
            if message.tool_calls:
                self.last_output = message.tool_calls[0].function.arguments  # type: ignore[union-attr]
            else:
                self.last_output = message.content


_CALL_LOG: ContextVar[_CallLog | None] = ContextVar("pactx_call_log", default=None)


class _DataContext(dict[str, Any]):
    """The validation context, reporting itself false so instructor does not template the messages.

    Given a truthy ``context``, instructor renders every message as a Jinja template with it:
    a document holding ``{{ source.text }}`` would be expanded and one holding ``{%`` would
    fail. Documents are data; instructor still passes this dict to validation unchanged.
    """

    def __bool__(self) -> bool:
        return False


class Extractor:
    """Extracts security agreements from text with one configured model and prompt.

    >>> extractor = Extractor()                      # embedded model, no key needed
    >>> extractor = Extractor(base_url="http://localhost:8000/v1", model="qwen2.5-7b")
    >>> result = extractor.extract("Mali, Niger and Burkina Faso signed a pact ...")
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        mode: str | None = None,
        prompt: str | Prompt = DEFAULT_PROMPT,
        max_reasks: int = 2,
        config: ProviderConfig | None = None,
        backend: Backend | None = None,
        **config_options: Any,
    ) -> None:
        if backend is None:
            config = config or ProviderConfig.from_env(
                base_url=base_url, model=model, api_key=api_key, mode=mode, **config_options
            )
            backend = make_backend(config)
        self.backend = backend
        self.prompt = prompt if isinstance(prompt, Prompt) else load_prompt(prompt)
        self.max_reasks = max_reasks
        self._create = instructor.patch(create=self._complete, mode=backend.mode)
        self._acreate = instructor.patch(create=self._acomplete, mode=backend.mode)

    def __repr__(self) -> str:
        return (
            f"Extractor(provider={self.backend.provider!r}, model={self.backend.model!r}, "
            f"prompt={self.prompt.version!r})"
        )

    def _complete(self, **kwargs: Any) -> ChatCompletion:
        completion = self.backend.complete(**kwargs)
        log = _CALL_LOG.get()
        if log is not None:
            log.record(completion)
        return completion

    async def _acomplete(self, **kwargs: Any) -> ChatCompletion:
        completion = await self.backend.acomplete(**kwargs)
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

    def extract(self, text: str, *, source_id: str | None = None) -> ExtractionResult:
        """Extract the agreements reported in one document."""
        check_text(text, source_id)
        request = self._request(text)
        log, counter = _CallLog(), retry_counter()
        token = _CALL_LOG.set(log)
        started = time.perf_counter()
        try:
            answer = self._create(**request)
        except Exception as exc:
            raise self._failure(exc, log, source_id) from None
        finally:
            _CALL_LOG.reset(token)
        return self._result(answer, request, log, counter.count, started, source_id)

    async def aextract(self, text: str, *, source_id: str | None = None) -> ExtractionResult:
        """Asynchronous :meth:`extract`."""
        check_text(text, source_id)
        request = self._request(text)
        log, counter = _CallLog(), retry_counter()
        token = _CALL_LOG.set(log)
        started = time.perf_counter()
        try:
            answer = await self._acreate(**request)
        except Exception as exc:
            raise self._failure(exc, log, source_id) from None
        finally:
            _CALL_LOG.reset(token)
        return self._result(answer, request, log, counter.count, started, source_id)

    def _result(
        self,
        answer: GroundedAgreementList,
        request: dict[str, Any],
        log: _CallLog,
        transport_retries: int,
        started: float,
        source_id: str | None,
    ) -> ExtractionResult:
        return ExtractionResult(
            agreements=to_plain(answer),
            metadata=RunMetadata(
                source_id=source_id,
                model=self.backend.model,
                provider=self.backend.provider,
                prompt_version=self.prompt.version,
                prompt_hash=self.prompt.sha256,
                schema_hash=schema_hash(),
                pactx_version=__version__,
                usage=log.usage,
                latency_s=round(time.perf_counter() - started, 4),
                attempts=log.calls,
                transport_retries=transport_retries,
                warnings=list(request["context"]["warnings"]),
            ),
        )

    def _failure(self, exc: Exception, log: _CallLog, source_id: str | None) -> Exception:
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
        if isinstance(exc, InstructorRetryException):
            errors = [redact(str(a.exception)) for a in exc.failed_attempts or []]
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
        return ExtractionValidationError(
            f"{type(exc).__name__}: {redact(str(exc))}",
            source_id=source_id,
            attempts=log.calls,
            usage=log.usage,
            last_output=log.last_output,
            errors=[redact(str(exc))],
        )


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
