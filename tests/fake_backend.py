"""A stand-in for the embedded llama.cpp backend: same provider name, lock and token counting.

It answers like the loopback server's floor responder, runs calls under one lock (as
``LlamaCppBackend`` does) and records how many calls were ever in flight at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any

import instructor
from openai.types.chat import ChatCompletion

from pactx.testserver import floor_responder


@dataclass(frozen=True)
class FakeConfig:
    n_ctx: int = 4096
    max_tokens: int = 256


class FakeLlamaBackend:
    """Provider ``llama-cpp``; tokens are words."""

    provider = "llama-cpp"
    mode = instructor.Mode.JSON_SCHEMA
    model = "fake-gguf"

    def __init__(self, n_ctx: int = 4096, max_tokens: int = 256) -> None:
        self.config = FakeConfig(n_ctx=n_ctx, max_tokens=max_tokens)
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[list[dict[str, Any]]] = []

    def generation_params(self) -> dict[str, Any]:
        return {"temperature": 0.0, "seed": 0, "max_tokens": self.config.max_tokens, "n_ctx": self.config.n_ctx}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, **kwargs: Any) -> ChatCompletion:
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            with self._lock:
                self.calls += 1
                answer = floor_responder({"messages": kwargs["messages"]})
                self.requests.append(kwargs["messages"])
        finally:
            with self._count_lock:
                self.in_flight -= 1
        return ChatCompletion.model_validate(
            {
                "id": "fake",
                "object": "chat.completion",
                "created": 0,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": json.dumps(answer)},
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )

    async def acomplete(self, **kwargs: Any) -> ChatCompletion:
        return await asyncio.to_thread(self.complete, **kwargs)
