"""Recorded model responses: ``record`` stores every answer, ``replay`` answers from them.

A recording is keyed by everything that can change the model's answer: the model and
provider, the prompt hash, the response-schema hash, the document's hash, the generation
parameters, the whole request (messages, including re-asks, and the response format), and
pactx's request-format version. For the embedded model the generation parameters include the
fingerprint of what constrains its decoding (:func:`pactx.providers.constraints_fingerprint`:
cue vocabulary, grammar code, decoding strategy), and replay computes it from today's code,
never from the recording. A changed prompt, schema, cue or grammar therefore can never be
answered from an old recording. Only successful responses are stored, never errors.

Recordings live in ``evals/recordings/<model>/responses.jsonl``, one response per line.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import instructor
from openai.types.chat import ChatCompletion

from pactx.choices import ChoiceScores, Option
from pactx.errors import ReplayMissError
from pactx.prompts import fenced_document
from pactx.providers import Backend, LlamaCppBackend, constraints_fingerprint

__all__ = ["REQUEST_FORMAT_VERSION", "RecordingBackend", "ReplayBackend", "Recordings", "request_key"]

REQUEST_FORMAT_VERSION = "1"
"""Bump when pactx changes how it builds requests, to invalidate all recordings."""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def request_key(
    *,
    model: str,
    provider: str,
    prompt_hash: str,
    schema_hash: str,
    params: dict[str, Any],
    request: dict[str, Any],
) -> str:
    """The SHA-256 key of one model request."""
    document = fenced_document(request.get("messages", [])) or ""
    payload = {
        "format": REQUEST_FORMAT_VERSION,
        "model": model,
        "provider": provider,
        "prompt_hash": prompt_hash,
        "schema_hash": schema_hash,
        "input_sha256": hashlib.sha256(document.encode("utf-8")).hexdigest(),
        "params": params,
        "request": {k: v for k, v in request.items() if k != "model"},
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Recordings:
    """The stored responses of one model: a JSONL file of ``{key, response}`` lines."""

    def __init__(self, root: Path, model: str) -> None:
        self.path = root / _safe(model) / "responses.jsonl"
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    item = json.loads(line)
                    self._items[item["key"]] = item["response"]

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._items.get(key)

    def put(self, key: str, response: dict[str, Any], note: str = "") -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = response
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                line = {"key": key, "note": note, "response": response}
                handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")


class _KeyedBackend:
    """Shared parts of the recording and replay backends."""

    provider: str
    model: str
    mode: instructor.Mode

    def __init__(self, recordings: Recordings, prompt_hash: str, schema_hash: str) -> None:
        self.recordings = recordings
        self.prompt_hash = prompt_hash
        self.schema_hash = schema_hash

    def _key(self, kwargs: dict[str, Any]) -> str:
        return request_key(
            model=self.model,
            provider=self.provider,
            prompt_hash=self.prompt_hash,
            schema_hash=self.schema_hash,
            params=self.generation_params(),
            request=kwargs,
        )

    def _choice_key(self, prompt: str, options: Sequence[Option]) -> str:
        """The key of one choice-scoring request (the staged strategy's questions)."""
        return self._key({"choice_prompt": prompt, "options": [list(o) for o in options]})

    def generation_params(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError


class RecordingBackend(_KeyedBackend):
    """Calls the real backend and stores every successful response."""

    def __init__(self, inner: Backend, recordings: Recordings, prompt_hash: str, schema_hash: str) -> None:
        super().__init__(recordings, prompt_hash, schema_hash)
        self.inner = inner
        self.provider, self.model, self.mode = inner.provider, inner.model, inner.mode
        self.default_strategy = getattr(inner, "default_strategy", "direct")
        if callable(getattr(inner, "choice_logprobs", None)):
            self.choice_logprobs = self._record_choices  # only a backend that scores choices

    def generation_params(self) -> dict[str, Any]:
        return self.inner.generation_params()

    def complete(self, **kwargs: Any) -> ChatCompletion:
        key = self._key(kwargs)
        completion = self.inner.complete(**kwargs)
        self.recordings.put(key, completion.model_dump(mode="json"), note=_note(kwargs))
        return completion

    async def acomplete(self, **kwargs: Any) -> ChatCompletion:
        key = self._key(kwargs)
        completion = await self.inner.acomplete(**kwargs)
        self.recordings.put(key, completion.model_dump(mode="json"), note=_note(kwargs))
        return completion

    def _record_choices(self, prompt: str, options: Sequence[Option]) -> ChoiceScores:
        key = self._choice_key(prompt, options)
        scores: ChoiceScores = self.inner.choice_logprobs(prompt, options)  # type: ignore[attr-defined]
        self.recordings.put(key, scores.to_json(), note=_choice_note(prompt))
        return scores


class ReplayBackend(_KeyedBackend):
    """Answers only from recordings; a request with no recording is an error, never a live call."""

    def __init__(
        self,
        recordings: Recordings,
        *,
        model: str,
        provider: str,
        mode: instructor.Mode,
        params: dict[str, Any],
        prompt_hash: str,
        schema_hash: str,
    ) -> None:
        super().__init__(recordings, prompt_hash, schema_hash)
        self.model, self.provider, self.mode = model, provider, mode
        self._params = dict(params)
        if provider == LlamaCppBackend.provider:  # today's constraints, not the recorded ones
            self._params["constraints"] = constraints_fingerprint(str(params.get("decoding")))

    def generation_params(self) -> dict[str, Any]:
        return dict(self._params)

    def complete(self, **kwargs: Any) -> ChatCompletion:
        key = self._key(kwargs)
        stored = self.recordings.get(key)
        if stored is None:
            raise ReplayMissError(
                f"no recording for this request (model {self.model}, key {key[:12]}, "
                f"document {_note(kwargs)!r}) in {self.recordings.path}; "
                "the prompt, schema, parameters, decoding constraints or input changed since it was recorded: "
                "run `pactx eval --mode record` with the model available"
            )
        return ChatCompletion.model_validate(stored)

    async def acomplete(self, **kwargs: Any) -> ChatCompletion:
        return self.complete(**kwargs)

    def choice_logprobs(self, prompt: str, options: Sequence[Option]) -> ChoiceScores:
        key = self._choice_key(prompt, options)
        stored = self.recordings.get(key)
        if stored is None:
            raise ReplayMissError(
                f"no recording for this choice (model {self.model}, key {key[:12]}, "
                f"passage {_choice_note(prompt)!r}) in {self.recordings.path}; the prompt, "
                "candidates, parameters or input changed since it was recorded: "
                "run `pactx eval --mode record` with the model available"
            )
        return ChoiceScores.from_json(stored)


def _choice_note(prompt: str) -> str:
    """The passage a staged question is about (the last ``Passage:`` line of its prompt)."""
    marker = prompt.rfind("Passage: ")
    return prompt[marker + 9 : marker + 69].split("\n", 1)[0] if marker >= 0 else prompt[-60:]


def _note(kwargs: dict[str, Any]) -> str:
    document = fenced_document(kwargs.get("messages", [])) or ""
    return document[:60]
