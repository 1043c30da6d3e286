"""Seeds → pactx extract → pactx consolidate: one record per duplicated pact, all mentions kept.

The extraction answers come from a loopback server that replies with the fixtures' gold
labels, so this checks the dataset step on correct extractions of the real seed files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from pactx.cli import app
from pactx.evals.fixtures import load_cases
from pactx.testserver import FakeOpenAIServer, document_of

from conftest import SEEDS

runner = CliRunner()


def _gold_answers() -> Any:
    by_text = {case.text: case for case in load_cases()}

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        case = by_text[document_of(request)]
        agreements = []
        for agreement in case.gold:
            data = agreement.model_dump(mode="json", exclude={"cow_type", "plover_event"}, exclude_none=True)
            for party in data["parties"]:
                party.pop("code", None), party.pop("kind", None)
            for quote in data["evidence"]:
                quote.pop("start", None), quote.pop("end", None)
            agreements.append(data)
        return {"agreements": agreements}

    return respond


def test_duplicated_seed_pacts_become_one_record_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(_gold_answers(), model="gold") as server:
        monkeypatch.setenv("PACTX_BASE_URL", server.url)
        extracted = runner.invoke(app, ["extract", *map(str, seeds), "--lines", "-o", str(out)])
    assert extracted.exit_code == 0, extracted.output
    assert len(out.read_text().splitlines()) == 29
    dataset = tmp_path / "dataset"
    result = runner.invoke(app, ["consolidate", str(out), "-o", str(dataset)])
    assert result.exit_code == 0, result.output
    agreements = pd.read_csv(dataset / "agreements.csv")
    mentions = pd.read_csv(dataset / "mentions.csv")

    def record_for(parties: set[str]) -> pd.DataFrame:
        return agreements[agreements["parties"].map(lambda p: set(str(p).split(";")) == parties)]

    for parties, reports in (({"MLI", "NER", "BFA"}, 3), ({"JPN", "ASEAN"}, 2), ({"USA", "SAU"}, 2), ({"USA", "NER"}, 2)):
        rows = record_for(parties)
        assert len(rows) == 1, (parties, agreements[["parties", "n_mentions"]].to_dict("records"))
        assert int(rows.iloc[0]["n_mentions"]) == reports
        assert (mentions["agreement_id"] == rows.iloc[0]["agreement_id"]).sum() == reports
    dyads = pd.read_csv(dataset / "dyads.csv")
    assert set(dyads.columns) >= {"agreement_id", "party_a", "party_b", "ccode_a", "ccode_b"}
    records = [json.loads(line) for line in (dataset / "records.jsonl").read_text().splitlines()]
    sahel = next(r for r in records if {p["code"] for p in r["parties"]} >= {"MLI", "NER", "BFA"})
    assert sahel["merge_reasons"]
