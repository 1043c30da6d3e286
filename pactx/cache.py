"""A persistent on-disk cache of extraction results, on sqlite3.

A result is stored under a key that covers everything that shapes it: model, provider,
prompt hash, schema hash, generation parameters (temperature, seed, max_tokens, mode,
chunking, and for the embedded model the fingerprint of its decoding constraints) and the
SHA-256 of the text (see :func:`cache_key`). Only results are stored;
errors never are. The database runs in WAL mode with a busy timeout, so several threads and
processes can read and write it at once.

The default location is ``~/.cache/pactx/results.sqlite3``; ``PACTX_CACHE_DIR`` moves it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from pactx.schema import ExtractionResult

__all__ = ["ResultCache", "CacheInfo", "cache_key", "default_cache_path", "CACHE_FILE"]

CACHE_FILE = "results.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    """``$PACTX_CACHE_DIR/results.sqlite3``, else ``~/.cache/pactx/results.sqlite3``."""
    folder = os.environ.get("PACTX_CACHE_DIR") or Path.home() / ".cache" / "pactx"
    return Path(folder) / CACHE_FILE


def cache_key(
    *,
    model: str,
    provider: str,
    prompt_hash: str,
    schema_hash: str,
    params: dict[str, Any],
    text: str,
) -> str:
    """SHA-256 over everything that determines a result (the text enters as its own SHA-256)."""
    parts = {
        "model": model,
        "provider": provider,
        "prompt_hash": prompt_hash,
        "schema_hash": schema_hash,
        "params": params,
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }
    canonical = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheInfo:
    """What a cache holds."""

    path: Path
    entries: int
    size_bytes: int


def _busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "busy": several processes opening a new cache at
    once (worker processes, Ray actors) race to switch it to WAL, and SQLite fails that switch at
    once instead of waiting out the busy timeout, so pactx retries it."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class ResultCache:
    """Extraction results on disk, keyed by :func:`cache_key`; safe across threads and processes."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = 30.0) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self._timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ResultCache({str(self.path)!r})"

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (one per thread; :meth:`close` may run in any thread)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            for attempt in Retrying(  # see _busy: the busy timeout does not cover this step
                retry=retry_if_exception(_busy),
                stop=stop_after_delay(self._timeout),
                wait=wait_random_exponential(multiplier=0.01, max=0.5),
                reraise=True,
            ):
                with attempt:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute(_SCHEMA)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def get(self, key: str) -> ExtractionResult | None:
        """The stored result for ``key``, or ``None``."""
        row = self._db().execute("SELECT result FROM results WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return ExtractionResult.model_validate_json(row[0])
        except ValueError:  # written by an incompatible version: treat as a miss
            return None

    def put(self, key: str, result: ExtractionResult) -> None:
        """Store ``result`` under ``key`` (replacing any older entry)."""
        self._db().execute(
            "INSERT OR REPLACE INTO results (key, result, created) VALUES (?, ?, ?)",
            (key, result.model_dump_json(), time.time()),
        )

    def merge(self, other: str | Path) -> int:
        """Copy in every entry of the cache file ``other`` that this cache lacks; return how many.

        Keys are content addresses, so an entry both files hold means the same result, and
        merging is idempotent: this is how per-node caches of a cluster become one.
        """
        source = Path(other)
        if not source.is_file():
            raise FileNotFoundError(f"no cache file at {source}")
        db = self._db()
        try:
            db.execute("ATTACH DATABASE ? AS other", (str(source),))
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{source} is not a pactx result cache ({exc})") from None
        try:
            added = db.execute(
                "INSERT OR IGNORE INTO results (key, result, created) "
                "SELECT key, result, created FROM other.results"
            ).rowcount
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{source} is not a pactx result cache ({exc})") from None
        finally:
            db.execute("DETACH DATABASE other")
        return int(added)

    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        if not self.path.exists():
            return 0
        db = self._db()
        removed = db.execute("DELETE FROM results").rowcount
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        return int(removed)

    def info(self) -> CacheInfo:
        """Location, entry count and size on disk."""
        if not self.path.exists():
            return CacheInfo(self.path, 0, 0)
        (entries,) = self._db().execute("SELECT COUNT(*) FROM results").fetchone()
        files = [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")]
        size = sum(f.stat().st_size for f in files if f.exists())
        return CacheInfo(self.path, int(entries), size)

    def close(self) -> None:
        """Close every connection this cache opened."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
