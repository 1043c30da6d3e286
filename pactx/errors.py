"""Typed errors. Every message is safe to log: secrets are redacted before it is built."""

from __future__ import annotations

from pactx.schema import TokenUsage

__all__ = [
    "PactxError",
    "ConfigurationError",
    "InputError",
    "ExtractionError",
    "ExtractionValidationError",
    "InternalError",
    "ProviderError",
    "ReplayMissError",
]


class PactxError(Exception):
    """Base class of every error pactx raises."""


class ConfigurationError(PactxError):
    """The extractor or provider is configured wrongly (missing model, bad mode, ...)."""


class InputError(PactxError):
    """A document cannot be processed: empty, binary, undecodable or unreadable."""

    def __init__(self, message: str, *, source_id: str | None = None) -> None:
        self.source_id = source_id
        prefix = f"{source_id}: " if source_id else ""
        super().__init__(prefix + message)


class ExtractionError(PactxError):
    """Extraction of one document failed."""

    def __init__(
        self,
        message: str,
        *,
        source_id: str | None = None,
        attempts: int = 0,
        usage: TokenUsage | None = None,
    ) -> None:
        self.source_id = source_id
        self.attempts = attempts
        self.usage = usage or TokenUsage()
        prefix = f"{source_id}: " if source_id else ""
        super().__init__(prefix + message)


class ExtractionValidationError(ExtractionError):
    """The model's answer never passed validation within the allowed attempts.

    ``last_output`` is the model's last raw answer and ``errors`` the validation errors it
    got, so the failed attempt can be inspected; ``usage`` sums tokens over all attempts.
    """

    def __init__(
        self,
        message: str,
        *,
        source_id: str | None = None,
        attempts: int = 0,
        usage: TokenUsage | None = None,
        last_output: str | None = None,
        errors: list[str] | None = None,
    ) -> None:
        super().__init__(message, source_id=source_id, attempts=attempts, usage=usage)
        self.last_output = last_output
        self.errors = errors or []


class InternalError(ExtractionError):
    """Extraction of one document failed on a bug in pactx, not on the model or the endpoint.

    The original exception, with its traceback, is ``__cause__``. It is an
    :class:`ExtractionError` so a batch records it per document (with the calls and tokens
    spent) and goes on, but its own type tells it apart from a model whose answer failed.
    """


class ProviderError(ExtractionError):
    """The model endpoint failed (refused, unreachable, or still failing after retries)."""

    def __init__(
        self,
        message: str,
        *,
        source_id: str | None = None,
        status_code: int | None = None,
        attempts: int = 0,
        usage: TokenUsage | None = None,
    ) -> None:
        super().__init__(message, source_id=source_id, attempts=attempts, usage=usage)
        self.status_code = status_code


class ReplayMissError(PactxError):
    """Replay mode found no recorded response for a request; no live call is made."""
