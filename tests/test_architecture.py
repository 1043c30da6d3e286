"""The layering stated in pyproject.toml holds (import-linter)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pactx

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.fail("import-linter is not installed; run the README install command")
    proc = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" in proc.stdout and " 0 broken" in proc.stdout


def test_public_api_is_reexported_and_typed() -> None:
    for name in ("extract", "aextract", "Extractor", "ExtractionResult", "SecurityAgreement", "Party"):
        assert hasattr(pactx, name)
    assert set(pactx.__all__) <= set(dir(pactx))
    assert (Path(pactx.__file__).parent / "py.typed").exists()


def test_importing_pactx_does_not_load_llama_cpp() -> None:
    code = "import sys, pactx; print('llama_cpp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
