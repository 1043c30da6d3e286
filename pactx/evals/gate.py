"""The CI gate: does a run fall below the accepted baseline by more than noise?

A run fails the gate when:

* a headline metric is lower than the baseline's by more than ``tolerance`` (absolute,
  default 0.02) **and** the paired-bootstrap 95% interval of the difference lies below zero;
* schema validity (share of documents with a valid answer) drops at all;
* a fixture case is missing from the run (no prediction, or no recording to replay).

:func:`check_splits` applies these rules to each split (``dev``, ``test`` and each ``holdout`` split) on its own, so a
regression confined to one split fails the gate; a split the baseline has no answers for
(a baseline older than the split) fails with a reason saying so.

``--update-baseline`` rewrites the baseline on purpose; the gate never does it by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pactx.evals.metrics import HEADLINE_METRICS
from pactx.evals.paired import compare_runs
from pactx.evals.scoring import RunScore

__all__ = ["GateResult", "check", "check_splits", "DEFAULT_TOLERANCE"]

DEFAULT_TOLERANCE = 0.02


@dataclass
class GateResult:
    """The gate's verdict, with its reasons and the paired comparison behind it."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    comparison: dict[str, Any] = field(default_factory=dict)
    tolerance: float = DEFAULT_TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "tolerance": self.tolerance,
            "comparison": self.comparison,
        }


def check(
    current: RunScore,
    baseline: RunScore,
    *,
    expected_ids: set[str],
    missing: list[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    resamples: int = 2000,
    seed: int = 0,
) -> GateResult:
    """Compare ``current`` with ``baseline`` on the same documents and apply the rules."""
    reasons: list[str] = []
    absent = sorted(set(missing or []) | (expected_ids - set(current.doc_ids)) | set(current.missing_ids))
    if absent:
        reasons.append(f"{len(absent)} case(s) missing from the run: {', '.join(absent[:8])}")
    comparison = compare_runs(baseline, current, resamples=resamples, seed=seed)
    for name in HEADLINE_METRICS:
        diff = comparison.metrics.get(name)
        if diff is None or diff.diff is None or diff.a is None or diff.b is None:
            continue
        if name == "schema_valid":
            if diff.b < diff.a - 1e-12:
                reasons.append(f"schema validity dropped: {diff.a:.3f} -> {diff.b:.3f}")
            continue
        below_noise = diff.ci_high is not None and diff.ci_high < 0
        if diff.diff < -tolerance and below_noise:
            reasons.append(
                f"{name} fell {diff.a:.3f} -> {diff.b:.3f} (diff {diff.diff:+.3f}, "
                f"95% CI [{diff.ci_low:+.3f}, {diff.ci_high:+.3f}], tolerance {tolerance})"
            )
    return GateResult(
        passed=not reasons, reasons=reasons, comparison=comparison.to_dict(), tolerance=tolerance
    )


def check_splits(
    current: dict[str, RunScore],
    baseline: dict[str, RunScore | None],
    *,
    missing: list[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    resamples: int = 2000,
    seed: int = 0,
) -> GateResult:
    """Apply :func:`check` to each split; ``baseline[name]`` is ``None`` when the baseline lacks it.

    Reasons are prefixed with the split; ``comparison`` holds one comparison per split.
    """
    reasons: list[str] = []
    comparisons: dict[str, Any] = {}
    for name, score in current.items():
        expected = set(score.doc_ids) | set(score.missing_ids)
        reference = baseline.get(name)
        if reference is None:
            reasons.append(
                f"[{name}] the baseline has no answers for the {name} split (it predates the split); "
                "accept a full run with --update-baseline"
            )
            continue
        verdict = check(
            score, reference, expected_ids=expected, missing=[i for i in missing or [] if i in expected],
            tolerance=tolerance, resamples=resamples, seed=seed,
        )
        reasons += [f"[{name}] {reason}" for reason in verdict.reasons]
        comparisons[name] = verdict.comparison
    return GateResult(passed=not reasons, reasons=reasons, comparison=comparisons, tolerance=tolerance)
