"""Where a project's evals live, and the built-in suite that ships with pactx.

``pactx eval`` reads a project's ``evals/`` folder (``fixtures/cases.jsonl``,
``recordings/``, ``baselines/``). It is found in this order, first match wins:

1. ``--evals-dir`` (the ``option`` argument);
2. the ``PACTX_EVALS_DIR`` environment variable;
3. ``evals-dir`` in the ``[tool.pactx]`` table of the nearest ``pyproject.toml``, looking in the
   working directory and then each parent; a relative path is relative to that file's folder;
4. ``evals/`` in the working directory.

Nothing is ever looked up beside pactx's own code. The built-in suite (the fixtures pactx
is developed against, and their guidelines) is package data, read through
:mod:`importlib.resources`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "SUITES",
    "EvalsDir",
    "EvalsDirNotFound",
    "find_pyproject",
    "locate_evals_dir",
    "find_evals_dir",
    "builtin_suite_dir",
    "Suite",
]

ENV_VAR = "PACTX_EVALS_DIR"
SUITES = ("project", "builtin")
"""``project``: the fixtures in the resolved evals folder; ``builtin``: the ones shipped with pactx."""

_BUILTIN_PACKAGE = "pactx"
_BUILTIN_FOLDER = "_builtin_evals"


class EvalsDirNotFound(FileNotFoundError):
    """No evals folder was found; the message says every place that was searched."""


@dataclass(frozen=True)
class EvalsDir:
    """An evals folder and how it was chosen (for messages)."""

    path: Path
    source: str

    @property
    def fixtures(self) -> Path:
        """``fixtures/cases.jsonl``."""
        return self.path / "fixtures" / "cases.jsonl"

    @property
    def recordings(self) -> Path:
        """``recordings/``: stored model answers, one folder per model."""
        return self.path / "recordings"

    @property
    def baselines(self) -> Path:
        """``baselines/``: accepted runs, ``<model>.<strategy>.json`` and their predictions."""
        return self.path / "baselines"


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` or one of its parents."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _configured(pyproject: Path) -> str | None:
    """``[tool.pactx] evals-dir`` of one pyproject.toml, checked."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{pyproject}: cannot read it for [tool.pactx]: {exc}") from exc
    table = data.get("tool", {}).get("pactx", {})
    if not isinstance(table, Mapping):
        raise ValueError(f"{pyproject}: [tool.pactx] must be a table")
    value = table.get("evals-dir")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{pyproject}: [tool.pactx] evals-dir must be a non-empty string, not {value!r}")
    return value


def _search(option: str | Path | None, cwd: Path, environ: Mapping[str, str]) -> tuple[list[EvalsDir], list[str]]:
    """Every candidate in precedence order, and a line per place searched (for the error)."""
    candidates: list[EvalsDir] = []
    searched: list[str] = []
    if option is not None:
        candidates.append(EvalsDir(cwd / Path(option), "--evals-dir"))
    else:
        searched.append("--evals-dir: not given")
    env_value = environ.get(ENV_VAR)
    if env_value:
        candidates.append(EvalsDir(cwd / Path(env_value), ENV_VAR))
    else:
        searched.append(f"{ENV_VAR}: not set")
    pyproject = find_pyproject(cwd)
    configured = _configured(pyproject) if pyproject else None
    if pyproject and configured:
        candidates.append(EvalsDir(pyproject.parent / configured, f"[tool.pactx] evals-dir in {pyproject}"))
    elif pyproject:
        searched.append(f"[tool.pactx] evals-dir: {pyproject} has none")
    else:
        searched.append(f"[tool.pactx] evals-dir: no pyproject.toml in {cwd} or its parents")
    candidates.append(EvalsDir(cwd / "evals", "evals/ in the working directory"))
    return candidates, searched


