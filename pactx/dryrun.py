"""Dry runs: the tokens and cost of extracting documents, worked out before any model call.

:class:`DryRun` prepares each document as :class:`~pactx.extraction.Extractor` would (its
chunks, the prompt, the schema where the mode puts it), counts the tokens with the backend's
own tokenizer, tiktoken or the estimate (:mod:`pactx.tokens`), and prices them
(:mod:`pactx.pricing`). No model is called.

- ``direct``: one request per chunk (:meth:`Extractor.wire_request`); its completion is at
  most ``max_tokens``. Everything before the document (system prompt, examples, schema) is
  the same in every request, so from the second request on a provider's prompt cache can
  serve it: those tokens are ``cacheable_tokens``.
- ``staged``: the questions are those asked when every answer is "yes", the most there can
  be; prompt and completion tokens are counted as the embedded model reports them, and
  ``cacheable_tokens`` is the prefix each question shares with the one before.

Re-asks (an answer that fails validation is sent back) would add to the figures; a result
already in the cache costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pactx.choices import ChoiceScores, Option
from pactx.extraction import Extractor, check_text
from pactx.pricing import LOCAL_PRICE, Price, format_cost
from pactx.prompts import OPEN_FENCE
from pactx.providers import MODES, LlamaCppBackend
from pactx.schema import TokenUsage
from pactx.staged import run_staged
from pactx.tokens import TokenCounter, counter_for_model, request_tokens

__all__ = ["DocumentEstimate", "DryRun", "counter_for"]


@dataclass(frozen=True)
class DocumentEstimate:
    """What one document would take: requests, prompt tokens (cacheable part) and a completion bound."""

    id: str
    source: str | None
    chars: int
    chunks: int
    requests: int
    prompt_tokens: int
    cacheable_tokens: int
    completion_tokens: int
    cached: bool = False
    """Already in the result cache: extracting it makes no model call."""

    @property
    def usage(self) -> TokenUsage:
        """The estimate as a usage (``cached_tokens``: what a prompt cache could serve)."""
        return TokenUsage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.prompt_tokens + self.completion_tokens,
            cached_tokens=self.cacheable_tokens,
        )

    def to_record(self) -> dict[str, Any]:
        """The JSON line ``pactx extract --dry-run`` prints for the document."""
        return {
            "id": self.id,
            "source": self.source,
            "chars": self.chars,
            "chunks": self.chunks,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "cacheable_prompt_tokens": self.cacheable_tokens,
            "completion_tokens_max": self.completion_tokens,
            "in_cache": self.cached,
        }


def counter_for(extractor: Extractor) -> TokenCounter:
    """The backend's own tokenizer (the embedded model), else tiktoken for its model, else the estimate."""
    count = getattr(extractor.backend, "count_tokens", None)
    if callable(count):
        return TokenCounter(count, f"{extractor.backend.model} tokenizer", True)
    return counter_for_model(extractor.backend.model)


class _CountingScorer:
    """Answers every staged question with its first option ("yes") and counts what it would cost."""

    def __init__(self, counter: TokenCounter) -> None:
        self.count = counter.count
        self.previous = ""

    def choice_logprobs(self, prompt: str, options: Sequence[Option]) -> ChoiceScores:
        tokens = self.count(prompt) + 1  # the model adds a beginning-of-text token
        common = len(os.path.commonprefix([prompt, self.previous]))
        cached = min(self.count(prompt[:common]) + 1, tokens - 1) if common else 0
        self.previous = prompt
        scored = sum(self.count(form) for option in options for form in dict.fromkeys(option))
        return ChoiceScores([-float(i) for i in range(len(options))], tokens, cached, scored)


