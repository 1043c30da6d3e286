"""The eval harness end to end: record, replay, score, reports and the CI gate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pactx.cli import app
from pactx.evals.fixtures import default_fixtures_path, load_cases
from pactx.testserver import FakeOpenAIServer, document_of

runner = CliRunner()
CASE_IDS = ("seed-001-09", "seed-000-09", "seed-000-02", "seed-001-08", "seed-000-01", "seed-001-13")


@pytest.fixture
def evals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private evals/ folder holding a few real fixture cases."""
    root = tmp_path / "evals"
    (root / "fixtures").mkdir(parents=True)
    lines = default_fixtures_path().read_text(encoding="utf-8").splitlines()
    keep = [line for line in lines if json.loads(line)["id"] in CASE_IDS]
    assert len(keep) == len(CASE_IDS)
    (root / "fixtures" / "cases.jsonl").write_text("\n".join(keep) + "\n", encoding="utf-8")
    monkeypatch.setenv("PACTX_EVALS_DIR", str(root))
    return root


def gold_responder(root: Path, *, degrade: bool = False):
    """Answer every request with the gold labels of the document (optionally made worse)."""
    cases = {case.text: case for case in load_cases(root / "fixtures" / "cases.jsonl")}

    def respond(request: dict[str, Any]) -> dict[str, Any]:
        case = cases[document_of(request)]
        agreements = [
            a.model_dump(mode="json", exclude={"cow_type", "plover_event"}, exclude_none=True)
            for a in case.gold
        ]
        if degrade:
            agreements = []  # a planted regression: the model stops finding agreements
        for agreement in agreements:
            for party in agreement["parties"]:
                party.pop("code", None)
                party.pop("kind", None)
            for quote in agreement["evidence"]:
                quote.pop("start", None)
                quote.pop("end", None)
        return {"agreements": agreements}

    return respond


def run_eval(args: list[str], monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer | None, out: Path):
    if server is not None:
        monkeypatch.setenv("PACTX_BASE_URL", server.url)
    else:
        monkeypatch.delenv("PACTX_BASE_URL", raising=False)
    return runner.invoke(app, ["eval", *args, "--out", str(out), "--bootstrap", "200"])


def test_record_then_replay_without_a_model(evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(gold_responder(evals), model="gold-model") as server:
        recorded = run_eval(["--mode", "record"], monkeypatch, server, tmp_path / "rec")
        calls = server.completions
    assert recorded.exit_code == 0, recorded.output
    assert calls == len(CASE_IDS)
    stored = (evals / "recordings" / "gold-model" / "responses.jsonl").read_text().splitlines()
    assert len(stored) == len(CASE_IDS)
    replayed = run_eval(["--mode", "replay", "--model", "gold-model"], monkeypatch, None, tmp_path / "rep")
    assert replayed.exit_code == 0, replayed.output
    rec = json.loads((tmp_path / "rec" / "report.json").read_text())
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["headline"] == rec["headline"]
    assert rep["headline"]["detection_f1"]["value"] == 1.0  # gold answers score perfectly
    assert rep["headline"]["parties_f1"]["value"] == 1.0
    for key in ("model", "provider", "prompt_version", "prompt_hash", "fixture_hash", "pactx_version", "tokens", "date"):
        assert key in rep["run"]
    markdown = (tmp_path / "rep" / "report.md").read_text()
    assert rep["run"]["prompt_hash"][:12] in markdown and "floor" in markdown
    html = (tmp_path / "rep" / "report.html").read_text()
    assert '<mark class="both">' in html and "seed-001-09" in html


def test_changed_prompt_is_never_answered_from_old_recordings(
    evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(gold_responder(evals), model="gold-model") as server:
        assert run_eval(["--mode", "record"], monkeypatch, server, tmp_path / "rec").exit_code == 0
    prompt = Path(__file__).resolve().parents[1] / "prompts" / "extract_v1.toml"
    changed = tmp_path / "changed.toml"
    changed.write_text(prompt.read_text(encoding="utf-8").replace("You extract", "You carefully extract"), encoding="utf-8")
    result = run_eval(["--mode", "replay", "--model", "gold-model", "--prompt", str(changed)], monkeypatch, None, tmp_path / "x")
    assert result.exit_code == 1
    assert "no recording" in result.output


def test_errors_are_never_recorded(evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: dict[str, Any]) -> dict[str, Any]:
        return {"agreements": [{"evidence": [{"quote": "not in any text at all"}], "parties": [{"name": "Atlantis"}],
                                "agreement_type": "other", "status": "signed"}]}

    with FakeOpenAIServer(refuse, model="bad-model") as server:
        result = run_eval(["--mode", "record", "--limit", "1"], monkeypatch, server, tmp_path / "rec")
        invalid_calls = server.completions
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "rec" / "report.json").read_text())
    assert report["headline"]["schema_valid"]["value"] == 0.0
    # invalid answers are real responses: every one (first try and re-asks) is recorded
    invalid = (evals / "recordings" / "bad-model" / "responses.jsonl").read_text().splitlines()
    assert invalid_calls > 1 and len(invalid) == invalid_calls
    assert all("Atlantis" in json.dumps(json.loads(line)["response"]) for line in invalid)
    # transport errors are not: the run goes on, the document is scored as failed, nothing is stored
    with FakeOpenAIServer(gold_responder(evals), model="down-model") as server:
        server.faults.script[:] = ["500"] * 30
        faulted = run_eval(["--mode", "record", "--limit", "1"], monkeypatch, server, tmp_path / "rec2")
        faulted_calls = server.completions
    assert faulted.exit_code == 0, faulted.output
    assert faulted_calls > 1  # the server was asked, and the client retried
    [document] = json.loads((tmp_path / "rec2" / "report.json").read_text())["scores"]["documents"]
    assert document["status"] == "failed" and "500" in document["error"], document
    responses = evals / "recordings" / "down-model" / "responses.jsonl"
    assert not responses.exists() or responses.read_text() == ""


