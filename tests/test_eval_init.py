"""`pactx eval init`, `pactx eval compare` outside the repository, and the pytest helper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pactx import ExtractionResult
from pactx.cli import app
from pactx.evals.fixtures import load_cases
from pactx.evals.scaffold import scaffold_files, starter_cases
from pactx.evals.testing import EvalRegression, assert_no_regression, check_no_regression
from pactx.grounding import SourceText
from pactx.testserver import FakeOpenAIServer

runner = CliRunner()


def init(*args: str) -> object:
    return runner.invoke(app, ["eval", "init", *args])


def test_init_writes_a_starter_evals_folder_whose_cases_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = init()
    assert result.exit_code == 0, result.output
    root = tmp_path / "evals"
    for name in ("fixtures/cases.jsonl", "GUIDELINES.md", "baselines/.gitkeep", "recordings/.gitkeep"):
        assert (root / name).is_file(), name
    cases = load_cases(root / "fixtures" / "cases.jsonl")
    assert [case.split for case in cases] == ["dev", "dev", "test"]
    assert sum(len(case.gold) for case in cases) == 2
    assert "pactx eval --mode replay --check" in (root / "GUIDELINES.md").read_text()


@pytest.mark.parametrize("raw", starter_cases(), ids=lambda raw: raw["id"])
def test_starter_cases_are_grounded_like_the_real_fixtures(raw: dict) -> None:
    result = ExtractionResult.model_validate(raw["gold"])
    source = SourceText(raw["text"])
    for agreement in result.agreements:
        for quote in agreement.evidence:
            assert raw["text"][quote.start : quote.end] == quote.quote
        for party in agreement.parties:
            assert source.find(party.name) is not None
    assert raw["notes"].strip()


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "evals" / "fixtures" / "cases.jsonl"
    mine.parent.mkdir(parents=True)
    mine.write_text("my own cases\n", encoding="utf-8")
    refused = init()
    assert refused.exit_code == 2
    assert "refusing to overwrite" in refused.output and "cases.jsonl" in refused.output
    assert mine.read_text() == "my own cases\n"
    assert not (tmp_path / "evals" / "GUIDELINES.md").exists()  # nothing written at all
    forced = init("--force")
    assert forced.exit_code == 0, forced.output
    assert mine.read_text() == scaffold_files()["fixtures/cases.jsonl"]


def test_init_follows_tool_pactx_and_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.pactx]\nevals-dir = "qa/evals"\n', encoding="utf-8")
    assert init().exit_code == 0
    assert (tmp_path / "qa" / "evals" / "fixtures" / "cases.jsonl").is_file()
    assert init("--evals-dir", "other").exit_code == 0
    assert (tmp_path / "other" / "GUIDELINES.md").is_file()


def _predictions(path: Path, cases: list, *, drop_agreements: bool = False) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for case in cases:
            agreements = [] if drop_agreements else [a.model_dump(mode="json") for a in case.gold]
            handle.write(json.dumps({"id": case.id, "agreements": agreements}) + "\n")
    return path


def test_compare_without_fixtures_uses_the_resolved_evals_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert init().exit_code == 0
    cases = load_cases(tmp_path / "evals" / "fixtures" / "cases.jsonl")
    a = _predictions(tmp_path / "a.jsonl", cases)
    b = _predictions(tmp_path / "b.jsonl", cases, drop_agreements=True)
    result = runner.invoke(app, ["eval", "compare", str(a), str(b), "-o", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    comparison = json.loads((tmp_path / "c.json").read_text())
    assert comparison["metrics"]["detection_f1"]["a"] == 1.0 and comparison["metrics"]["detection_f1"]["b"] == 0.0


def test_compare_outside_any_project_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a = tmp_path / "a.jsonl"
    a.write_text('{"id": "x", "agreements": []}\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", "compare", str(a), str(a)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "no evals folder found" in result.output
    assert "PACTX_EVALS_DIR: not set" in result.output
    # a prediction file that is not there is named, not a traceback
    assert init().exit_code == 0
    missing = runner.invoke(app, ["eval", "compare", str(a), str(tmp_path / "missing.jsonl")])
    assert missing.exit_code == 2 and "missing.jsonl" in missing.output
    assert missing.exception is None or isinstance(missing.exception, SystemExit)
    # predictions of other cases than the resolved fixtures' would compare nothing: said so
    unrelated = runner.invoke(app, ["eval", "compare", str(a), str(a)])
    assert unrelated.exit_code == 2 and "no id in" in unrelated.output and "--fixtures" in unrelated.output
    cases = _predictions(tmp_path / "c.jsonl", load_cases(tmp_path / "evals" / "fixtures" / "cases.jsonl"))
    unwritable = runner.invoke(app, ["eval", "compare", str(cases), str(cases), "-o", str(a / "x.json")])
    assert unwritable.exit_code == 2 and "x.json" in unwritable.output


def _recorded_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project made by `init`, recorded against the loopback server and accepted as baseline."""
    monkeypatch.chdir(tmp_path)
    assert init().exit_code == 0
    with FakeOpenAIServer(model="fake-model") as server:
        monkeypatch.setenv("PACTX_BASE_URL", server.url)
        recorded = runner.invoke(app, ["eval", "--mode", "record", "--update-baseline", "--bootstrap", "100",
                                       "--out", str(tmp_path / "rec")])
    monkeypatch.delenv("PACTX_BASE_URL")
    assert recorded.exit_code == 0, recorded.output
    return tmp_path / "evals"