class DryRun:
    """Estimates documents one by one, as the extractor would run them, in order."""

    def __init__(self, extractor: Extractor, counter: TokenCounter | None = None) -> None:
        self.extractor = extractor
        self.counter = counter or counter_for(extractor)
        self.max_tokens = int(extractor.backend.generation_params()["max_tokens"])
        self._schema_in_prompt = extractor.backend.provider != LlamaCppBackend.provider  # a grammar there
        self._scorer = _CountingScorer(self.counter)
        self._requests_before = 0

    def estimate(self, doc_id: str, text: str, source: str | None = None) -> DocumentEstimate:
        """The estimate for one document (``InputError`` for a text pactx cannot read)."""
        check_text(text, doc_id)
        chunks = self.extractor.split(text)
        if self.extractor.cached(text, source_id=doc_id) is not None:
            return DocumentEstimate(doc_id, source, len(text), len(chunks), 0, 0, 0, 0, cached=True)
        usage, requests = TokenUsage(), 0
        for chunk in chunks:
            if self.extractor.strategy == "staged":
                answer = run_staged(self._scorer, self.extractor.prompt, chunk.text)
                usage, requests = usage.add(answer.usage), requests + answer.questions
            else:
                usage, requests = usage.add(self._direct(chunk.text)), requests + 1
        return DocumentEstimate(
            doc_id, source, len(text), len(chunks), requests,
            usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens,
        )

    def _direct(self, text: str) -> TokenUsage:
        request = self.extractor.wire_request(text)
        prompt = request_tokens(request, self.counter.count, schema=self._schema_in_prompt)
        prefix = _prefix_tokens(request, self.counter, schema=self._schema_in_prompt)
        cacheable = prefix if self._requests_before else 0
        self._requests_before += 1
        return TokenUsage(
            prompt_tokens=prompt,
            completion_tokens=self.max_tokens,
            total_tokens=prompt + self.max_tokens,
            cached_tokens=cacheable,
        )


def _prefix_tokens(request: dict[str, Any], counter: TokenCounter, *, schema: bool) -> int:
    """Prompt tokens before the document: the messages before the fenced one and its opening."""
    messages = request.get("messages") or []
    for index, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, str) and OPEN_FENCE in content:
            head = content[: content.index(OPEN_FENCE) + len(OPEN_FENCE)]
            before = {**request, "messages": [*messages[:index], {**message, "content": head}]}
            return request_tokens(before, counter.count, schema=schema)
    return 0


@dataclass
class DryRunTotals:
    """The sum of a dry run's estimates, and how to read them."""

    documents: int = 0
    in_cache: int = 0
    unreadable: int = 0
    requests: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)

    def add(self, estimate: DocumentEstimate) -> None:
        """Count one document."""
        self.documents += 1
        self.in_cache += estimate.cached
        self.requests += estimate.requests
        self.usage = self.usage.add(estimate.usage)

    def cost(self, price: Price) -> tuple[float, float]:
        """The most the run would cost (no prompt-cache hits), and that with the cacheable prefix cached."""
        uncached = self.usage.model_copy(update={"cached_tokens": 0})
        return price.cost(uncached), price.cost(self.usage)

    def rows(self, dry: DryRun, price: Price | None) -> list[tuple[str, str]]:
        """Label and value of each line of the dry-run summary."""
        backend = dry.extractor.backend
        mode = next((name for name, value in MODES.items() if value == backend.mode), str(backend.mode))
        rows = [
            ("documents", f"{self.documents}" + (f" ({self.in_cache} already in the cache: no call)" if self.in_cache else "")),
            ("model", f"{backend.model} ({backend.provider}, strategy {dry.extractor.strategy}"
                      + (f", mode {mode})" if dry.extractor.strategy == "direct" else ")")),
            ("token count", dry.counter.method),
            ("requests", f"{self.requests:,}" + (" (staged questions, at most)" if dry.extractor.strategy == "staged" else " (first tries)")),
            ("prompt tokens", f"{self.usage.prompt_tokens:,} ({self.usage.cached_tokens:,} of them a prompt cache can serve)"),
            ("completion tokens", f"at most {self.usage.completion_tokens:,}"
             + (f" (max_tokens {dry.max_tokens} per request)" if dry.extractor.strategy == "direct" else "")),
        ]
        if price is None:
            rows.append(("estimated cost", f"unknown: no built-in price for {backend.model}; give --price in=...,out=..."))
        elif price == LOCAL_PRICE:
            rows.append(("estimated cost", f"$0 ({price.source})"))
        else:
            worst, cached = self.cost(price)
            rows.append(("price", price.describe()))
            rows.append(("estimated cost", f"at most {format_cost(worst)}; {format_cost(cached)} if the shared prefix is cached"))
        if self.unreadable:
            rows.append(("unreadable inputs", str(self.unreadable)))
        reasks = "; re-asks would add to these figures" if dry.extractor.strategy == "direct" else ""
        rows.append(("note", f"dry run: no model was called and nothing was written{reasks}"))
        return rows