def test_gate_fails_on_planted_regression_and_passes_on_the_same_run(
    evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(gold_responder(evals), model="gate-model") as server:
        accepted = run_eval(["--mode", "live", "--update-baseline"], monkeypatch, server, tmp_path / "a")
        assert accepted.exit_code == 0, accepted.output
        assert (evals / "baselines" / "gate-model.direct.json").exists()
        same = run_eval(["--mode", "live", "--check"], monkeypatch, server, tmp_path / "b")
        assert same.exit_code == 0, same.output
    with FakeOpenAIServer(gold_responder(evals, degrade=True), model="gate-model") as server:
        worse = run_eval(["--mode", "live", "--check"], monkeypatch, server, tmp_path / "c")
    assert worse.exit_code == 1
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    assert report["gate"]["passed"] is False
    assert any("detection_f1" in reason for reason in report["gate"]["reasons"])


def test_gate_fails_when_a_case_is_missing(evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(gold_responder(evals), model="gold-model") as server:
        assert run_eval(["--mode", "record", "--update-baseline"], monkeypatch, server, tmp_path / "a").exit_code == 0
    # a new case appears in the fixtures with no recording
    extra = json.loads(default_fixtures_path().read_text(encoding="utf-8").splitlines()[0])
    extra["id"] = "new-case"
    extra["text"] = extra["text"] + " (updated)"
    with (evals / "fixtures" / "cases.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(extra) + "\n")
    result = run_eval(["--mode", "replay", "--model", "gold-model", "--check"], monkeypatch, None, tmp_path / "b")
    assert result.exit_code == 1
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert any("missing" in reason and "new-case" in reason for reason in report["gate"]["reasons"])


def test_score_any_predictions_file_without_a_model(evals: Path, tmp_path: Path) -> None:
    cases = load_cases(evals / "fixtures" / "cases.jsonl")
    predictions = tmp_path / "other-tool.jsonl"
    with predictions.open("w", encoding="utf-8") as handle:
        for case in cases[:-1]:  # one case left out: scored as missing
            handle.write(json.dumps({"id": case.id, "agreements": [a.model_dump(mode="json") for a in case.gold]}) + "\n")
    result = runner.invoke(app, ["eval", "score", str(predictions), "--out", str(tmp_path / "s"), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert report["scores"]["missing_ids"] == [cases[-1].id]
    assert report["headline"]["schema_valid"]["value"] == pytest.approx((len(cases) - 1) / len(cases))


def test_replay_with_no_recordings_is_a_clear_error(evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_eval(["--mode", "replay", "--model", "never-recorded"], monkeypatch, None, tmp_path / "r")
    assert result.exit_code == 2
    assert "no recordings" in result.output


TEST_SPLIT = ("seed-001-09", "seed-000-09", "seed-001-08")


@pytest.fixture
def split_evals(evals: Path) -> Path:
    """The private fixtures with three of the cases moved to the ``test`` split."""
    path = evals / "fixtures" / "cases.jsonl"
    raws = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for raw in raws:
        raw["split"] = "test" if raw["id"] in TEST_SPLIT else "dev"
    path.write_text("".join(json.dumps(raw, ensure_ascii=False) + "\n" for raw in raws), encoding="utf-8")
    return evals


def test_reports_show_each_split(split_evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(gold_responder(split_evals), model="gold-model") as server:
        result = run_eval(["--mode", "live"], monkeypatch, server, tmp_path / "all")
        assert result.exit_code == 0, result.output
        only_test = run_eval(["--mode", "live", "--split", "test"], monkeypatch, server, tmp_path / "test")
        assert only_test.exit_code == 0, only_test.output
    report = json.loads((tmp_path / "all" / "report.json").read_text())
    assert report["run"]["split"] == "all"
    assert report["run"]["cases_by_split"] == {"dev": 3, "test": 3}
    assert set(report["splits"]) == {"dev", "test"}
    assert report["splits"]["test"]["headline"]["detection_f1"]["value"] == 1.0
    assert "floor" in report["splits"]["dev"]
    markdown = (tmp_path / "all" / "report.md").read_text()
    assert "| metric | dev | dev floor | test | test floor |" in markdown
    assert "test floor</th>" in (tmp_path / "all" / "report.html").read_text()
    narrowed = json.loads((tmp_path / "test" / "report.json").read_text())
    assert narrowed["run"]["split"] == "test" and narrowed["run"]["cases"] == 3
    assert set(narrowed["splits"]) == {"test"}
    assert {doc["id"] for doc in narrowed["scores"]["documents"]} == set(TEST_SPLIT)


def test_gate_fails_on_a_regression_in_the_test_split_alone(
    split_evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(gold_responder(split_evals), model="gate-model") as server:
        accepted = run_eval(["--mode", "live", "--update-baseline"], monkeypatch, server, tmp_path / "a")
        assert accepted.exit_code == 0, accepted.output
    baseline = json.loads((split_evals / "baselines" / "gate-model.direct.json").read_text())
    assert set(baseline["splits"]) == {"dev", "test"}  # --update-baseline writes both splits
    gold = gold_responder(split_evals)
    broken = gold_responder(split_evals, degrade=True)
    test_texts = {case.text for case in load_cases(split_evals / "fixtures" / "cases.jsonl", split="test")}

    def regress_on_test(request: dict[str, Any]) -> dict[str, Any]:
        return (broken if document_of(request) in test_texts else gold)(request)

    with FakeOpenAIServer(regress_on_test, model="gate-model") as server:
        worse = run_eval(["--mode", "live", "--check"], monkeypatch, server, tmp_path / "c")
        dev_only = run_eval(["--mode", "live", "--check", "--split", "dev"], monkeypatch, server, tmp_path / "d")
    assert worse.exit_code == 1
    gate = json.loads((tmp_path / "c" / "report.json").read_text())["gate"]
    assert gate["passed"] is False
    assert gate["reasons"] and all(reason.startswith("[test] ") for reason in gate["reasons"])
    assert any("detection_f1" in reason for reason in gate["reasons"])
    assert set(gate["comparison"]) == {"dev", "test"}
    assert dev_only.exit_code == 0, dev_only.output  # the dev split alone is unchanged


def test_gate_reports_a_split_missing_from_an_old_baseline(
    split_evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(gold_responder(split_evals), model="gate-model") as server:
        assert run_eval(["--mode", "live", "--update-baseline"], monkeypatch, server, tmp_path / "a").exit_code == 0
        # an old baseline: answers for the dev cases only, no per-split scores
        answers = split_evals / "baselines" / "gate-model.direct.predictions.jsonl"
        kept = [line for line in answers.read_text().splitlines() if json.loads(line)["id"] not in TEST_SPLIT]
        answers.write_text("\n".join(kept) + "\n")
        report_file = split_evals / "baselines" / "gate-model.direct.json"
        old = json.loads(report_file.read_text())
        del old["splits"]
        report_file.write_text(json.dumps(old))
        result = run_eval(["--mode", "live", "--check"], monkeypatch, server, tmp_path / "b")
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    gate = json.loads((tmp_path / "b" / "report.json").read_text())["gate"]
    assert gate["reasons"] == [gate["reasons"][0]] and gate["reasons"][0].startswith("[test] the baseline has no answers")
    table = runner.invoke(app, ["eval", "table"])
    assert table.exit_code == 0, table.output
    assert "| gate-model · direct | all (baseline predates the split) |" in table.output


def test_table_shows_each_model_on_each_split(split_evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(gold_responder(split_evals), model="gate-model") as server:
        assert run_eval(["--mode", "live", "--update-baseline"], monkeypatch, server, tmp_path / "a").exit_code == 0
    table = runner.invoke(app, ["eval", "table"])
    assert table.exit_code == 0, table.output
    assert "| gate-model · direct | dev | 1.00" in table.output and "| gate-model · direct | test | 1.00" in table.output
    assert "| floor (rules, no LLM) | test |" in table.output


def test_split_runs_refuse_to_update_the_baseline(split_evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(gold_responder(split_evals), model="gate-model") as server:
        result = run_eval(["--mode", "live", "--split", "dev", "--update-baseline"], monkeypatch, server, tmp_path / "a")
        unknown = run_eval(["--mode", "live", "--split", "train"], monkeypatch, server, tmp_path / "b")
    assert result.exit_code == 1 and "refusing" in result.output
    assert not (split_evals / "baselines" / "gate-model.direct.json").exists()
    assert unknown.exit_code == 2 and "unknown split" in unknown.output


HOLDOUT_SPLIT = ("seed-000-01", "seed-001-13")


@pytest.fixture
def holdout_evals(split_evals: Path) -> Path:
    """The split fixtures with two of the dev cases moved to the ``holdout`` split."""
    path = split_evals / "fixtures" / "cases.jsonl"
    raws = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for raw in raws:
        raw["split"] = "holdout" if raw["id"] in HOLDOUT_SPLIT else raw["split"]
    path.write_text("".join(json.dumps(raw, ensure_ascii=False) + "\n" for raw in raws), encoding="utf-8")
    return split_evals


def test_the_holdout_split_is_run_reported_and_gated_like_test(
    holdout_evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(gold_responder(holdout_evals), model="gate-model") as server:
        accepted = run_eval(["--mode", "live", "--update-baseline"], monkeypatch, server, tmp_path / "a")
        only = run_eval(["--mode", "live", "--split", "holdout"], monkeypatch, server, tmp_path / "h")
    assert accepted.exit_code == 0, accepted.output
    assert only.exit_code == 0, only.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["run"]["cases_by_split"] == {"dev": 1, "test": 3, "holdout": 2}
    assert "| metric | dev | dev floor | test | test floor | holdout | holdout floor |" in (tmp_path / "a" / "report.md").read_text()
    narrowed = json.loads((tmp_path / "h" / "report.json").read_text())
    assert {doc["id"] for doc in narrowed["scores"]["documents"]} == set(HOLDOUT_SPLIT)
    baseline = json.loads((holdout_evals / "baselines" / "gate-model.direct.json").read_text())
    assert set(baseline["splits"]) == {"dev", "test", "holdout"}
    table = runner.invoke(app, ["eval", "table"])
    assert "| gate-model · direct | holdout | 1.00" in table.output
    assert "| floor (rules, no LLM) | holdout |" in table.output
    gold, broken = gold_responder(holdout_evals), gold_responder(holdout_evals, degrade=True)
    holdout_texts = {c.text for c in load_cases(holdout_evals / "fixtures" / "cases.jsonl", split="holdout")}

    def regress_on_holdout(request: dict[str, Any]) -> dict[str, Any]:
        return (broken if document_of(request) in holdout_texts else gold)(request)

    with FakeOpenAIServer(regress_on_holdout, model="gate-model") as server:
        worse = run_eval(["--mode", "live", "--check"], monkeypatch, server, tmp_path / "c")
    assert worse.exit_code == 1
    gate = json.loads((tmp_path / "c" / "report.json").read_text())["gate"]
    assert gate["reasons"] and all(reason.startswith("[holdout] ") for reason in gate["reasons"])
    assert set(gate["comparison"]) == {"dev", "test", "holdout"}


def test_a_baseline_older_than_the_holdout_split_fails_the_gate_and_says_so(
    holdout_evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(gold_responder(holdout_evals), model="gate-model") as server:
        assert run_eval(["--mode", "live", "--update-baseline"], monkeypatch, server, tmp_path / "a").exit_code == 0
        # a baseline recorded before the holdout split: no holdout answers, no holdout scores
        answers = holdout_evals / "baselines" / "gate-model.direct.predictions.jsonl"
        kept = [line for line in answers.read_text().splitlines() if json.loads(line)["id"] not in HOLDOUT_SPLIT]
        answers.write_text("\n".join(kept) + "\n")
        report_file = holdout_evals / "baselines" / "gate-model.direct.json"
        old = json.loads(report_file.read_text())
        del old["splits"]["holdout"]
        report_file.write_text(json.dumps(old))
        result = run_eval(["--mode", "live", "--check"], monkeypatch, server, tmp_path / "b")
    assert result.exit_code == 1
    gate = json.loads((tmp_path / "b" / "report.json").read_text())["gate"]
    assert [r[:41] for r in gate["reasons"]] == ["[holdout] the baseline has no answers for"]
    table = runner.invoke(app, ["eval", "table"]).output
    assert "| gate-model · direct | test | 1.00" in table
    assert "| gate-model · direct | holdout (not in this baseline) | – |" in table
    assert "| floor (rules, no LLM) | holdout (not in this baseline) | – |" in table
    assert "holdout2" not in table and "holdout3" not in table  # splits no fixture holds are not rows


def test_a_split_whose_cases_moved_to_dev_is_no_row_of_the_table(
    holdout_evals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guidelines §16: a holdout split studied while changing pactx moves to dev; the table then
    shows no empty rows for it, while a split the fixtures still hold and the baseline lacks is flagged."""
    with FakeOpenAIServer(gold_responder(holdout_evals), model="gate-model") as server:
        assert run_eval(["--mode", "live", "--update-baseline"], monkeypatch, server, tmp_path / "a").exit_code == 0
    fixtures = holdout_evals / "fixtures" / "cases.jsonl"
    raws = [json.loads(line) for line in fixtures.read_text().splitlines()]
    fixtures.write_text("".join(json.dumps({**raw, "split": "dev" if raw["split"] == "holdout" else raw["split"]}) + "\n" for raw in raws))
    report_file = holdout_evals / "baselines" / "gate-model.direct.json"
    old = json.loads(report_file.read_text())
    del old["splits"]["holdout"]
    report_file.write_text(json.dumps(old))
    table = runner.invoke(app, ["eval", "table"]).output
    assert "| gate-model · direct | test | 1.00" in table
    assert "holdout" not in table


def test_a_document_the_floor_fails_on_is_a_failed_floor_prediction(monkeypatch: pytest.MonkeyPatch) -> None:
    from pactx.evals import runner as eval_runner
    from pactx.schema import Evidence

    cases = [case for case in load_cases() if case.id in ("seed-001-09", "test-021")]
    real = eval_runner.baseline_agreements

    def floor(text: str) -> list[Any]:
        if text == cases[1].text:
            Evidence(quote=text)  # like a quote of a sentence longer than 400 characters
        return real(text)

    monkeypatch.setattr(eval_runner, "baseline_agreements", floor)
    predictions = eval_runner.floor_predictions(cases)
    assert predictions["seed-001-09"].ok
    assert not predictions["test-021"].ok and "floor failed" in str(predictions["test-021"].error)
    report, _ = eval_runner.evaluate(cases, {}, bootstrap=50)
    assert report["splits"]["test"]["floor"]["headline"]["schema_valid"]["value"] == 0.0


def test_the_floor_answers_every_fixture_case() -> None:
    from pactx.evals.runner import floor_predictions

    cases = load_cases()
    assert set(floor_predictions(cases)) == {case.id for case in cases}
