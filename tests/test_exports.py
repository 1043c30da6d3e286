"""Dataset tables: documented columns, dyads, round trips, JSONL without pandas, the CLI commands."""

from __future__ import annotations

import json
import re
import sys
from math import comb
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pactx import exports
from pactx.cli_dataset import consolidate as consolidate_command
from pactx.cli_dataset import export as export_command
from pactx.consolidation import consolidate
from pactx.records import ConsolidatedAgreement
from pactx.schema import ExtractionResult, RunMetadata, SecurityAgreement

ROOT = Path(__file__).resolve().parent.parent

AGREEMENT_COLUMNS = [
    "agreement_id", "name", "agreement_type", "cow_type", "status", "parties", "n_parties", "bilateral",
    "defense", "offense", "neutral", "nonagg", "consul", "first_reported", "last_reported",
    "signed_date", "effective_date", "end_date", "n_mentions", "merge_reasons",
]  # fmt: skip
MENTION_COLUMNS = [
    "agreement_id", "source_id", "agreement_index", "status", "name", "parties",
    "signed_date", "effective_date", "end_date", "evidence",
]  # fmt: skip
DYAD_COLUMNS = [
    "agreement_id", "party_a", "party_b", "ccode_a", "ccode_b", "agreement_type", "cow_type", "status",
    "defense", "offense", "neutral", "nonagg", "consul", "first_date", "last_date", "n_mentions",
]  # fmt: skip


def _party(code: str, role: str = "member") -> dict[str, str]:
    kind = "organization" if code in {"ASEAN", "AES"} else "state"
    return {"name": code.title(), "code": code, "role": role, "kind": kind}


def _doc(source_id: str, *agreements: dict[str, object]) -> ExtractionResult:
    meta = RunMetadata(
        source_id=source_id,
        model="m",
        provider="t",
        prompt_version="v",
        prompt_hash="h",
        schema_hash="s",
        pactx_version="0",
    )
    return ExtractionResult(
        agreements=[SecurityAgreement.model_validate(a) for a in agreements], metadata=meta
    )


def _pact(
    codes: list[str], status: str = "signed", type_: str = "defense_pact", **kw: object
) -> dict[str, object]:
    parties = [_party(c) if ":" not in c else _party(*c.split(":")) for c in codes]
    return {"evidence": [{"quote": "they signed | a pact", "start": 0, "end": 20}], "parties": parties,
            "agreement_type": type_, "status": status, **kw}  # fmt: skip


