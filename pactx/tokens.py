"""Token counts: one definition for the rate limits, the dry run and the price of a run.

A text is counted with a :class:`TokenCounter`: the embedded model's own tokenizer, tiktoken
for an OpenAI model when tiktoken is installed and has the model's encoding (it downloads
encodings on first use, so offline it may have none), or else the estimate of one token per
:data:`CHARS_PER_TOKEN` characters, the usual rule of thumb for English text. A chat request
is counted as OpenAI's chat format bills it: each message's content plus
:data:`MESSAGE_TOKENS` for its role and separators, :data:`REPLY_TOKENS` for the reply's
priming, and the JSON of the tool definitions and response format that carry the schema.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "CHARS_PER_TOKEN",
    "MESSAGE_TOKENS",
    "REPLY_TOKENS",
    "ESTIMATE",
    "TokenCounter",
    "estimate_text_tokens",
    "tiktoken_counter",
    "counter_for_model",
    "request_tokens",
]

CHARS_PER_TOKEN = 4
"""Characters per token of the estimate used when no tokenizer is at hand."""
MESSAGE_TOKENS = 3
"""Tokens each chat message adds beyond its content (role and separators)."""
REPLY_TOKENS = 3
"""Tokens that prime the model's reply in every chat request."""
SCHEMA_KEYS = ("tools", "functions", "response_format")
"""Request fields that carry the response schema (billed as prompt tokens by hosted APIs)."""

Count = Callable[[str], int]


def estimate_text_tokens(text: str) -> int:
    """Tokens ``text`` is expected to take without a tokenizer: characters / 4, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class TokenCounter:
    """A way to count a text's tokens, and what it is (for reports)."""

    count: Count
    method: str
    exact: bool


ESTIMATE = TokenCounter(estimate_text_tokens, f"estimate (characters / {CHARS_PER_TOKEN})", False)
"""The tokenizer-free estimate."""


@lru_cache(maxsize=32)
def tiktoken_counter(model: str) -> TokenCounter | None:
    """tiktoken's count for ``model``, or ``None`` (tiktoken missing, model or encoding unknown)."""
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        encoding = tiktoken.encoding_for_model(model)
    except Exception:  # an unknown model (KeyError), or an encoding it cannot download offline
        return None

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return TokenCounter(count, f"tiktoken {encoding.name}", True)


def counter_for_model(model: str | None) -> TokenCounter:
    """tiktoken's count for ``model`` when it has one, else :data:`ESTIMATE`."""
    return (tiktoken_counter(model) if model else None) or ESTIMATE


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: count their text
        text = "".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    else:
        text = str(content or "")
    calls = message.get("tool_calls")
    if calls:  # an assistant's earlier answer, sent back with a re-ask
        text += json.dumps(calls, ensure_ascii=False, default=str)
    return text


def request_tokens(request: dict[str, Any], count: Count = estimate_text_tokens, *, schema: bool = True) -> int:
    """Prompt tokens of a chat request (its ``messages``, and its schema fields when ``schema``).

    ``schema=False`` leaves out ``tools``, ``functions`` and ``response_format``: the embedded
    model turns the schema into a grammar, so it never reaches the prompt there.
    """
    messages = request.get("messages") or []
    total = REPLY_TOKENS if messages else 0
    for message in messages:
        total += MESSAGE_TOKENS + count(_content(message))
    if schema:
        for key in SCHEMA_KEYS:
            if request.get(key):
                total += count(json.dumps(request[key], ensure_ascii=False, default=str))
    return total
