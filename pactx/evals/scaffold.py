"""``pactx eval init``: a starter evals folder for a user's own project.

It writes ``fixtures/cases.jsonl`` (three example cases in the fixture format, schema-valid,
to be replaced by the project's own), a ``GUIDELINES.md`` stub, and empty ``baselines/`` and
``recordings/`` folders. It never overwrites a file unless told to, and then only its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pactx._version import __version__

__all__ = ["starter_cases", "scaffold_files", "init_evals", "ScaffoldConflict"]


class ScaffoldConflict(FileExistsError):
    """Files ``pactx eval init`` would write exist already (``--force`` overwrites them)."""


def _quote(text: str, quote: str) -> dict[str, Any]:
    start = text.index(quote)
    return {"quote": quote, "start": start, "end": start + len(quote)}


def _state(name: str, code: str) -> dict[str, Any]:
    return {"name": name, "role": "member", "code": code, "kind": "state"}


def _gold(case_id: str, agreements: list[dict[str, Any]]) -> dict[str, Any]:
    metadata = {
        "source_id": case_id, "model": "human-annotator-A", "provider": "annotation",
        "prompt_version": "guidelines-v1", "prompt_hash": "", "schema_hash": "", "pactx_version": __version__,
    }
    return {"agreements": agreements, "metadata": metadata}


def _agreement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": None, "obligations": [], "cooperation_areas": [], "provisions": [],
        "signed_date": None, "effective_date": None, "end_date": None, "termination_reason": None,
    }
    return {**base, **fields}


def starter_cases() -> list[dict[str, Any]]:
    """The example cases ``init`` writes: a signed pact, a text with none, and a test-split case."""
    signed = (
        "Estonia and Latvia signed a mutual defence agreement on Tuesday, pledging to treat an "
        "attack on either country as an attack on both."
    )
    talks = "The defence ministers of Chile and Peru met in Lima to discuss border security."
    negotiating = "Portugal and Morocco are negotiating a defence cooperation agreement, officials said."
    return [
        {
            "id": "starter-001", "origin": "suite", "split": "dev", "text": signed, "tags": ["signed"],
            "notes": "One record: the parties signed an instrument whose pledge is mutual defence.",
            "gold": _gold("starter-001", [_agreement(
                evidence=[_quote(signed, "Estonia and Latvia signed a mutual defence agreement")],
                parties=[_state("Estonia", "EST"), _state("Latvia", "LVA")],
                agreement_type="defense_pact", status="signed", obligations=["defense"],
            )]),
        },
        {
            "id": "starter-002", "origin": "suite", "split": "dev", "text": talks, "tags": ["no_agreement"],
            "notes": "Talks with no instrument are not an agreement: no record.",
            "gold": _gold("starter-002", []),
        },
        {
            "id": "starter-003", "origin": "suite", "split": "test", "text": negotiating,
            "tags": ["negotiating"],
            "notes": "Talks on an identified agreement: one record at the negotiating stage.",
            "gold": _gold("starter-003", [_agreement(
                evidence=[_quote(negotiating, "Portugal and Morocco are negotiating a defence cooperation agreement")],
                parties=[_state("Portugal", "PRT"), _state("Morocco", "MAR")],
                agreement_type="defense_cooperation", status="negotiating",
            )]),
        },
    ]


GUIDELINES_STUB = """\
# Annotation guidelines

These rules decide the gold labels in `fixtures/cases.jsonl`. Write a rule here before you
label a case it decides, and cite it in the case's `notes` ("§2.1").

## 1. What counts as an agreement

<!-- Which texts get a record, and which (talks, visits, intentions) do not. -->

## 2. Parties, status and type

<!-- Who is a party; which stage (`proposed` ... `terminated`) a wording gives; which type. -->

## 3. Evidence

Quotes are verbatim substrings of the text; `start`/`end` are their character offsets.

## The fixture format

One JSON object per line: `id`, `text`, `split` (`dev` while you tune prompts, `test` for
cases written afterwards), `tags`, `notes`, and `gold`, a `pactx.ExtractionResult`
(`{"agreements": [...], "metadata": {...}}`). `pactx eval score` checks every line.

pactx's own suite follows much longer guidelines; they ship with pactx:
`python3 -c "from pactx.evals.locations import builtin_suite_dir; print(builtin_suite_dir() / 'GUIDELINES.md')"`.

## Workflow

    PACTX_BASE_URL=... pactx eval --mode record --update-baseline   # once, and on purpose
    pactx eval --mode replay --check --model MODEL                  # in CI: no model needed

Commit `recordings/` and `baselines/` with the fixtures.
"""


def scaffold_files() -> dict[str, str]:
    """What ``init`` writes: path relative to the evals folder, and its content."""
    cases = "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in starter_cases())
    return {
        "fixtures/cases.jsonl": cases,
        "GUIDELINES.md": GUIDELINES_STUB,
        "baselines/.gitkeep": "",
        "recordings/.gitkeep": "",
    }


def init_evals(root: Path, *, force: bool = False) -> list[Path]:
    """Write the starter evals folder at ``root``; the paths written, in order.

    Raises :class:`ScaffoldConflict` naming every file that exists already, before writing
    anything, unless ``force``.
    """
    files = {root / relative: content for relative, content in scaffold_files().items()}
    existing = [path for path in files if path.exists()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        raise ScaffoldConflict(f"refusing to overwrite {names}; pass --force to replace them")
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return list(files)
