"""What the schema's descriptions cost in prompt tokens and buy in score: ``python3 benchmarks/descriptions.py``.

The schema reaches a model as text in the ``json`` and ``md_json`` modes (instructor writes it
into the system message), and hosted APIs bill its tool or response-format JSON as prompt
tokens too. With the embedded model (mode ``json_schema``) it is only a grammar, and its
descriptions never reach the prompt. So this script measures the case where they do: the
embedded model with the ``direct`` strategy on the fixtures' dev split, its system message
carrying the schema exactly as instructor's ``json`` mode writes it (decoding still
constrained by the same grammar), once with the schema's descriptions as they are
(``full``) and once with each cut to its first clause, at most 60 characters (``short``).

For each variant it prints the prompt tokens per document (reported by llama.cpp; and the
characters / 4 estimate of the request an endpoint would get in ``json`` mode), the dev
headline scores with their 95% intervals, and the paired difference of the two runs. It
changes nothing in pactx: the schema and the recordings stay as they are.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure this checkout, whatever is installed
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pactx.evals.fixtures import default_fixtures_path, load_cases  # noqa: E402
from pactx.evals.metrics import HEADLINE_METRICS  # noqa: E402
from pactx.evals.paired import compare_runs  # noqa: E402
from pactx.evals.runner import predict, write_predictions  # noqa: E402
from pactx.evals.scoring import score_run  # noqa: E402
from pactx.extraction import RESPONSE_MODEL, Extractor  # noqa: E402
from pactx.providers import LlamaCppBackend, ProviderConfig  # noqa: E402
from pactx.tokens import request_tokens  # noqa: E402

SHORT_LIMIT = 60
_CLAUSE_END = re.compile(r"(\.\s|;\s|:\n|\n)")


def shorten(text: str, limit: int = SHORT_LIMIT) -> str:
    """``text`` cut to its first clause, and to at most ``limit`` characters at a word boundary."""
    head = _CLAUSE_END.split(text, maxsplit=1)[0].strip().rstrip(".")
    if len(head) > limit:
        head = head[:limit].rsplit(" ", 1)[0]
    return head


def short_schema(schema: Any) -> Any:
    """A copy of ``schema`` with every description shortened (:func:`shorten`)."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "description" and isinstance(value, str):
                    node[key] = shorten(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(out)
    return out


def schema_message(schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What instructor's ``json`` mode appends to the system message, for ``schema``; and that request."""
    probe = Extractor(base_url="http://127.0.0.1:9/v1", model="probe", mode="json")  # builds, never calls
    request = probe.wire_request("x")
    system = request["messages"][0]["content"]
    full = json.dumps(RESPONSE_MODEL.model_json_schema(), indent=2)
    assert system.startswith(probe.prompt.system) and full in system, "instructor's json mode changed"
    added = system[len(probe.prompt.system):].replace(full, json.dumps(schema, indent=2))
    messages = [dict(m) for m in request["messages"]]
    messages[0]["content"] = probe.prompt.system + added
    return added, {**request, "messages": messages}


class SchemaInPrompt:
    """The embedded backend, with the schema text added to the system message of every call."""

    def __init__(self, inner: LlamaCppBackend, message: str) -> None:
        self.inner, self.message = inner, message
        self.provider, self.model, self.mode = inner.provider, inner.model, inner.mode
        self.config, self.default_strategy = inner.config, "direct"

    def generation_params(self) -> dict[str, Any]:
        return self.inner.generation_params()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def complete(self, **kwargs: Any) -> Any:
        messages = [dict(m) for m in kwargs["messages"]]
        messages[0]["content"] += self.message
        return self.inner.complete(**{**kwargs, "messages": messages})

    async def acomplete(self, **kwargs: Any) -> Any:  # pragma: no cover - predict is synchronous
        return self.complete(**kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--start", type=int, default=0, help="skip the split's first N cases")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--n-ctx", type=int, default=8192, help="context window (the full schema takes ~2,700 tokens)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--predictions", type=Path, default=None, help="folder for full.jsonl and short.jsonl")
    args = parser.parse_args(argv)

    cases = load_cases(default_fixtures_path(), split=args.split)[args.start :]
    cases = cases[: args.limit] if args.limit else cases
    gold = {c.id: c.gold for c in cases}
    texts = {c.id: c.text for c in cases}
    inner = LlamaCppBackend(ProviderConfig(model=args.model, n_ctx=args.n_ctx))
    full = RESPONSE_MODEL.model_json_schema()
    variants = {"full": full, "short": short_schema(full)}
    figures: dict[str, Any] = {}
    scores = {}
    for name, schema in variants.items():
        message, request = schema_message(schema)
        endpoint_tokens = request_tokens(request)  # the json-mode request for a one-letter document, estimated
        extractor = Extractor(backend=SchemaInPrompt(inner, message), strategy="direct", max_reasks=2)
        started = time.perf_counter()
        output = predict(cases, extractor)
        seconds = time.perf_counter() - started
        if args.predictions:
            write_predictions(output.lines, args.predictions / f"{name}.jsonl")
        score = score_run(gold, output.predictions, texts, bootstrap=args.bootstrap)
        scores[name] = score
        prompts = [p.metadata.usage.prompt_tokens / max(p.metadata.attempts, 1)
                   for p in output.predictions.values() if p.metadata is not None]
        figures[name] = {
            "schema_message_chars": len(message),
            "schema_message_tokens": inner.count_tokens(message),
            "endpoint_request_tokens_estimate": endpoint_tokens,
            "prompt_tokens_per_call_mean": round(sum(prompts) / max(len(prompts), 1), 1),
            "failures": sum(1 for p in output.predictions.values() if not p.ok),
            "seconds": round(seconds, 1),
            "headline": {m: score.metric(m).to_dict() for m in HEADLINE_METRICS},
        }
        print(f"{name}: {figures[name]['prompt_tokens_per_call_mean']} prompt tokens per call, "
              f"{figures[name]['failures']} failures, {seconds:.0f} s", file=sys.stderr, flush=True)
    paired = compare_runs(scores["full"], scores["short"]).to_dict()
    figures["short_minus_full"] = paired["metrics"]
    print(f"{args.model}, direct, {args.split} split ({len(cases)} cases), schema in the system message (json mode)\n")
    print("| | full descriptions | short descriptions |")
    print("|---|---|---|")
    for key in ("schema_message_tokens", "endpoint_request_tokens_estimate", "prompt_tokens_per_call_mean", "failures"):
        print(f"| {key} | {figures['full'][key]} | {figures['short'][key]} |")
    for metric in ("detection_f1", "parties_f1", "status_accuracy", "type_accuracy", "schema_valid"):
        cells = []
        for name in ("full", "short"):
            m = figures[name]["headline"][metric]
            ci = "" if m.get("ci_low") is None else f" [{m['ci_low']:.2f}, {m['ci_high']:.2f}]"
            cells.append("–" if m["value"] is None else f"{m['value']:.2f}{ci}")
        d = paired["metrics"][metric]
        diff = "" if d["diff"] is None else f" (short − full {d['diff']:+.3f}, CI [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}])"
        print(f"| {metric} | {cells[0]} | {cells[1]}{diff} |")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
