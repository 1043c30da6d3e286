"""The README's eval table is the output of ``pactx eval table``, which writes it between the
README's markers (``--readme``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pactx.cli import app
from pactx.evals.reports import EVAL_TABLE_MARKERS, write_marked_table

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def eval_table(monkeypatch: pytest.MonkeyPatch, evals: Path, *args: str) -> Any:
    monkeypatch.setenv("PACTX_EVALS_DIR", str(evals))
    return runner.invoke(app, ["eval", "table", *args])


def test_readme_eval_table_is_the_commands_output(monkeypatch: pytest.MonkeyPatch) -> None:
    result = eval_table(monkeypatch, ROOT / "evals")
    assert result.exit_code == 0, result.output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = EVAL_TABLE_MARKERS
    between = readme.split(start, 1)[1].split(end, 1)[0]
    assert between == "\n" + result.stdout, "README eval table is stale: run `pactx eval table --readme README.md`"
    assert "(default)" in between
    for path in (ROOT / "evals" / "baselines").glob("*.json"):
        run = json.loads(path.read_text(encoding="utf-8"))["run"]
        assert f"| {run['model']} · {run['strategy']}" in between, path.name


def test_eval_table_writes_between_the_markers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    start, end = EVAL_TABLE_MARKERS
    readme.write_text(f"# Title\n\nBefore.\n\n{start}\n| old | table |\n{end}\n\nAfter.\n", encoding="utf-8")
    result = eval_table(monkeypatch, ROOT / "evals", "--readme", str(readme))
    assert result.exit_code == 0, result.output
    text = readme.read_text(encoding="utf-8")
    assert text == f"# Title\n\nBefore.\n\n{start}\n{result.stdout}{end}\n\nAfter.\n"
    assert "| old | table |" not in text
    assert write_marked_table(readme, result.stdout) is False  # already up to date
    again = eval_table(monkeypatch, ROOT / "evals", "--readme", str(readme))
    assert again.exit_code == 0 and "already up to date" in again.output


def test_eval_table_refuses_a_file_without_markers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    readme = tmp_path / "NOTES.md"
    original = f"# Notes\n{EVAL_TABLE_MARKERS[1]}\nno start marker\n{EVAL_TABLE_MARKERS[0]}\n"
    readme.write_text(original, encoding="utf-8")
    result = eval_table(monkeypatch, ROOT / "evals", "--readme", str(readme))
    assert result.exit_code == 2
    assert "NOTES.md" in result.output and "eval-table:start" in result.output
    assert readme.read_text(encoding="utf-8") == original
    missing = eval_table(monkeypatch, ROOT / "evals", "--readme", str(tmp_path / "absent.md"))
    assert missing.exit_code == 2 and "absent.md" in missing.output
