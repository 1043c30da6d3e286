"""A pytest helper: fail a test when extraction got worse than the accepted baseline.

>>> # tests/test_evals.py in your project
>>> from pactx.evals.testing import assert_no_regression
>>> def test_no_eval_regression():
...     assert_no_regression(model="gpt-4o-mini")

It replays the recorded answers (no model, no network), scores them on the fixtures of the
resolved evals folder (see :mod:`pactx.evals.locations`) and applies the same gate as
``pactx eval --mode replay --check``.
"""

from __future__ import annotations

from pathlib import Path

from pactx.evals.baselines import baseline_paths, check_against_baseline
from pactx.evals.fixtures import load_cases
from pactx.evals.gate import DEFAULT_TOLERANCE, GateResult
from pactx.evals.locations import Suite
from pactx.evals.runner import RunSpec, make_extractor, predict

__all__ = ["EvalRegression", "check_no_regression", "assert_no_regression"]


class EvalRegression(AssertionError):
    """The run fell below its baseline (or could not be compared); ``verdict`` says why."""

    def __init__(self, message: str, verdict: GateResult | None = None) -> None:
        super().__init__(message)
        self.verdict = verdict


def check_no_regression(
    model: str | None = None,
    *,
    strategy: str | None = None,
    evals_dir: str | Path | None = None,
    suite: str = "project",
    split: str = "all",
    tolerance: float = DEFAULT_TOLERANCE,
    bootstrap: int = 500,
) -> GateResult:
    """Replay the recordings of ``model`` over the suite and return the gate's verdict.

    Raises :class:`EvalRegression` when there is no baseline to compare with.
    """
    where = Suite(suite, evals_dir=evals_dir)
    cases = load_cases(where.fixtures, split=split)
    extractor = make_extractor(RunSpec(mode="replay", model=model, strategy=strategy, recordings=where.recordings))
    output = predict(cases, extractor)
    _, predictions_file = baseline_paths(where.baselines, output.model, extractor.strategy)
    if not predictions_file.exists():
        raise EvalRegression(
            f"no baseline for {output.model} ({extractor.strategy}) at {predictions_file}; "
            "accept a run with `pactx eval --mode record --update-baseline`"
        )
    return check_against_baseline(
        cases, output.predictions, predictions_file,
        missing=output.replay_misses, tolerance=tolerance, bootstrap=bootstrap,
    )


def assert_no_regression(
    model: str | None = None,
    *,
    strategy: str | None = None,
    evals_dir: str | Path | None = None,
    suite: str = "project",
    split: str = "all",
    tolerance: float = DEFAULT_TOLERANCE,
    bootstrap: int = 500,
) -> GateResult:
    """Like :func:`check_no_regression`, but raise :class:`EvalRegression` (an ``AssertionError``,
    so pytest reports it as a failed test) with the gate's reasons when the gate fails."""
    verdict = check_no_regression(
        model, strategy=strategy, evals_dir=evals_dir, suite=suite, split=split,
        tolerance=tolerance, bootstrap=bootstrap,
    )
    if not verdict.passed:
        reasons = "\n".join(f"  - {reason}" for reason in verdict.reasons)
        raise EvalRegression(f"eval regression against the baseline:\n{reasons}", verdict)
    return verdict
