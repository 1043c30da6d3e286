"""Evals in a user's own project, from a wheel in a fresh venv, outside this repository.

Builds pactx's wheel, installs it (and nothing else) into a new virtualenv that reuses the
already installed dependencies, and in a temporary project runs `pactx eval init`, a run
recorded through the loopback server (`python -m pactx.testserver`), the replayed `--check`
step of docs/examples/pactx-evals.yml and the pytest helper: both pass, then both fail once a
regression is planted in the recordings. About a minute.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "examples" / "pactx-evals.yml"
MODEL = "fake-model"


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH to this checkout, no pactx settings."""
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("PACTX_", "OPENAI_"))}
    clean["PACTX_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    clean["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return clean


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    out = tmp_path_factory.mktemp("dist")
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", out, ROOT], ROOT, env))
    [built] = out.glob("pactx-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path, env: dict[str, str]) -> Path:
    root = tmp_path_factory.mktemp("venv")
    # --without-pip: the venv runs the system's pip (a system site-package), which installs into the venv
    _ok(_run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", root], root, env))
    _ok(_run([root / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", wheel], root, env))
    assert (root / "bin" / "pactx").is_file()
    return root


def test_the_wheel_carries_the_builtin_suite_and_the_prompts(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("pactx/_builtin_evals/fixtures/cases.jsonl", "pactx/_builtin_evals/GUIDELINES.md",
                 "pactx/_prompts/extract_v1.toml", "pactx/evals/testing.py"):
        assert name in names, name
    assert not any(name.startswith(("evals/", "pactx/_builtin_evals/fixtures/fixtures")) for name in names)
    assert not any("/recordings/" in name or "/baselines/" in name for name in names)  # the suite only


def plant_regression(recordings: Path) -> int:
    """Every recorded answer now finds no agreement; the keys stay, so replay still uses them."""
    changed = 0
    for responses in recordings.glob("*/responses.jsonl"):
        items = [json.loads(line) for line in responses.read_text(encoding="utf-8").splitlines() if line.strip()]
        for item in items:
            message = item["response"]["choices"][0]["message"]
            if message.get("tool_calls"):
                message["tool_calls"][0]["function"]["arguments"] = '{"agreements": []}'
            else:
                message["content"] = '{"agreements": []}'
            changed += 1
        responses.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return changed


def _workflow_check_step() -> str:
    """The `run:` line of the workflow example that gates on the baseline."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["evals"]["steps"]
    [command] = [s["run"] for s in steps if "run" in s and s["run"].startswith("pactx eval")]
    assert "--check" in command and "--mode replay" in command
    return command


def test_init_record_replay_check_from_a_wheel_outside_the_repository(
    venv: Path, env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "user-project"
    project.mkdir()
    assert ROOT not in project.parents
    (project / "pyproject.toml").write_text('[project]\nname = "user-project"\n\n[tool.pactx]\nevals-dir = "qa/evals"\n')
    python, pactx = venv / "bin" / "python", venv / "bin" / "pactx"
    where = _ok(_run([python, "-c", "import pactx, pactx.evals.locations as l; print(pactx.__file__); print(l.builtin_suite_dir())"], project, env))
    module_file, builtin = where.stdout.split()
    assert Path(module_file).is_relative_to(venv) and Path(builtin).is_relative_to(venv), where.stdout
    assert len(Path(builtin, "fixtures", "cases.jsonl").read_text().splitlines()) == len(
        (ROOT / "evals" / "fixtures" / "cases.jsonl").read_text().splitlines())

    _ok(_run([pactx, "eval", "init"], project, env))
    evals = project / "qa" / "evals"
    assert (evals / "fixtures" / "cases.jsonl").is_file() and (evals / "GUIDELINES.md").is_file()

    server = subprocess.Popen([python, "-m", "pactx.testserver", "--model", MODEL], cwd=project, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        live = {**env, "PACTX_BASE_URL": url}
        _ok(_run([pactx, "eval", "--mode", "record", "--update-baseline", "--out", tmp_path / "rec"], project, live))
        _ok(_run([pactx, "eval", "--suite", "builtin", "--mode", "live", "--limit", "3", "--out", tmp_path / "b"], project, live))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (evals / "baselines" / f"{MODEL}.direct.json").is_file()
    assert json.loads((tmp_path / "b" / "report.json").read_text())["run"]["cases"] == 3

    # CI: the workflow's own gate step, then the pytest helper; no server is running now
    step = ["bash", "-c", _workflow_check_step()]
    ci = {**env, "PACTX_EVAL_MODEL": MODEL, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}  # activated
    passed = _ok(_run(step, project, ci))
    assert "baseline check: passed" in passed.stderr
    (project / "tests").mkdir()
    (project / "tests" / "test_evals.py").write_text(
        "from pactx.evals.testing import assert_no_regression\n\n"
        f"def test_no_eval_regression():\n    assert_no_regression(model={MODEL!r})\n"
    )
    helper = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_evals.py"]
    _ok(_run(helper, project, env))

    assert plant_regression(evals / "recordings") >= 3
    failed = _run(step, project, ci)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAILED" in failed.stderr and "detection_f1" in failed.stderr
    regressed = _run(helper, project, env)
    assert regressed.returncode == 1 and "EvalRegression" in regressed.stdout, regressed.stdout


def test_the_readme_shows_the_workflow_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- workflow:start -->\n```yaml\n", 1)[1].split("```\n<!-- workflow:end -->", 1)[0]
    assert block == WORKFLOW.read_text(encoding="utf-8")
