"""The hand-labeled fixtures: loading cases and hashing the fixture set."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pactx.schema import ExtractionResult, SecurityAgreement

__all__ = ["Case", "load_cases", "fixture_hash", "default_fixtures_path", "evals_dir"]


def evals_dir() -> Path:
    """The project's ``evals/`` folder (``PACTX_EVALS_DIR`` overrides it)."""
    override = os.environ.get("PACTX_EVALS_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "evals"


def default_fixtures_path() -> Path:
    """``evals/fixtures/cases.jsonl``."""
    return evals_dir() / "fixtures" / "cases.jsonl"


@dataclass(frozen=True)
class Case:
    """One labeled document."""

    id: str
    text: str
    gold: list[SecurityAgreement]
    origin: str = "suite"
    seed_ref: str | None = None
    tags: tuple[str, ...] = ()
    notes: str = ""
    annotator: str = field(default="", compare=False)


def load_cases(path: str | Path | None = None) -> list[Case]:
    """Read a fixtures file (one JSON case per line), validating every gold result."""
    source = Path(path) if path else default_fixtures_path()
    cases: list[Case] = []
    seen: set[str] = set()
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            gold = ExtractionResult.model_validate(raw["gold"])
            case = Case(
                id=str(raw["id"]),
                text=str(raw["text"]),
                gold=list(gold.agreements),
                origin=str(raw.get("origin", "suite")),
                seed_ref=raw.get("seed_ref"),
                tags=tuple(raw.get("tags", ())),
                notes=str(raw.get("notes", "")),
                annotator=gold.metadata.model,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{source}:{number}: bad fixture case: {exc}") from exc
        if case.id in seen:
            raise ValueError(f"{source}:{number}: duplicate case id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    return cases


def fixture_hash(path: str | Path | None = None) -> str:
    """SHA-256 of the fixture file's bytes."""
    source = Path(path) if path else default_fixtures_path()
    return hashlib.sha256(source.read_bytes()).hexdigest()
