"""Flat tables of consolidated agreements: agreements, mentions and dyads.

The row builders (:func:`agreement_rows`, :func:`mention_rows`, :func:`dyad_rows`) and JSONL
writing use only the standard library. pandas (and pyarrow for Parquet) are imported inside
the functions that need them: install them with ``pip install 'pactx[data]'``. Every column
is documented in ``docs/dataset.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pactx.records import ConsolidatedAgreement, ConsolidatedParty, MembershipChangeKind
from pactx.schema import PartyKind

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AGREEMENT_COLUMNS",
    "DYAD_COLUMNS",
    "FORMATS",
    "MENTION_COLUMNS",
    "TABLES",
    "agreement_rows",
    "agreements_frame",
    "dyad_rows",
    "dyads_frame",
    "mention_rows",
    "mentions_frame",
    "read_records",
    "read_table",
    "to_pandas",
    "write_dataset",
    "write_records",
]

FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")
"""Table formats :func:`write_dataset` can write."""

RECORDS_FILE = "records.jsonl"
"""Lossless file of full :class:`ConsolidatedAgreement` records written beside the tables."""

LIST_SEPARATOR = ";"
"""Separator of codes in the ``parties`` columns."""

TEXT_SEPARATOR = " | "
"""Separator of quotes (``evidence``) and of ``merge_reasons``."""

_STR, _INT, _NINT, _BOOL = "string", "int64", "Int64", "bool"
_ATOP = ("defense", "offense", "neutral", "nonagg", "consul")

AGREEMENT_DTYPES: dict[str, str] = {
    "agreement_id": _STR, "name": _STR, "agreement_type": _STR, "cow_type": _STR, "status": _STR,
    "parties": _STR, "n_parties": _INT, "bilateral": _BOOL,
    **{flag: _BOOL for flag in _ATOP},
    "first_reported": _STR, "last_reported": _STR,
    "signed_date": _STR, "effective_date": _STR, "end_date": _STR,
    "n_mentions": _INT, "merge_reasons": _STR,
}  # fmt: skip
MENTION_DTYPES: dict[str, str] = {
    "agreement_id": _STR, "source_id": _STR, "agreement_index": _INT, "status": _STR, "name": _STR,
    "parties": _STR, "signed_date": _STR, "effective_date": _STR, "end_date": _STR, "evidence": _STR,
}  # fmt: skip
DYAD_DTYPES: dict[str, str] = {
    "agreement_id": _STR, "party_a": _STR, "party_b": _STR, "ccode_a": _NINT, "ccode_b": _NINT,
    "agreement_type": _STR, "cow_type": _STR, "status": _STR,
    **{flag: _BOOL for flag in _ATOP},
    "first_date": _STR, "last_date": _STR, "n_mentions": _INT,
}  # fmt: skip

AGREEMENT_COLUMNS: tuple[str, ...] = tuple(AGREEMENT_DTYPES)
MENTION_COLUMNS: tuple[str, ...] = tuple(MENTION_DTYPES)
DYAD_COLUMNS: tuple[str, ...] = tuple(DYAD_DTYPES)

TABLES: dict[str, dict[str, str]] = {
    "agreements": AGREEMENT_DTYPES,
    "mentions": MENTION_DTYPES,
    "dyads": DYAD_DTYPES,
}
"""Table name -> column -> pandas dtype."""


# --------------------------------------------------------------------------- rows


def _bound_labels(record: ConsolidatedAgreement) -> list[str]:
    return sorted({p.label for p in record.bound_parties()})


def agreement_rows(records: Iterable[ConsolidatedAgreement]) -> list[dict[str, Any]]:
    """One row per consolidated agreement (columns :data:`AGREEMENT_COLUMNS`)."""
    rows: list[dict[str, Any]] = []
    for r in records:
        parties = _bound_labels(r)
        sources = r.source_ids()
        rows.append(
            {
                "agreement_id": r.id,
                "name": r.name,
                "agreement_type": r.agreement_type.value,
                "cow_type": r.cow_type,
                "status": r.status.value,
                "parties": LIST_SEPARATOR.join(parties),
                "n_parties": len(parties),
                "bilateral": len(parties) == 2,
                **r.atop.model_dump(),
                "first_reported": sources[0] if sources else None,
                "last_reported": sources[-1] if sources else None,
                "signed_date": r.signed_date,
                "effective_date": r.effective_date,
                "end_date": r.end_date,
                "n_mentions": len(r.mentions),
                "merge_reasons": TEXT_SEPARATOR.join(r.merge_reasons) or None,
            }
        )
    return rows


def mention_rows(records: Iterable[ConsolidatedAgreement]) -> list[dict[str, Any]]:
    """One row per mention (columns :data:`MENTION_COLUMNS`)."""
    return [
        {
            "agreement_id": r.id,
            "source_id": m.source_id,
            "agreement_index": m.agreement_index,
            "status": m.status.value,
            "name": m.name,
            "parties": LIST_SEPARATOR.join(p.code or p.name for p in m.parties),
            "signed_date": m.signed_date,
            "effective_date": m.effective_date,
            "end_date": m.end_date,
            "evidence": TEXT_SEPARATOR.join(e.quote for e in m.evidence),
        }
        for r in records
        for m in r.mentions
    ]


def _ccode(party: ConsolidatedParty) -> int | None:
    """COW ccode of a state party; None for organizations, uncoded and unknown parties."""
    from pactx.parties import cow_ccode, organization

    code = party.code
    if not code or party.kind is PartyKind.ORGANIZATION or organization(code) is not None:
        return None
    return cow_ccode(code) if re.fullmatch(r"[A-Z]{3}", code) else None


def _known_dates(record: ConsolidatedAgreement) -> list[str]:
    return sorted({d for m in record.mentions for d in (m.signed_date, m.effective_date, m.end_date) if d})


def _dyad_span(
    record: ConsolidatedAgreement, a: str, b: str, dates: Sequence[str]
) -> tuple[str | None, str | None]:
    """First and last date of the dyad: the agreement's date range narrowed by accessions and withdrawals."""
    first, last = (dates[0], dates[-1]) if dates else (None, None)
    for change in record.membership_changes:
        if change.party not in (a, b) or not change.date:
            continue
        if change.kind is MembershipChangeKind.ACCESSION:
            first = max(first, change.date) if first else change.date
        elif change.kind is MembershipChangeKind.WITHDRAWAL:
            last = min(last, change.date) if last else change.date
    return first, last


