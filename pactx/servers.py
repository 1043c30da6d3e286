"""OpenAI-compatible server families: which one answers at a base URL, and how pactx talks to it.

Servers that all speak "the OpenAI API" differ in what they accept for structured output:
llama-cpp-python's server refuses ``response_format: {"type": "json_schema"}`` and takes
``{"type": "json_object", "schema": ...}``; TGI takes ``{"type": "json_object", "value": ...}``;
LM Studio takes only ``json_schema``. :func:`detect` tells the families apart from the metadata
of ``GET /v1/models`` (``owned_by`` and the fields each family adds) and, only when that is
ambiguous, from one cheap probe (Ollama's ``/api/version``, TGI's ``/info``). The answer is
cached per base URL for the life of the process. :func:`shape_rejection` recognizes an answer
that refuses the request's shape (a parameter or schema the server does not take), which no
retry can fix.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from pactx.errors import ConfigurationError

__all__ = [
    "ServerFamily",
    "ServerInfo",
    "FAMILIES",
    "GENERIC",
    "server_family",
    "identify",
    "detect",
    "forget",
    "shape_rejection",
    "SHAPE_STATUS",
]


@dataclass(frozen=True)
class ServerFamily:
    """One kind of OpenAI-compatible server and the way pactx talks to it."""

    name: str
    """Key, as ``PACTX_SERVER`` takes it."""
    label: str
    """Name for messages."""
    mode: str
    """The structured-output mode pactx uses with it (unless ``PACTX_MODE`` says otherwise)."""
    alternatives: tuple[str, ...]
    """Modes to suggest, best first, when the server refuses a request's shape."""
    schema_key: str = "schema"
    """Where mode ``json_object_schema`` puts the schema in ``response_format``."""
    compiles_grammar: bool = False
    """The server turns the schema into a llama.cpp grammar in-process, as the embedded model
    does: pactx sends it a bounded schema whose quotes and parties come from the document."""
    serial: bool = False
    """It computes one answer at a time and finishes an abandoned one: pactx keeps one request
    in flight and does not retry a read timeout (a retry would queue behind the lost answer)."""


OPENAI = ServerFamily("openai", "OpenAI", "tools", ("json_schema", "json"))
VLLM = ServerFamily("vllm", "vLLM", "json_schema", ("tools", "json", "md_json"))
OLLAMA = ServerFamily("ollama", "Ollama", "json_schema", ("json", "md_json", "tools"))
LLAMA_SERVER = ServerFamily("llama-server", "llama.cpp's llama-server", "json_schema", ("json_object_schema", "json", "md_json"))
LLAMA_CPP_PYTHON = ServerFamily(
    "llama-cpp-python",
    "llama-cpp-python's server",
    "json_object_schema",
    ("json", "md_json"),
    compiles_grammar=True,
    serial=True,
)
LM_STUDIO = ServerFamily("lm-studio", "LM Studio", "json_schema", ("tools", "md_json"))
TGI = ServerFamily("tgi", "TGI", "json_object_schema", ("tools", "md_json"), schema_key="value")
GENERIC = ServerFamily("generic", "the server", "json_schema", ("json_object_schema", "json", "md_json", "tools"))

FAMILIES: dict[str, ServerFamily] = {
    f.name: f for f in (OPENAI, VLLM, OLLAMA, LLAMA_SERVER, LLAMA_CPP_PYTHON, LM_STUDIO, TGI, GENERIC)
}
"""Every family pactx knows, by name."""


def server_family(name: str) -> ServerFamily:
    """The family called ``name`` (a ``PACTX_SERVER`` value); ConfigurationError if unknown."""
    try:
        return FAMILIES[name.strip().lower()]
    except KeyError:
        raise ConfigurationError(
            f"unknown server family {name!r}; choose one of {', '.join(FAMILIES)}"
        ) from None


@dataclass(frozen=True)
class ServerInfo:
    """What pactx found out about the server at one base URL."""

    family: ServerFamily
    models: tuple[str, ...] = ()
    """Ids of the models ``/v1/models`` lists, in its order (empty if it could not be read)."""
    evidence: str = ""
    """What the family was recognized by, for messages and the README's table."""
    listing_error: str | None = field(default=None, compare=False)
    """Why ``/v1/models`` could not be read, if it could not."""


_OPENAI_OWNERS = ("openai", "system", "openai-internal")


def identify(base_url: str, listing: Any) -> tuple[ServerFamily | None, str]:
    """The family a ``GET /v1/models`` answer shows, and what showed it; ``None`` if unclear.

    Pure: it reads only ``base_url`` and the decoded listing, so every rule has a unit test.
    """
    if urlsplit(base_url).hostname == "api.openai.com":
        return OPENAI, "host api.openai.com"
    entries = listing.get("data") if isinstance(listing, dict) else None
    first = next((e for e in entries or [] if isinstance(e, dict)), None)
    if first is None:
        return None, "no model entries in /v1/models"
    owner = first.get("owned_by")
    if owner == "me" and "permissions" in first:
        return LLAMA_CPP_PYTHON, "owned_by 'me' with 'permissions' in /v1/models"
    if owner == "llamacpp":
        return LLAMA_SERVER, "owned_by 'llamacpp' in /v1/models"
    if owner == "vllm":
        return VLLM, "owned_by 'vllm' in /v1/models"
    if owner == "organization_owner":
        return LM_STUDIO, "owned_by 'organization_owner' in /v1/models"
    if owner == "library":
        return OLLAMA, "owned_by 'library' in /v1/models"
    if isinstance(owner, str) and (owner in _OPENAI_OWNERS or owner.startswith(("org-", "user-"))):
        return OPENAI, f"owned_by {owner!r} in /v1/models"
    return None, f"owned_by {owner!r} in /v1/models"