def locate_evals_dir(
    option: str | Path | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> EvalsDir:
    """The evals folder the settings point at, whether or not it exists yet (``pactx eval init``)."""
    candidates, _ = _search(option, (cwd or Path.cwd()).resolve(), os.environ if environ is None else environ)
    return candidates[0]


def find_evals_dir(
    option: str | Path | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> EvalsDir:
    """The existing evals folder to read, by the precedence in this module's docstring.

    An explicit setting (option, environment, ``[tool.pactx]``) that names a missing folder
    is an error, never skipped in favour of a lower one. Raises :class:`EvalsDirNotFound`
    naming what was searched.
    """
    where = (cwd or Path.cwd()).resolve()
    candidates, searched = _search(option, where, os.environ if environ is None else environ)
    chosen = candidates[0]
    if chosen.path.is_dir():
        return chosen
    if chosen.path.exists():
        raise EvalsDirNotFound(f"evals folder {chosen.path} (from {chosen.source}) is not a folder")
    if len(candidates) > 1:
        raise EvalsDirNotFound(f"evals folder {chosen.path} (from {chosen.source}) does not exist")
    lines = "; ".join([*searched, f"{chosen.path}: does not exist"])
    raise EvalsDirNotFound(
        f"no evals folder found (searched: {lines}). Run `pactx eval init` to create one, "
        "or use --evals-dir, or `--suite builtin` for the fixtures that ship with pactx"
    )


def builtin_suite_dir() -> Path:
    """The built-in suite's folder (``fixtures/``, ``GUIDELINES.md``), read as package data.

    In a wheel it is ``pactx/_builtin_evals`` (copied from ``evals/`` at build time); in a
    source checkout the same name is a link to ``evals/``'s files.
    """
    root = resources.files(_BUILTIN_PACKAGE) / _BUILTIN_FOLDER
    if not isinstance(root, Path):  # pragma: no cover - a zipped install
        raise EvalsDirNotFound(f"the built-in eval suite needs pactx installed as files, not from {root}")
    if not (root / "fixtures" / "cases.jsonl").is_file():
        raise EvalsDirNotFound(f"the built-in eval suite is missing from this install (looked in {root})")
    return root


class Suite:
    """The fixtures one eval run reads, and where its recordings and baselines go.

    ``project`` reads ``fixtures/cases.jsonl`` of the resolved evals folder; ``builtin`` reads
    the fixtures shipped with pactx, and keeps its baselines apart, in the evals folder's
    ``baselines/builtin/`` (recordings are keyed by the request, so both suites share them).
    ``fixtures`` overrides the suite's fixture file. The evals folder is looked up only when
    something needs it, so ``--suite builtin --mode live`` runs with no evals folder at all.
    """

    def __init__(
        self,
        name: str = "project",
        *,
        evals_dir: str | Path | None = None,
        fixtures: str | Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        if name not in SUITES:
            raise ValueError(f"unknown suite {name!r}; choose {' or '.join(SUITES)}")
        self.name = name
        self._option = evals_dir
        self._fixtures = Path(fixtures) if fixtures is not None else None
        self._cwd = cwd
        self._found: EvalsDir | None = None

    @property
    def evals(self) -> EvalsDir:
        """The project's evals folder (raises :class:`EvalsDirNotFound` when there is none)."""
        if self._found is None:
            self._found = find_evals_dir(self._option, cwd=self._cwd)
        return self._found

    @property
    def fixtures(self) -> Path:
        """The fixture cases (JSONL) this run scores against."""
        if self._fixtures is not None:
            return self._fixtures
        if self.name == "builtin":
            return builtin_suite_dir() / "fixtures" / "cases.jsonl"
        return self.evals.fixtures

    @property
    def recordings(self) -> Path:
        """Where ``record`` stores answers and ``replay`` reads them."""
        return self.evals.recordings

    @property
    def baselines(self) -> Path:
        """Where this suite's accepted baselines live."""
        return self.evals.baselines / "builtin" if self.name == "builtin" else self.evals.baselines