def dyad_rows(records: Iterable[ConsolidatedAgreement]) -> list[dict[str, Any]]:
    """One row per unordered pair of bound parties per agreement (columns :data:`DYAD_COLUMNS`)."""
    rows: list[dict[str, Any]] = []
    for r in records:
        parties = {p.label: p for p in r.bound_parties()}
        dates = _known_dates(r)
        for a, b in combinations(sorted(parties), 2):
            first, last = _dyad_span(r, a, b, dates)
            rows.append(
                {
                    "agreement_id": r.id,
                    "party_a": a,
                    "party_b": b,
                    "ccode_a": _ccode(parties[a]),
                    "ccode_b": _ccode(parties[b]),
                    "agreement_type": r.agreement_type.value,
                    "cow_type": r.cow_type,
                    "status": r.status.value,
                    **r.atop.model_dump(),
                    "first_date": first,
                    "last_date": last,
                    "n_mentions": len(r.mentions),
                }
            )
    return rows


# --------------------------------------------------------------------------- pandas


def _require_pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("pandas is needed for data frames: pip install 'pactx[data]'") from exc
    return pd


def _frame(rows: list[dict[str, Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    pd = _require_pandas()
    frame = pd.DataFrame(rows, columns=list(dtypes))
    return frame.astype(dtypes)


def agreements_frame(records: Iterable[ConsolidatedAgreement]) -> pd.DataFrame:
    """The agreements table as a pandas DataFrame."""
    return _frame(agreement_rows(records), AGREEMENT_DTYPES)


def mentions_frame(records: Iterable[ConsolidatedAgreement]) -> pd.DataFrame:
    """The mentions table as a pandas DataFrame."""
    return _frame(mention_rows(records), MENTION_DTYPES)


def dyads_frame(records: Iterable[ConsolidatedAgreement]) -> pd.DataFrame:
    """The dyads table as a pandas DataFrame."""
    return _frame(dyad_rows(records), DYAD_DTYPES)


def to_pandas(records: Iterable[ConsolidatedAgreement]) -> pd.DataFrame:
    """The agreements table (alias of :func:`agreements_frame`)."""
    return agreements_frame(records)


# --------------------------------------------------------------------------- files


def _write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_records(records: Iterable[ConsolidatedAgreement], path: Path) -> Path:
    """Write full records, one JSON object a line (the lossless form of the dataset)."""
    _write_jsonl((r.model_dump(mode="json") for r in records), path)
    return path


def read_records(path: Path) -> list[ConsolidatedAgreement]:
    """Read records written by :func:`write_records`."""
    with path.open(encoding="utf-8") as lines:
        return [ConsolidatedAgreement.model_validate_json(line) for line in lines if line.strip()]


def _check_formats(formats: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(f).lower().lstrip(".") for f in formats))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}: choose from {', '.join(FORMATS)}")
    return chosen


def _write_table(name: str, rows: list[dict[str, Any]], fmt: str, out_dir: Path) -> Path:
    path = out_dir / f"{name}.{fmt}"
    if fmt == "jsonl":
        _write_jsonl(rows, path)
        return path
    frame = _frame(rows, TABLES[name])
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise ImportError("pyarrow is needed for Parquet: pip install 'pactx[data]'") from exc
    return path


def write_dataset(
    records: Iterable[ConsolidatedAgreement],
    out_dir: Path | str,
    formats: Iterable[str] = FORMATS,
    *,
    include_records: bool = True,
) -> list[Path]:
    """Write ``agreements.*``, ``mentions.*`` and ``dyads.*`` in each format into ``out_dir``.

    Also writes ``records.jsonl`` (full records) unless ``include_records`` is false. JSONL
    needs only the standard library; CSV needs pandas and Parquet pandas and pyarrow. Returns
    the paths written.
    """
    chosen = _check_formats(formats)
    items = list(records)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"agreements": agreement_rows(items), "mentions": mention_rows(items), "dyads": dyad_rows(items)}
    written = [_write_table(name, rows, fmt, out) for fmt in chosen for name, rows in tables.items()]
    if include_records:
        written.append(write_records(items, out / RECORDS_FILE))
    return written


def _table_name(path: Path) -> str:
    name = path.name.split(".")[0]
    if name not in TABLES:
        raise ValueError(f"{path}: not a dataset table (expected agreements, mentions or dyads)")
    return name


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a table written by :func:`write_dataset` back with its documented dtypes."""
    pd = _require_pandas()
    file = Path(path)
    dtypes = TABLES[_table_name(file)]
    fmt = file.suffix.lstrip(".").lower()
    if fmt == "parquet":
        frame = pd.read_parquet(file)
    elif fmt == "csv":
        frame = pd.read_csv(file, dtype={c: ("string" if t == _STR else t) for c, t in dtypes.items()})
    elif fmt == "jsonl":
        frame = pd.DataFrame(list(_read_rows(file)), columns=list(dtypes))
    else:
        raise ValueError(f"{file}: unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    return frame[list(dtypes)].astype(dtypes)