def _root(base_url: str) -> str:
    """The server's root URL: ``base_url`` without its trailing ``/v1``."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _get_json(client: httpx.Client, url: str, headers: Mapping[str, str], timeout: float) -> Any:
    """The decoded JSON ``url`` answers with, or ``None`` for an error or a non-JSON answer."""
    try:
        response = client.get(url, headers=dict(headers), timeout=timeout)
    except httpx.HTTPError:
        return None
    if not response.is_success:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _probe(client: httpx.Client, base_url: str, headers: Mapping[str, str], timeout: float) -> tuple[ServerFamily | None, str]:
    """Ask the endpoints only one family has: Ollama's ``/api/version``, TGI's ``/info``."""
    root = _root(base_url)
    version = _get_json(client, f"{root}/api/version", headers, timeout)
    if isinstance(version, dict) and isinstance(version.get("version"), str) and len(version) == 1:
        return OLLAMA, "GET /api/version answers {'version': ...}"
    info = _get_json(client, f"{root}/info", headers, timeout)
    if isinstance(info, dict) and "model_id" in info and ("max_total_tokens" in info or "router" in info):
        return TGI, "GET /info answers with model_id and max_total_tokens"
    return None, "no family-specific endpoint answered"


_CACHE: dict[str, ServerInfo] = {}
_CACHE_LOCK = threading.Lock()


def _key(base_url: str) -> str:
    return base_url.rstrip("/").lower()


def detect(
    client: httpx.Client,
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> ServerInfo:
    """The family and served models at ``base_url``, cached per base URL for this process.

    One ``GET {base_url}/models``, plus the probes of :func:`_probe` when its metadata is
    unclear. Never raises: a listing that cannot be read gives the generic family with
    ``listing_error`` set, and is not cached (the next backend tries again).
    """
    key = _key(base_url)
    with _CACHE_LOCK:
        known = _CACHE.get(key)
    if known is not None:
        return known
    headers = headers or {}
    if urlsplit(base_url).hostname == "api.openai.com":  # no request needed to know it
        info = ServerInfo(OPENAI, (), "host api.openai.com")
        with _CACHE_LOCK:
            _CACHE[key] = info
        return info
    try:
        response = client.get(f"{base_url.rstrip('/')}/models", headers=dict(headers), timeout=timeout)
        response.raise_for_status()
        listing = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        detail = f"HTTP {exc.response.status_code}" if isinstance(exc, httpx.HTTPStatusError) else f"{type(exc).__name__}: {exc}"
        return ServerInfo(GENERIC, (), "GET /models failed", listing_error=detail)
    entries = listing.get("data") if isinstance(listing, dict) else None
    models = tuple(str(e["id"]) for e in entries or [] if isinstance(e, dict) and "id" in e)
    family, evidence = identify(base_url, listing)
    if family is None:
        family, probed = _probe(client, base_url, headers, timeout)
        evidence = f"{evidence}; {probed}"
    info = ServerInfo(family or GENERIC, models, evidence)
    with _CACHE_LOCK:
        _CACHE[key] = info
    return info


def forget(base_url: str | None = None) -> None:
    """Drop the cached answer for ``base_url`` (every base URL when ``None``)."""
    with _CACHE_LOCK:
        if base_url is None:
            _CACHE.clear()
        else:
            _CACHE.pop(_key(base_url), None)


SHAPE_STATUS = frozenset({400, 404, 405, 415, 422, 500, 501})
"""Statuses a refusal of the request's shape comes with (llama-cpp-python's server sends 500)."""

_SHAPE_WORDS = re.compile(
    r"validation error|literal_error|extra_forbidden|extra inputs are not permitted|"
    r"unrecognized request argument|unknown (?:field|parameter|argument)|unexpected (?:field|keyword)|"
    r"unsupported|not supported|does not support|invalid (?:json )?schema|"
    r"response_format|json_schema|tool_choice|grammar",
    re.IGNORECASE,
)
_PYDANTIC_MSG = re.compile(r"""['"]loc['"]:\s*[(\[]([^)\]]*)[)\]],\s*['"]msg['"]:\s*(?:"([^"]*)"|'([^']*)')""")


def _message(body: str) -> str:
    """The server's own words: the ``error.message`` (or ``message``, ``detail``, ``error``) of a JSON body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    for path in (("error", "message"), ("message",), ("detail",), ("error",)):
        node: Any = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str):
            return node
        if node is not None and path == ("detail",):
            return json.dumps(node)
    return body


def shape_rejection(status: int, body: bytes | str) -> str | None:
    """The server's reason if this answer refuses the request's shape, else ``None``.

    A shape refusal names a parameter or schema feature the server does not take
    (``response_format``, ``tool_choice``, a validation error on the request body, an
    unsupported schema keyword). The same request would be refused again, so it must fail
    at once instead of being retried like an overloaded server's 500.
    """
    if status not in SHAPE_STATUS:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    message = _message(text)
    if not _SHAPE_WORDS.search(message):
        return None
    found = _PYDANTIC_MSG.search(message)
    if found:  # pydantic's request validation, as llama-cpp-python's server reports it
        where = ".".join(p.strip(" '\"") for p in found.group(1).split(",") if p.strip(" '\""))
        reason = f"{found.group(2) or found.group(3)} (at {where})"
    else:
        reason = " ".join(message.split())
    return reason if len(reason) <= 300 else reason[:297] + "..."
