"""Where `pactx eval` finds a project's evals folder, and the built-in suite shipped as package data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pactx.cli import app
from pactx.evals.fixtures import evals_dir, load_cases
from pactx.evals.locations import EvalsDirNotFound, Suite, builtin_suite_dir, find_evals_dir, locate_evals_dir

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project: every kind of evals folder exists, so precedence alone decides."""
    root = tmp_path / "project"
    for name in ("option", "env", "configured", "evals"):
        (root / name).mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pactx]\nevals-dir = "configured"\n', encoding="utf-8")
    return root


def test_precedence_option_then_env_then_pyproject_then_cwd(project: Path) -> None:
    env = {"PACTX_EVALS_DIR": str(project / "env")}
    assert find_evals_dir("option", cwd=project, environ=env).path == project / "option"
    assert find_evals_dir(None, cwd=project, environ=env).path == project / "env"
    found = find_evals_dir(None, cwd=project, environ={})
    assert found.path == project / "configured" and str(project / "pyproject.toml") in found.source
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert find_evals_dir(None, cwd=project, environ={}).path == project / "evals"


def test_pyproject_is_found_from_a_subfolder_and_paths_are_relative_to_it(project: Path) -> None:
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_evals_dir(cwd=deep, environ={}).path == project / "configured"
    # ./evals is the working directory's, not the project root's
    (project / "pyproject.toml").unlink()
    with pytest.raises(EvalsDirNotFound):
        find_evals_dir(cwd=deep, environ={})


def test_an_explicit_setting_naming_a_missing_folder_is_an_error_not_skipped(project: Path) -> None:
    with pytest.raises(EvalsDirNotFound, match=r"nowhere .*from --evals-dir.* does not exist"):
        find_evals_dir("nowhere", cwd=project, environ={})
    with pytest.raises(EvalsDirNotFound, match="from PACTX_EVALS_DIR"):
        find_evals_dir(None, cwd=project, environ={"PACTX_EVALS_DIR": str(project / "gone")})
    (project / "pyproject.toml").write_text('[tool.pactx]\nevals-dir = "gone"\n', encoding="utf-8")
    with pytest.raises(EvalsDirNotFound, match=r"tool\.pactx"):
        find_evals_dir(None, cwd=project, environ={})
    (project / "afile").write_text("x")
    with pytest.raises(EvalsDirNotFound, match="is not a folder"):
        find_evals_dir("afile", cwd=project, environ={})


def test_nothing_found_names_every_place_searched(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n", encoding="utf-8")
    with pytest.raises(EvalsDirNotFound) as caught:
        find_evals_dir(cwd=tmp_path, environ={})
    message = str(caught.value)
    for searched in ("--evals-dir: not given", "PACTX_EVALS_DIR: not set",
                     f"{tmp_path / 'pyproject.toml'} has none", f"{tmp_path / 'evals'}: does not exist",
                     "pactx eval init", "--suite builtin"):
        assert searched in message, message


def test_a_bad_tool_pactx_table_names_the_file(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    for content in ('[tool.pactx]\nevals-dir = 3\n', '[tool]\npactx = 1\n', '[tool.pactx\n'):
        pyproject.write_text(content, encoding="utf-8")
        with pytest.raises(ValueError, match=str(pyproject)):
            find_evals_dir(cwd=tmp_path, environ={})


def test_never_resolves_beside_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pactx's own evals/ sits next to the package here; outside the repo it must not be used."""
    assert (ROOT / "evals" / "fixtures" / "cases.jsonl").is_file()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvalsDirNotFound, match="no evals folder found"):
        evals_dir()
    with pytest.raises(EvalsDirNotFound):
        load_cases()
    result = runner.invoke(app, ["eval", "--mode", "replay", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "no evals folder found" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_working_directory_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "evals").mkdir()
    monkeypatch.chdir(tmp_path)
    assert evals_dir() == tmp_path / "evals"
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("PACTX_EVALS_DIR", "elsewhere")  # relative to the working directory
    assert evals_dir() == other


def test_init_target_need_not_exist(tmp_path: Path) -> None:
    assert locate_evals_dir(cwd=tmp_path, environ={}).path == tmp_path / "evals"
    assert locate_evals_dir("qa/evals", cwd=tmp_path, environ={}).path == tmp_path / "qa" / "evals"


def test_builtin_suite_is_this_repositorys_fixtures_as_package_data() -> None:
    root = builtin_suite_dir()
    for name in ("fixtures/cases.jsonl", "fixtures/second_annotator.jsonl", "fixtures/clusters.json", "GUIDELINES.md"):
        assert (root / name).read_bytes() == (ROOT / "evals" / name).read_bytes(), name


def test_builtin_suite_needs_no_evals_folder_until_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    suite = Suite("builtin")
    assert len(load_cases(suite.fixtures)) == len(load_cases(ROOT / "evals" / "fixtures" / "cases.jsonl"))
    with pytest.raises(EvalsDirNotFound):
        suite.recordings
    (tmp_path / "evals").mkdir()
    assert Suite("builtin").baselines == tmp_path / "evals" / "baselines" / "builtin"
    assert Suite("project").baselines == tmp_path / "evals" / "baselines"
    assert Suite("project", fixtures="mine.jsonl").fixtures == Path("mine.jsonl")
    with pytest.raises(ValueError, match="unknown suite"):
        Suite("mine")


def test_score_with_the_builtin_suite_from_outside_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cases = load_cases(builtin_suite_dir() / "fixtures" / "cases.jsonl")
    predictions = tmp_path / "gold.jsonl"
    predictions.write_text("".join(
        json.dumps({"id": case.id, "agreements": [a.model_dump(mode="json") for a in case.gold]}) + "\n"
        for case in cases
    ), encoding="utf-8")
    result = runner.invoke(app, ["eval", "score", str(predictions), "--suite", "builtin",
                                 "--out", str(tmp_path / "s"), "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert report["run"]["cases"] == len(cases) and report["headline"]["detection_f1"]["value"] == 1.0
    unknown = runner.invoke(app, ["eval", "score", str(predictions), "--suite", "mine"])
    assert unknown.exit_code == 2 and "unknown suite" in unknown.output
