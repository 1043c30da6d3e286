"""Read prediction files: pactx output, pactx failures, or another tool's agreements (JSONL)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pactx.schema import ExtractionResult, RunMetadata, SecurityAgreement

__all__ = ["Prediction", "load_predictions"]


@dataclass(frozen=True)
class Prediction:
    """One document's prediction: its agreements, or ``None`` when extraction failed."""

    agreements: list[SecurityAgreement] | None
    metadata: RunMetadata | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the extraction produced a (schema-valid) list of agreements."""
        return self.agreements is not None

    @classmethod
    def from_result(cls, result: ExtractionResult) -> Prediction:
        """Wrap a pactx :class:`ExtractionResult`."""
        return cls(agreements=list(result.agreements), metadata=result.metadata)

    @classmethod
    def failed(cls, error: str) -> Prediction:
        """A document whose extraction failed."""
        return cls(agreements=None, error=error)


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        kind, message = error.get("type"), error.get("message")
        return ": ".join(str(part) for part in (kind, message) if part) or json.dumps(error)
    return str(error)


def _invalid(exc: ValueError) -> Prediction:
    return Prediction.failed("invalid prediction: " + " ".join(str(exc).split())[:300])


def _parse_line(obj: Any, where: str) -> tuple[str, Prediction]:
    """Read one JSONL record: pactx output, a pactx failure, or another tool's agreements."""
    if not isinstance(obj, Mapping) or obj.get("id") is None:
        raise ValueError(f"{where}: expected an object with an 'id'")
    doc_id = str(obj["id"])
    if obj.get("result") is not None:
        try:
            return doc_id, Prediction.from_result(ExtractionResult.model_validate(obj["result"]))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            return doc_id, _invalid(exc)
    if "error" in obj:
        return doc_id, Prediction.failed(_error_text(obj["error"]))
    if "agreements" in obj:
        if not isinstance(obj["agreements"], list):
            return doc_id, Prediction.failed("agreements is not a list")
        try:
            agreements = [SecurityAgreement.model_validate(a) for a in obj["agreements"]]
        except ValueError as exc:
            return doc_id, _invalid(exc)
        return doc_id, Prediction(agreements=agreements)
    raise ValueError(f"{where}: line has none of 'result', 'error' or 'agreements'")


def load_predictions(path: str | Path, *more: str | Path) -> dict[str, Prediction]:
    """Read predictions from one or more JSONL files, keyed by document id.

    Each line is ``{"id", "result": <ExtractionResult>}`` (pactx output; other keys such as
    ``source`` are ignored), ``{"id", "error": {...}}`` (a failed document: agreements
    ``None``) or ``{"id", "agreements": [...]}`` (another tool; no metadata). A record that
    fails schema validation becomes a failed prediction. pactx writes failures to a separate
    ``*.failures.jsonl`` file: pass both. Raises ``ValueError`` on malformed lines or a
    document id seen twice.
    """
    predictions: dict[str, Prediction] = {}
    for file in (path, *more):
        lines = Path(file).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{file}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc})") from exc
            doc_id, prediction = _parse_line(obj, where)
            if doc_id in predictions:
                raise ValueError(f"{where}: document id {doc_id!r} appears twice")
            predictions[doc_id] = prediction
    return predictions