def plant_regression(recordings: Path) -> None:
    """Make every recorded answer find no agreement (the recording keys stay the same)."""
    for responses in recordings.glob("*/responses.jsonl"):
        lines = []
        for line in responses.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            message = item["response"]["choices"][0]["message"]
            if message.get("tool_calls"):
                message["tool_calls"][0]["function"]["arguments"] = '{"agreements": []}'
            else:
                message["content"] = '{"agreements": []}'
            lines.append(json.dumps(item))
        responses.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_pytest_helper_passes_on_the_baseline_and_fails_on_a_planted_regression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evals = _recorded_project(tmp_path, monkeypatch)
    verdict = assert_no_regression(model="fake-model", bootstrap=100)
    assert verdict.passed and set(verdict.comparison) == {"dev", "test"}
    replayed = runner.invoke(app, ["eval", "--mode", "replay", "--check", "--model", "fake-model",
                                   "--bootstrap", "100", "--out", str(tmp_path / "ok")])
    assert replayed.exit_code == 0, replayed.output
    plant_regression(evals / "recordings")
    with pytest.raises(EvalRegression, match="detection_f1") as caught:
        assert_no_regression(model="fake-model", bootstrap=100)
    assert isinstance(caught.value, AssertionError) and not caught.value.verdict.passed
    assert not check_no_regression(model="fake-model", bootstrap=100).passed
    failed = runner.invoke(app, ["eval", "--mode", "replay", "--check", "--model", "fake-model",
                                 "--bootstrap", "100", "--out", str(tmp_path / "bad")])
    assert failed.exit_code == 1 and "FAILED" in failed.output


def test_pytest_helper_without_a_baseline_says_how_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evals = _recorded_project(tmp_path, monkeypatch)
    for path in (evals / "baselines").glob("fake-model.*"):
        path.unlink()
    with pytest.raises(EvalRegression, match="no baseline for fake-model .*--update-baseline"):
        assert_no_regression(model="fake-model", evals_dir=evals)


def test_builtin_suite_keeps_its_baselines_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evals = _recorded_project(tmp_path, monkeypatch)
    with FakeOpenAIServer(model="fake-model") as server:
        monkeypatch.setenv("PACTX_BASE_URL", server.url)
        live = runner.invoke(app, ["eval", "--suite", "builtin", "--mode", "live", "--limit", "2",
                                   "--bootstrap", "50", "--out", str(tmp_path / "b")])
    assert live.exit_code == 0, live.output
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["run"]["cases"] == 2 and "_builtin_evals" in report["run"]["fixtures"]
    table = runner.invoke(app, ["eval", "table", "--suite", "builtin"])
    assert table.exit_code == 0 and "fake-model" not in table.output  # no builtin baseline yet
    assert "fake-model" in runner.invoke(app, ["eval", "table"]).output
    assert (evals / "baselines" / "fake-model.direct.json").is_file()


def test_a_live_builtin_run_needs_no_evals_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pactx eval --suite builtin --mode live` from a folder with no evals (a wheel user's first run)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PACTX_EVALS_DIR", raising=False)
    with FakeOpenAIServer(model="fake-model") as server:
        monkeypatch.setenv("PACTX_BASE_URL", server.url)
        live = runner.invoke(app, ["eval", "--suite", "builtin", "--mode", "live", "--limit", "2",
                                   "--bootstrap", "50", "--out", str(tmp_path / "b")])
    assert live.exit_code == 0, live.output
    assert json.loads((tmp_path / "b" / "report.json").read_text())["run"]["cases"] == 2
    assert not (tmp_path / "evals").exists()  # nothing was created where the user stands
