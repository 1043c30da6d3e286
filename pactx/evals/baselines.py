"""Accepted baselines: where one lives, and checking a run against it.

A baseline is an accepted run of one model and strategy: ``<model>.<strategy>.json`` (its
report) and ``<model>.<strategy>.predictions.jsonl`` (its answers), in a suite's
``baselines/`` folder. The gate re-scores the baseline's answers on today's fixtures, so an
edited gold label moves both sides alike.
"""

from __future__ import annotations

from pathlib import Path

from pactx.evals.fixtures import Case, by_split
from pactx.evals.gate import DEFAULT_TOLERANCE, GateResult, check_splits
from pactx.evals.predictions import Prediction, load_predictions
from pactx.evals.runner import score_splits
from pactx.evals.scoring import RunScore

__all__ = ["baseline_paths", "baseline_split_scores", "check_against_baseline"]


def baseline_paths(folder: Path, model: str, strategy: str) -> tuple[Path, Path]:
    """The report and the predictions file of the baseline of ``model`` with ``strategy``."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{model}.{strategy}")
    return folder / f"{safe}.json", folder / f"{safe}.predictions.jsonl"


def baseline_split_scores(
    cases: list[Case], baseline: dict[str, Prediction], bootstrap: int
) -> dict[str, RunScore | None]:
    """The baseline's answers scored on each split; ``None`` for a split it has no answer for."""
    present = by_split([case for case in cases if case.id in baseline])
    scores = score_splits(cases, baseline, bootstrap=bootstrap)
    return {name: scores[name] if name in present else None for name in scores}


def check_against_baseline(
    cases: list[Case],
    predictions: dict[str, Prediction],
    baseline_predictions: Path,
    *,
    missing: list[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    bootstrap: int = 1000,
) -> GateResult:
    """The gate's verdict on ``predictions`` against the baseline's answers, split by split."""
    reference = baseline_split_scores(cases, load_predictions(baseline_predictions), bootstrap)
    current = score_splits(cases, predictions, bootstrap=bootstrap)
    return check_splits(current, reference, missing=missing, tolerance=tolerance)
