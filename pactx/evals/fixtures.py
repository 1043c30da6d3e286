"""The hand-labeled fixtures: loading cases and hashing the fixture set."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pactx.evals.locations import find_evals_dir
from pactx.schema import ExtractionResult, SecurityAgreement

__all__ = ["SPLITS", "Case", "load_cases", "by_split", "fixture_hash", "default_fixtures_path", "evals_dir"]

SPLITS: tuple[str, ...] = ("dev", "test", "holdout", "holdout2", "holdout3", "holdout4")
"""``dev``: seen while the rules and prompts were built; ``test``: written after they were frozen;
``holdout``, ``holdout2``, ``holdout3``, ``holdout4``: each written later, by an annotator who had not seen the
extractor's rules, after a release's rules were frozen. A holdout split looked at while changing
pactx moves to ``dev`` (guidelines §16: ``holdout`` and ``holdout2`` did), so its name may hold no
case; it stays a valid name for older fixture files and baselines."""


def evals_dir(option: str | Path | None = None) -> Path:
    """The project's ``evals/`` folder, found from the working directory.

    ``option`` (``--evals-dir``), then ``PACTX_EVALS_DIR``, then ``[tool.pactx] evals-dir`` in
    the nearest ``pyproject.toml``, then ``./evals`` (:func:`pactx.evals.locations.find_evals_dir`).
    """
    return find_evals_dir(option).path


def default_fixtures_path() -> Path:
    """``evals/fixtures/cases.jsonl`` of the project's evals folder."""
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
    split: str = "dev"
    annotator: str = field(default="", compare=False)


def _check_split(split: str, where: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"{where}: unknown split {split!r}; choose {', '.join(SPLITS)}")
    return split


def load_cases(path: str | Path | None = None, split: str | None = None) -> list[Case]:
    """Read a fixtures file (one JSON case per line), validating every gold result.

    ``split`` keeps only the cases of that split (one of :data:`SPLITS`); ``None`` or ``all``
    keeps every case.
    """
    if split == "all":
        split = None
    if split is not None:
        _check_split(split, "load_cases")
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
                split=_check_split(str(raw.get("split", "dev")), f"{source}:{number}"),
                annotator=gold.metadata.model,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{source}:{number}: bad fixture case: {exc}") from exc
        if case.id in seen:
            raise ValueError(f"{source}:{number}: duplicate case id {case.id!r}")
        seen.add(case.id)
        if split is None or case.split == split:
            cases.append(case)
    return cases


def by_split(cases: list[Case]) -> dict[str, list[Case]]:
    """The cases grouped by split, in ``SPLITS`` order, leaving out empty splits."""
    groups = {name: [case for case in cases if case.split == name] for name in SPLITS}
    return {name: group for name, group in groups.items() if group}


def fixture_hash(path: str | Path | None = None) -> str:
    """SHA-256 of the fixture file's bytes."""
    source = Path(path) if path else default_fixtures_path()
    return hashlib.sha256(source.read_bytes()).hexdigest()
