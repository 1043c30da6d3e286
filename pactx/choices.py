"""Constrained choices: a model picks among fixed answers, and pactx reads each answer's probability.

A :class:`ChoiceScorer` takes a plain-text prompt and a list of options (each option one or more
surface forms, such as ``("yes", "Yes")``) and returns the log-probability the model gives
each option as the continuation of the prompt. No text is generated, so the answer is always one of
the options, and the probabilities are the confidence the staged strategy reports.

:func:`llama_choice_logprobs` does this in-process with llama-cpp-python. Successive questions share
a prefix (the worked examples, the passage, the answers so far), so the key/value cache of
the longest common prefix is kept between calls and only the new tokens are evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ChoiceScores", "ChoiceScorer", "Option", "llama_choice_logprobs", "normalized"]

Option = Sequence[str]
"""One answer, as the surface forms that count for it (their probabilities are summed)."""


@dataclass(frozen=True)
class ChoiceScores:
    """Log-probabilities of each option, and what scoring them cost in tokens."""

    logprobs: list[float]
    prompt_tokens: int
    cached_tokens: int
    scored_tokens: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stored by eval recordings)."""
        return {
            "logprobs": self.logprobs,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "scored_tokens": self.scored_tokens,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChoiceScores:
        """The inverse of :meth:`to_json`."""
        return cls(
            logprobs=[float(x) for x in data["logprobs"]],
            prompt_tokens=int(data["prompt_tokens"]),
            cached_tokens=int(data["cached_tokens"]),
            scored_tokens=int(data["scored_tokens"]),
        )


class ChoiceScorer(Protocol):
    """A backend that can score fixed answers (needed by the ``staged`` strategy)."""

    def choice_logprobs(self, prompt: str, options: Sequence[Option]) -> ChoiceScores:
        """Log-probability of each option as the continuation of the plain-text ``prompt``."""
        ...


def normalized(logprobs: Sequence[float]) -> list[float]:
    """Probabilities of the options relative to each other (a softmax of their log-probabilities)."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def _log_softmax(logits: Any) -> Any:
    import numpy as np

    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max()
    return shifted - np.log(np.exp(shifted).sum())


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def _last_logits(llama: Any) -> Any:
    import numpy as np

    return np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),))


def llama_choice_logprobs(llama: Any, prompt: str, options: Sequence[Option]) -> ChoiceScores:
    """Score ``options`` as continuations of the plain-text ``prompt`` on a ``Llama``.

    The longest prefix the model has already evaluated is reused (its key/value cache stays),
    so a series of questions about one document reads the document once. Each surface form is
    scored token by token; an option's log-probability is the log of the summed probabilities
    of its forms. The caller holds the model's lock.
    """
    tokens: list[int] = llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
    if not tokens:
        raise ValueError("empty prompt")
    evaluated = list(llama._input_ids)  # tokens whose key/value cache is live
    common = 0
    for mine, theirs in zip(tokens, evaluated):
        if mine != theirs:
            break
        common += 1
    common = min(common, len(tokens) - 1)  # evaluate at least one token to get fresh logits
    llama.n_tokens = common
    llama.eval(tokens[common:])
    base = llama.n_tokens
    first = _log_softmax(_last_logits(llama))
    scored = 0
    results: list[float] = []
    for option in options:
        form_logprobs: list[float] = []
        for form in dict.fromkeys(option):
            ids: list[int] = llama.tokenize(form.encode("utf-8"), add_bos=False, special=False)
            if not ids:
                continue
            total = float(first[ids[0]])
            llama.n_tokens = base
            for position in range(1, len(ids)):
                llama.eval([ids[position - 1]])
                total += float(_log_softmax(_last_logits(llama))[ids[position]])
            scored += len(ids)
            form_logprobs.append(total)
        results.append(_logsumexp(form_logprobs) if form_logprobs else -math.inf)
    llama.n_tokens = base  # the prompt stays cached for the next question
    return ChoiceScores(
        logprobs=results, prompt_tokens=len(tokens), cached_tokens=common, scored_tokens=scored
    )