def corpus() -> list[ExtractionResult]:
    return [
        _doc("a", _pact(["MLI", "NER", "BFA"], name="Alliance of Sahel States", signed_date="2023-09-16", obligations=["defense", "consultation"])),
        _doc("b", _pact(["MLI", "NER", "BFA"], name="Alliance of Sahel States"), _pact(["JPN", "ASEAN"], "agreed", "security_partnership")),
        _doc("c", _pact(["USA", "GBR", "AUS", "NZL:prospective_member"], "in_force", "security_partnership", name="AUKUS")),
        _doc("d", _pact(["AUS", "TUV"], name="Falepili Union", signed_date="2023-11-10", effective_date="2024-08-28")),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def records() -> list[ConsolidatedAgreement]:
    return consolidate(corpus())


def test_frames_have_exactly_the_documented_columns(records: list[ConsolidatedAgreement]) -> None:
    assert list(exports.agreements_frame(records).columns) == AGREEMENT_COLUMNS
    assert list(exports.to_pandas(records).columns) == AGREEMENT_COLUMNS
    assert list(exports.mentions_frame(records).columns) == MENTION_COLUMNS
    assert list(exports.dyads_frame(records).columns) == DYAD_COLUMNS
    assert list(exports.agreements_frame([]).columns) == AGREEMENT_COLUMNS


def test_every_column_is_documented() -> None:
    text = (ROOT / "docs" / "dataset.md").read_text(encoding="utf-8")
    for table, columns in (
        ("agreements", AGREEMENT_COLUMNS),
        ("mentions", MENTION_COLUMNS),
        ("dyads", DYAD_COLUMNS),
    ):
        section = text.split(f"### `{table}`", 1)[1].split("\n### ", 1)[0]
        documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
        assert documented == columns, table


def test_agreement_rows(records: list[ConsolidatedAgreement]) -> None:
    frame = exports.agreements_frame(records).set_index("name", drop=False)
    aes = frame.loc["Alliance of Sahel States"]
    assert aes["parties"] == "BFA;MLI;NER" and aes["n_parties"] == 3 and not aes["bilateral"]
    assert aes["defense"] and aes["consul"] and not aes["offense"]
    assert (aes["first_reported"], aes["last_reported"], aes["n_mentions"]) == ("a", "b", 2)
    assert aes["cow_type"] == "Type I: Defense Pact" and aes["signed_date"] == "2023-09-16"
    assert "same party set" in aes["merge_reasons"]
    aukus = frame.loc["AUKUS"]
    assert aukus["parties"] == "AUS;GBR;USA" and aukus["n_parties"] == 3  # prospective NZL is not counted
    tuv = frame.loc["Falepili Union"]
    assr = (tuv["bilateral"], tuv["effective_date"], tuv["status"])
    assert assr == (True, "2024-08-28", "signed")


def test_dyads_one_row_per_pair_with_cow_codes(records: list[ConsolidatedAgreement]) -> None:
    dyads = exports.dyads_frame(records)
    agreements = exports.agreements_frame(records)
    assert len(dyads) == sum(comb(int(n), 2) for n in agreements["n_parties"])
    assert (dyads["party_a"] < dyads["party_b"]).all()
    rows = {(r.party_a, r.party_b): r for r in dyads.itertuples()}
    assert (rows["BFA", "MLI"].ccode_a, rows["BFA", "MLI"].ccode_b) == (439, 432)
    assert rows["ASEAN", "JPN"].ccode_b == 740 and rows["ASEAN", "JPN"].ccode_a is pd_na()
    assert rows["AUS", "TUV"].ccode_a == 900  # Australia is COW 900 (COW "AUS" is Austria, 305)
    assert (rows["AUS", "TUV"].first_date, rows["AUS", "TUV"].last_date) == ("2023-11-10", "2024-08-28")
    assert str(dyads["ccode_a"].dtype) == "Int64"


def pd_na() -> object:
    import pandas as pd

    return pd.NA


def test_mention_rows(records: list[ConsolidatedAgreement]) -> None:
    mentions = exports.mentions_frame(records)
    assert len(mentions) == 5
    aukus = mentions[mentions["name"] == "AUKUS"].iloc[0]
    assert aukus["parties"] == "USA;GBR;AUS;NZL" and aukus["evidence"] == "they signed | a pact"
    assert set(mentions["agreement_id"]) == {r.id for r in records}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_round_trip(records: list[ConsolidatedAgreement], tmp_path: Path, fmt: str) -> None:
    import pandas as pd

    written = exports.write_dataset(records, tmp_path, formats=(fmt,))
    assert sorted(p.name for p in written) == sorted(
        [f"agreements.{fmt}", f"mentions.{fmt}", f"dyads.{fmt}", "records.jsonl"]
    )
    for name, build in (
        ("agreements", exports.agreements_frame),
        ("mentions", exports.mentions_frame),
        ("dyads", exports.dyads_frame),
    ):
        back = exports.read_table(tmp_path / f"{name}.{fmt}")
        pd.testing.assert_frame_equal(back, build(records))
    raw = pd.read_parquet(tmp_path / "dyads.parquet") if fmt == "parquet" else None
    assert raw is None or list(raw.columns) == DYAD_COLUMNS


def test_records_jsonl_is_lossless(records: list[ConsolidatedAgreement], tmp_path: Path) -> None:
    path = exports.write_records(records, tmp_path / "records.jsonl")
    assert exports.read_records(path) == records


def test_jsonl_needs_no_pandas(
    records: list[ConsolidatedAgreement], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # any `import pandas` now fails
    exports.write_dataset(records, tmp_path, formats=["jsonl"])
    lines = (tmp_path / "agreements.jsonl").read_text(encoding="utf-8").splitlines()
    assert [list(json.loads(line)) for line in lines] == [AGREEMENT_COLUMNS] * len(records)
    with pytest.raises(ImportError, match=r"pactx\[data\]"):
        exports.write_dataset(records, tmp_path, formats=["csv"])


def test_unknown_format_is_refused(records: list[ConsolidatedAgreement], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="xlsx"):
        exports.write_dataset(records, tmp_path, formats=["xlsx"])


# --------------------------------------------------------------------------- CLI


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False)
    app.command("consolidate")(consolidate_command)
    app.command("export")(export_command)
    return app


def _extraction_file(path: Path) -> Path:
    lines = [
        json.dumps({"id": d.metadata.source_id, "source": "seeds", "result": d.model_dump(mode="json")})
        for d in corpus()
    ]
    lines.append(
        json.dumps({"id": "e", "source": "seeds", "error": {"type": "ExtractionError", "message": "x"}})
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_consolidate_then_export(tmp_path: Path) -> None:
    source = _extraction_file(tmp_path / "out.jsonl")
    result = CliRunner().invoke(
        _app(), ["consolidate", str(source), "-o", str(tmp_path / "ds"), "-f", "jsonl", "-f", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "ds").iterdir()} == {
        "agreements.jsonl", "mentions.jsonl", "dyads.jsonl", "agreements.csv", "mentions.csv", "dyads.csv", "records.jsonl",
    }  # fmt: skip
    assert "merged clusters" in result.output
    again = CliRunner().invoke(
        _app(),
        ["export", str(tmp_path / "ds" / "records.jsonl"), "--format", "parquet", "-o", str(tmp_path / "pq")],
    )
    assert again.exit_code == 0, again.output
    assert {p.name for p in (tmp_path / "pq").iterdir()} == {
        "agreements.parquet",
        "mentions.parquet",
        "dyads.parquet",
    }
    direct = CliRunner().invoke(_app(), ["export", str(source), "-f", "jsonl", "-o", str(tmp_path / "j")])
    assert direct.exit_code == 0, direct.output
    assert (tmp_path / "j" / "dyads.jsonl").read_text() == (tmp_path / "ds" / "dyads.jsonl").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "result": \n', "bad.jsonl:1: not valid JSON"),
        ('{"id": "a", "result": {"agreements": []}}\n', "bad.jsonl:1: not a pactx extraction result"),
        ('{"agreement_id": "agr-1"}\n', "bad.jsonl:1: this is a flat dataset table"),
    ],
)
def test_cli_names_the_bad_input(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(_app(), ["consolidate", str(bad), "-o", str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_cli_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["export", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "no such file" in result.output
