"""Helpers for tests of the OpenAI-compatible path."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from pactx.providers import OpenAIBackend, ProviderConfig
from pactx.transport import RetryPolicy

SAHEL = (
    "The military juntas of Mali, Niger and Burkina Faso have signed a security pact called the "
    "Liptako-Gourma Charter. Any attack on one party will be considered an aggression against the others."
)

SAHEL_ANSWER: dict[str, Any] = {
    "agreements": [
        {
            "evidence": [{"quote": "Mali, Niger and Burkina Faso have signed a security pact"}],
            "name": "Liptako-Gourma Charter",
            "parties": [{"name": "Mali"}, {"name": "Niger"}, {"name": "Burkina Faso"}],
            "agreement_type": "defense_pact",
            "status": "signed",
            "obligations": ["defense"],
        }
    ]
}

UNGROUNDED_ANSWER: dict[str, Any] = {
    "agreements": [
        {
            "evidence": [{"quote": "Chad joined the charter in 2024"}],
            "parties": [{"name": "Chad"}],
            "agreement_type": "defense_pact",
            "status": "signed",
        }
    ]
}


def completion(answer: dict[str, Any], *, tools: bool = True, usage: tuple[int, int] = (100, 40)) -> dict[str, Any]:
    """An OpenAI chat-completion body carrying ``answer`` as a tool call or as content."""
    arguments = json.dumps(answer)
    if tools:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "GroundedAgreementList", "arguments": arguments}}],
        }
    else:
        message = {"role": "assistant", "content": arguments}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "mock-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


class ScriptedServer:
    """An httpx MockTransport handler answering from a script, recording every request."""

    def __init__(self, *responses: httpx.Response | Callable[[httpx.Request], httpx.Response]) -> None:
        self.script = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return item(request) if callable(item) else item

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.content]


def mock_backend(handler: Callable[[httpx.Request], httpx.Response], **config: Any) -> OpenAIBackend:
    options: dict[str, Any] = {
        "base_url": "http://mock.invalid/v1",
        "model": "mock-model",
        "api_key": "sk-test-SECRET-0123456789",
        "mode": "tools",
        "server": "generic",  # no detection requests: each test scripts every answer itself
        "retry": RetryPolicy(max_retries=3, initial_wait=0.0, max_wait=0.0, jitter=0.0),
    }
    options.update(config)
    return OpenAIBackend(ProviderConfig(**options), transport=httpx.MockTransport(handler))
