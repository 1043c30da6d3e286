"""The layering stated in pyproject.toml holds (import-linter), and the public API is complete."""

import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pactx

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on the ``pactx`` package found in ``root`` (not the installed one)."""
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.fail("import-linter is not installed; run the README install command")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [exe, "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, capture_output=True, text=True, env=env,
    )


def test_import_linter_contracts_are_kept() -> None:
    proc = _lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 broken" in proc.stdout


def test_import_linter_catches_a_planted_upward_import(tmp_path: Path) -> None:
    """The contracts have teeth: the schema importing the CLI breaks the build."""
    shutil.copytree(ROOT / "pactx", tmp_path / "pactx", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    schema = tmp_path / "pactx" / "schema.py"
    schema.write_text(schema.read_text(encoding="utf-8") + "\nimport pactx.cli  # noqa: E402, F401\n", encoding="utf-8")
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert " 0 broken" not in proc.stdout and "pactx.schema -> pactx.cli" in proc.stdout, proc.stdout


def test_public_api_is_exactly_all_importable_and_documented() -> None:
    names = pactx.__all__
    assert len(names) == len(set(names)), "duplicates in pactx.__all__"
    for name in ("extract", "aextract", "Extractor", "ExtractionResult", "SecurityAgreement", "Party"):
        assert name in names, name
    # what the package holds is exactly what it exports: every name exists, none is forgotten
    public = {n for n, v in vars(pactx).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert public == set(names) - {"__version__"}
    for name in public:
        obj = getattr(pactx, name)
        assert obj.__module__.startswith("pactx."), name
        own_doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        assert own_doc and own_doc.strip(), f"pactx.{name} has no docstring of its own"
    assert (Path(pactx.__file__).parent / "py.typed").exists()


def test_importing_pactx_does_not_load_llama_cpp() -> None:
    code = "import sys, pactx; print('llama_cpp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
