"""Eval runs: predictions over the fixtures (live, record or replay), scores and the report.

Generating predictions and scoring them are separate steps: :func:`predict` writes a
predictions JSONL file in ``pactx extract``'s format, and :func:`evaluate` scores any such
file (from pactx or another tool) against the gold without calling a model.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pactx._version import __version__
from pactx.baseline import BASELINE_MODEL, baseline_agreements
from pactx.errors import PactxError, ReplayMissError
from pactx.evals.calibration import calibrate
from pactx.evals.fixtures import Case, by_split, evals_dir, fixture_hash
from pactx.evals.metrics import HEADLINE_METRICS
from pactx.evals.paired import compare_runs
from pactx.evals.predictions import Prediction
from pactx.evals.recording import RecordingBackend, Recordings, ReplayBackend
from pactx.evals.scoring import RunScore, score_run
from pactx.extraction import Extractor, default_prompt, resolve_strategy, schema_hash
from pactx.pricing import Price, price_for
from pactx.prompts import Prompt, load_prompt
from pactx.providers import (
    DEFAULT_EMBEDDED_MODEL,
    MODES,
    ProviderConfig,
    make_backend,
)
from pactx.redaction import redact
from pactx.schema import TokenUsage

__all__ = [
    "MODES_OF_RUN",
    "RunSpec",
    "RunOutput",
    "make_extractor",
    "predict",
    "floor_predictions",
    "evaluate",
    "score_splits",
    "second_annotator_agreement",
]

MODES_OF_RUN = ("live", "record", "replay")
REPORT_VERSION = 1


def recordings_dir() -> Path:
    return evals_dir() / "recordings"


@dataclass(frozen=True)
class RunSpec:
    """What to run: mode, model/endpoint and prompt."""

    mode: str = "replay"
    model: str | None = None
    base_url: str | None = None
    prompt: str | None = None
    strategy: str | None = None
    max_reasks: int = 2
    recordings: Path | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES_OF_RUN:
            raise PactxError(f"unknown eval mode {self.mode!r}; choose live, record or replay")


def _identity_path(root: Path, model: str) -> Path:
    return Recordings(root, model).path.with_name("backend.json")


def _prompt(spec: RunSpec, strategy: str) -> Prompt:
    return load_prompt(spec.prompt or default_prompt(strategy))


def make_extractor(spec: RunSpec) -> Extractor:
    """An extractor for the run: live, recording every answer, or replaying recordings.

    Only replay and record read or write recordings, so only they need an evals folder; a live
    run needs none (``--suite builtin --mode live`` from any folder)."""
    if spec.mode == "replay":
        root = spec.recordings or recordings_dir()
        model = spec.model or DEFAULT_EMBEDDED_MODEL
        identity_file = _identity_path(root, model)
        if not identity_file.exists():
            raise ReplayMissError(
                f"no recordings for model {model!r} in {identity_file.parent}; "
                "run `pactx eval --mode record` first"
            )
        identity = json.loads(identity_file.read_text(encoding="utf-8"))
        strategy = resolve_strategy(spec.strategy, identity.get("default_strategy", "direct"))
        prompt = _prompt(spec, strategy)
        backend = ReplayBackend(
            Recordings(root, model),
            model=identity["model"],
            provider=identity["provider"],
            mode=MODES[identity["mode"]],
            params=identity["params"],
            prompt_hash=prompt.sha256,
            schema_hash=schema_hash(),
        )
        return Extractor(backend=backend, prompt=prompt, strategy=strategy, max_reasks=spec.max_reasks)
    config = ProviderConfig.from_env(base_url=spec.base_url, model=spec.model)
    inner = make_backend(config)
    strategy = resolve_strategy(spec.strategy, getattr(inner, "default_strategy", "direct"))
    prompt = _prompt(spec, strategy)
    if spec.mode == "live":
        return Extractor(backend=inner, prompt=prompt, strategy=strategy, max_reasks=spec.max_reasks)
    root = spec.recordings or recordings_dir()
    recordings = Recordings(root, inner.model)
    mode_name = getattr(inner, "mode_name", None) or next(name for name, mode in MODES.items() if mode == inner.mode)
    identity = {
        "model": inner.model,
        "provider": inner.provider,
        "mode": mode_name,
        "params": inner.generation_params(),
        "default_strategy": getattr(inner, "default_strategy", "direct"),
    }
    identity_file = _identity_path(root, inner.model)
    identity_file.parent.mkdir(parents=True, exist_ok=True)
    identity_file.write_text(json.dumps(identity, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    backend = RecordingBackend(inner, recordings, prompt.sha256, schema_hash())
    return Extractor(backend=backend, prompt=prompt, strategy=strategy, max_reasks=spec.max_reasks)


@dataclass
class RunOutput:
    """Predictions of one run and what the run cost."""

    predictions: dict[str, Prediction]
    lines: list[dict[str, Any]]
    model: str
    provider: str
    prompt: Prompt
    seconds: float
    replay_misses: list[str]


def predict(
    cases: list[Case],
    extractor: Extractor,
    *,
    on_done: Callable[[str, bool], None] | None = None,
) -> RunOutput:
    """Run the extractor over every case; one failed case never stops the others."""
    predictions: dict[str, Prediction] = {}
    lines: list[dict[str, Any]] = []
    misses: list[str] = []
    started = time.perf_counter()
    for case in cases:
        try:
            result = extractor.extract(case.text, source_id=case.id)
        except ReplayMissError as exc:
            misses.append(case.id)
            lines.append({"id": case.id, "error": {"type": "ReplayMissError", "message": str(exc)}})
            if on_done:
                on_done(case.id, False)
            continue
        except PactxError as exc:
            message = redact(str(exc))
            predictions[case.id] = Prediction.failed(message)
            lines.append({"id": case.id, "error": {"type": type(exc).__name__, "message": message}})
            if on_done:
                on_done(case.id, False)
            continue
        predictions[case.id] = Prediction.from_result(result)
        lines.append({"id": case.id, "source": "fixtures", "result": result.model_dump(mode="json")})
        if on_done:
            on_done(case.id, True)
    return RunOutput(
        predictions=predictions,
        lines=lines,
        model=extractor.backend.model,
        provider=extractor.backend.provider,
        prompt=extractor.prompt,
        seconds=time.perf_counter() - started,
        replay_misses=misses,
    )


def floor_predictions(cases: list[Case]) -> dict[str, Prediction]:
    """The rule-based floor's predictions (no model); a document it fails on is a failed prediction."""
    predictions: dict[str, Prediction] = {}
    for case in cases:
        try:
            predictions[case.id] = Prediction(agreements=baseline_agreements(case.text))
        except (PactxError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            predictions[case.id] = Prediction.failed(redact(f"floor failed: {type(exc).__name__}: {exc}"))
    return predictions


def _usage_totals(predictions: dict[str, Prediction]) -> tuple[TokenUsage, float]:
    """Tokens summed over the documents (re-asks included), and their latency."""
    usage, latency = TokenUsage(), 0.0
    for prediction in predictions.values():
        if prediction.metadata is not None:
            usage = usage.add(prediction.metadata.usage)
            latency += prediction.metadata.latency_s
    return usage, latency


def tokens_by_document(predictions: dict[str, Prediction]) -> dict[str, dict[str, int]]:
    """Prompt, completion and cached tokens of each document with a result."""
    return {
        doc_id: p.metadata.usage.model_dump(include={"prompt_tokens", "completion_tokens", "cached_tokens"})
        for doc_id, p in predictions.items()
        if p.metadata is not None
    }


def _cost(usage: TokenUsage, price: Price | None) -> dict[str, Any] | None:
    if price is None:
        return None
    return {"usd": round(price.cost(usage), 6), "price": price.to_dict()}


def _run_identity(predictions: dict[str, Prediction]) -> dict[str, Any]:
    for prediction in predictions.values():
        if prediction.metadata is not None:
            meta = prediction.metadata
            return {
                "model": meta.model,
                "provider": meta.provider,
                "prompt_version": meta.prompt_version,
                "prompt_hash": meta.prompt_hash,
                "schema_hash": meta.schema_hash,
                "constraints_hash": meta.constraints_hash,
            }
    return {}


def score_splits(
    cases: list[Case],
    predictions: dict[str, Prediction],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, RunScore]:
    """Score the predictions separately on each split the cases hold (``dev``, ``test``, ``holdout3``, ...)."""
    scores: dict[str, RunScore] = {}
    for name, group in by_split(cases).items():
        gold = {case.id: case.gold for case in group}
        texts = {case.id: case.text for case in group}
        subset = {case.id: predictions[case.id] for case in group if case.id in predictions}
        scores[name] = score_run(gold, subset, texts, bootstrap=bootstrap, seed=seed)
    return scores


def _headline(score: RunScore) -> dict[str, Any]:
    return {name: score.metric(name).to_dict() for name in HEADLINE_METRICS}


def evaluate(
    cases: list[Case],
    predictions: dict[str, Prediction],
    *,
    fixtures_path: Path | None = None,
    run_info: dict[str, Any] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    price: Price | None = None,
) -> tuple[dict[str, Any], RunScore]:
    """Score predictions against the gold and build the JSON report (floor included).

    The run's cost is priced at ``price``, else at the built-in price of its model, if any
    (:func:`pactx.pricing.price_for`); ``run.cost`` is ``None`` when neither is known.
    """
    gold = {case.id: case.gold for case in cases}
    texts = {case.id: case.text for case in cases}
    score = score_run(gold, predictions, texts, bootstrap=bootstrap, seed=seed)
    floor_by_doc = floor_predictions(cases)
    floor = score_run(gold, floor_by_doc, texts, bootstrap=bootstrap, seed=seed)
    floor_splits = score_splits(cases, floor_by_doc, bootstrap=bootstrap, seed=seed)
    splits = {
        name: {"cases": len(split.documents), "headline": _headline(split),
               "floor": {"headline": _headline(floor_splits[name])}}
        for name, split in score_splits(cases, predictions, bootstrap=bootstrap, seed=seed).items()
    }
    usage, latency = _usage_totals(predictions)
    n_docs = max(len(cases), 1)
    info = {
        **_run_identity(predictions),
        "pactx_version": __version__,
        "fixtures": str(fixtures_path) if fixtures_path else None,
        "fixture_hash": fixture_hash(fixtures_path) if fixtures_path else None,
        "split": "all",
        "cases": len(cases),
        "cases_by_split": {name: entry["cases"] for name, entry in splits.items()},
        "failures": sum(1 for p in predictions.values() if not p.ok),
        "tokens": usage.model_dump(),
        "latency_s_total": round(latency, 3),
        "seconds_per_document": round(latency / n_docs, 3),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **(run_info or {}),
    }
    info["cost"] = _cost(usage, price or price_for(info.get("model"), info.get("provider")))
    report = {
        "report_version": REPORT_VERSION,
        "run": info,
        "headline": _headline(score),
        "splits": splits,
        "scores": score.to_dict(),
        "floor": {"model": BASELINE_MODEL, "headline": _headline(floor)},
        "calibration": calibrate(gold, predictions).to_dict(),
        "tokens_by_document": tokens_by_document(predictions),
    }
    return report, score


def second_annotator_agreement(
    cases: list[Case], second: list[Case], *, bootstrap: int = 1000, seed: int = 0
) -> dict[str, Any] | None:
    """Score annotator B against annotator A with the same scorer: the practical ceiling."""
    if not second:
        return None
    by_id = {case.id: case for case in cases}
    shared = [case for case in second if case.id in by_id]
    if not shared:
        return None
    gold = {case.id: by_id[case.id].gold for case in shared}
    texts = {case.id: by_id[case.id].text for case in shared}
    predictions = {case.id: Prediction(agreements=case.gold) for case in shared}
    score = score_run(gold, predictions, texts, bootstrap=bootstrap, seed=seed)
    return {
        "cases": len(shared),
        "splits": sorted({by_id[case.id].split for case in shared}),
        "share_of_fixtures": round(len(shared) / max(len(cases), 1), 3),
        "headline": {name: score.metric(name).to_dict() for name in HEADLINE_METRICS},
    }


def compare(baseline: RunScore, current: RunScore) -> dict[str, Any]:
    """Paired comparison (current minus baseline) as a JSON-able dict."""
    return compare_runs(baseline, current).to_dict()


def write_predictions(lines: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
