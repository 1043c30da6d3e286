"""pactx on a Ray cluster, through Ray Data (the optional extra ``pactx[ray]``).

:class:`Extract` is a callable class for ``Dataset.map_batches``: each Ray actor builds one
:class:`~pactx.extraction.Extractor` (an endpoint or the embedded model) and turns rows
``{"id", "text"}`` (``source`` optional) into rows ``{"id", "source", "ok", "record"}``,
where ``record`` is the JSON line ``pactx extract`` writes (:meth:`pactx.batch.Outcome.to_record`).
A document that fails is a row with ``ok`` false and the error in its record, never dropped.

>>> import pactx.ray as pray
>>> pray.init()                                          # a local cluster; or init("ray://head:10001")
>>> docs = pray.read_documents("corpus/*.jsonl")         # Ray's own JSONL / Parquet readers
>>> results = pray.extract_dataset(docs, workers=4, base_url=url, model="qwen2.5:7b", cache=True)
>>> pray.write_results(results, "out/", format="parquet")

:func:`extract_many` is the Ray twin of :func:`pactx.batch.extract_many` (one
:class:`~pactx.batch.Outcome` per input); ``pactx extract --engine ray`` runs on it.

The result cache on a cluster: every actor opens the sqlite cache at the path it is given (or
the default path) on *its own node's* disk, shared by the actors of that node (WAL mode).
Keys are content addresses (model, prompt, schema, parameters, text hash), so a result means
the same on every node, writing it twice is harmless, and node caches can be merged
(:meth:`pactx.cache.ResultCache.merge`). Do not put the file on a network file system.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

try:
    import pyarrow as pa
    import ray
    import ray.data
    from ray.data.block import BlockAccessor
    from ray.data.datasource import BlockBasedFileDatasink
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        f"pactx.ray needs Ray Data ({exc.name} is missing): pip install 'pactx[ray]'"
    ) from exc

from pactx.batch import EMBEDDED_PROVIDER, Item, Outcome, RateGate, _outcome
from pactx.documents import Document, InputFailure, as_document
from pactx.errors import ConfigurationError
from pactx.extraction import Extractor

__all__ = [
    "Extract",
    "RESULT_SCHEMA",
    "init",
    "extract_dataset",
    "extract_many",
    "extractor_settings",
    "read_documents",
    "write_results",
    "outcome_of",
]

RESULT_SCHEMA = pa.schema(
    [("id", pa.string()), ("source", pa.string()), ("ok", pa.bool_()), ("record", pa.string())]
)
"""The columns of a result row; ``record`` is the JSON line ``pactx extract`` writes."""

_DOCUMENT_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())])
DEFAULT_BATCH_SIZE = 64
DEFAULT_WINDOW = 10_000


def init(address: str | None = None, **ray_init_kwargs: Any) -> None:
    """Connect to the Ray cluster at ``address`` (``"auto"``, ``host:port``, ``ray://...``).

    Without an address (and without ``RAY_ADDRESS``), start a local cluster that listens on
    loopback only and has no dashboard; a cluster at a loopback address is joined on loopback.
    Ray's usage statistics are off unless ``RAY_USAGE_STATS_ENABLED`` says otherwise. Does
    nothing when Ray is already initialized. A cluster Ray says it cannot find (``"auto"``
    with none running) is a :class:`~pactx.errors.ConfigurationError`.
    """
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        ray_init_kwargs.setdefault("include_dashboard", False)
    ray_init_kwargs.setdefault("configure_logging", False)
    with _loopback_only(address is None or _is_loopback(address)):
        try:
            ray.init(address=address, **ray_init_kwargs)
        except ConnectionError as exc:
            raise ConfigurationError(f"cannot reach the Ray cluster at {address}: {exc}") from None


def _is_loopback(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _loopback_only(active: bool) -> Iterator[None]:
    """While Ray starts or joins a node: its single-machine mode, on 127.0.0.1 (as on macOS).

    Otherwise Ray replaces a loopback address by this machine's network address. Set for
    this process (a Ray constant) and the processes it starts meanwhile (an environment
    variable the raylet's Python workers read); both are restored afterwards.
    """
    if not active:
        yield
        return
    from ray._private import ray_constants

    name = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    saved_env, saved_flag = os.environ.get(name), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[name] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved_env


# -- the map_batches callable -----------------------------------------------------------------


class Extract:
    """``Dataset.map_batches`` callable: one :class:`Extractor` per actor, rows in, records out.

    ``concurrency`` documents are in flight per actor (one for the embedded model), and
    ``requests_per_minute`` / ``tokens_per_minute`` hold this actor's calls across all the
    batches it gets; ``cache`` is a path (opened on the actor's node), ``True`` for the node's
    default path, or ``None``. Other keyword arguments go to :class:`Extractor`.
    """

    def __init__(
        self,
        *,
        concurrency: int = 8,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        cache: str | Path | bool | None = None,
        **extractor_options: Any,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.extractor = Extractor(cache=cache, **extractor_options)
        embedded = self.extractor.backend.provider == EMBEDDED_PROVIDER
        self.concurrency = 1 if embedded else concurrency
        limited = requests_per_minute or tokens_per_minute
        self.gate = RateGate(requests_per_minute, tokens_per_minute) if limited else None
        self._runner = asyncio.Runner()  # one loop for the actor's life: HTTP clients and gate live on
        self._lock = threading.Lock()

    def __call__(self, batch: Any) -> pa.Table:
        """Extract every row of ``batch`` (a pyarrow table, pandas frame or dict of columns)."""
        items = _items(_columns(batch))
        with self._lock:
            outcomes = self._runner.run(self._extract(items))
        return outcome_table(outcomes)

    async def _extract(self, items: list[Document | InputFailure]) -> list[Outcome]:
        slots = asyncio.Semaphore(self.concurrency)

        async def one(item: Document | InputFailure) -> Outcome:
            async with slots:
                return await _outcome(self.extractor, item, self.gate)

        return list(await asyncio.gather(*(one(item) for item in items)))

    def close(self) -> None:
        """Close the extractor (cache, HTTP clients) and the actor's event loop."""
        with self._lock:
            if self._runner is None:
                return
            try:
                self._runner.run(self.extractor.aclose())
            finally:
                self._runner.close()
                self._runner = None  # type: ignore[assignment]
                self.extractor.close()

    def __del__(self) -> None:  # Ray Data calls it when the actor pool shuts down
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


def _columns(batch: Any) -> dict[str, list[Any]]:
    if hasattr(batch, "to_pydict"):  # pyarrow.Table
        return batch.to_pydict()
    if hasattr(batch, "to_dict") and hasattr(batch, "columns"):  # pandas.DataFrame
        return batch.to_dict("list")
    if isinstance(batch, Mapping):
        return {k: v.tolist() if hasattr(v, "tolist") else list(v) for k, v in batch.items()}
    raise TypeError(f"expected a batch of rows (pyarrow, pandas or dict of columns), got {type(batch).__name__}")


def _items(columns: dict[str, list[Any]]) -> list[Document | InputFailure]:
    """The batch's rows as checked documents (bad texts become failures naming the row's id)."""
    if "text" not in columns:
        raise ValueError(f"pactx.ray.Extract needs a 'text' column; the rows have {sorted(columns)}")
    texts = columns["text"]
    ids = columns.get("id") or [None] * len(texts)
    sources = columns.get("source") or [None] * len(texts)
    items: list[Document | InputFailure] = []
    for doc_id, text, source in zip(ids, texts, sources, strict=True):
        item = as_document(text if doc_id is None else (str(doc_id), text))
        items.append(replace(item, source=str(source)) if source is not None else item)
    return items


def outcome_table(outcomes: Iterable[Outcome]) -> pa.Table:
    """Result rows (:data:`RESULT_SCHEMA`) for ``outcomes``, in their order."""
    rows = list(outcomes)
    return pa.table(
        {
            "id": [o.id for o in rows],
            "source": [o.source for o in rows],
            "ok": [o.ok for o in rows],
            "record": [json.dumps(o.to_record(), ensure_ascii=False) for o in rows],
        },
        schema=RESULT_SCHEMA,
    )


def outcome_of(row: Mapping[str, Any]) -> Outcome:
    """The :class:`~pactx.batch.Outcome` a result row holds."""
    return Outcome.from_record(json.loads(row["record"]))


# -- datasets ---------------------------------------------------------------------------------


def extractor_settings(extractor: Extractor) -> dict[str, Any]:
    """Keyword arguments that rebuild ``extractor`` in a Ray actor (:class:`Extract`).

    The provider configuration is the one resolved here (environment, served model), so
    the workers need neither this machine's environment nor a model listing; the cache
    becomes its path, opened on each worker's node.
    """
    backend = extractor.backend
    config = getattr(backend, "config", None)
    if config is None:
        raise ConfigurationError(f"cannot run {extractor!r} on Ray: its backend has no provider configuration")
    if getattr(backend, "base_url", None):
        config = replace(config, model=backend.model)
    return {
        "config": config,
        "prompt": extractor.prompt,
        "strategy": extractor.strategy,
        "min_confidence": extractor.min_confidence,
        "max_reasks": extractor.max_reasks,
        "max_chunk_chars": extractor.max_chunk_chars,
        "chunk_overlap": extractor.chunk_overlap,
        "cache": str(extractor.cache.path) if extractor.cache is not None else None,
    }


def extract_dataset(
    dataset: ray.data.Dataset,
    *,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_cpus: float = 1.0,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    extractor: Extractor | None = None,
    map_batches_args: dict[str, Any] | None = None,
    **extractor_options: Any,
) -> ray.data.Dataset:
    """``dataset`` (rows ``{id, text}``) mapped through a pool of ``workers`` :class:`Extract` actors.

    ``workers`` defaults to the cluster's CPU count divided by ``num_cpus``. The rate limits
    are for the whole pool: each actor gets an equal share. Configure the extractor with
    ``extractor_options`` (``base_url``, ``model``, ``cache``, ...) or copy a local one with
    ``extractor=`` (see :func:`extractor_settings`); ``map_batches_args`` go to
    ``Dataset.map_batches`` (``memory=``, ``resources=``, ``runtime_env=``, ...). A killed
    actor is restarted and its batch run again (Ray Data's defaults for actor pools:
    unlimited restarts and task retries), so no row is lost.
    """
    if extractor is not None:
        if extractor_options:
            raise TypeError("give either an extractor or extractor options, not both")
        extractor_options = extractor_settings(extractor)
    if workers is None:
        workers = _cluster_workers(num_cpus)
    if workers < 1:
        raise ValueError("workers must be at least 1")
    share = 1 / workers
    options = {
        **extractor_options,
        "concurrency": concurrency,
        "requests_per_minute": requests_per_minute * share if requests_per_minute else None,
        "tokens_per_minute": tokens_per_minute * share if tokens_per_minute else None,
    }
    return dataset.map_batches(
        Extract,
        fn_constructor_kwargs=options,
        compute=ray.data.ActorPoolStrategy(size=workers),
        batch_size=batch_size,
        batch_format="pyarrow",
        num_cpus=num_cpus,
        **(map_batches_args or {}),
    )


def _cluster_workers(num_cpus: float) -> int:
    """As many workers as the cluster has CPUs for (at least one)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1) / num_cpus))


def extract_many(
    docs: Iterable[Item],
    *,
    extractor: Extractor | None = None,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    ordered: bool = False,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    window: int = DEFAULT_WINDOW,
    address: str | None = None,
    **extractor_options: Any,
) -> Iterator[Outcome]:
    """:func:`pactx.batch.extract_many` on Ray: one :class:`~pactx.batch.Outcome` per input.

    The inputs are read here, ``window`` documents at a time (one Ray Data run each, so
    memory stays bounded); inputs that are not documents (empty, undecodable, ...) are
    yielded first within their window, as failures. ``concurrency`` is per worker; rate
    limits are for the whole pool. Connects with :func:`init` (``address``) if needed.
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    init(address)
    source = iter(docs)
    while chunk := list(itertools.islice(source, window)):
        rows: list[dict[str, Any]] = []
        for raw in chunk:
            item = as_document(raw)
            if isinstance(item, InputFailure):
                yield Outcome.failure(item.id, "InputError", item.error, item.source)
            else:
                rows.append({"id": item.id, "text": item.text, "source": item.source})
        if not rows:
            continue
        # One block per batch, exactly: Ray Data bundles smaller blocks up to a batch, and a
        # bundle's results come back together; and every worker gets some.
        blocks = [pa.Table.from_pylist(rows[i : i + batch_size], schema=_DOCUMENT_SCHEMA) for i in range(0, len(rows), batch_size)]
        dataset = ray.data.from_arrow(blocks)
        dataset.context.execution_options.preserve_order = ordered
        dataset.context.enable_progress_bars = False  # like pactx.batch.extract_many: the caller shows progress
        results = extract_dataset(
            dataset,
            workers=min(workers or _cluster_workers(1.0), len(blocks)),  # no actor without a batch
            batch_size=batch_size,
            concurrency=concurrency,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            extractor=extractor,
            **extractor_options,
        )
        for batch in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            for record in batch.column("record").to_pylist():
                yield Outcome.from_record(json.loads(record))


# -- reading and writing ----------------------------------------------------------------------

_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def _format_of(paths: str | list[str], format: str | None) -> str:
    if format is not None:
        if format not in ("jsonl", "parquet"):
            raise ValueError(f"unknown format {format!r}; choose jsonl or parquet")
        return format
    first = paths if isinstance(paths, str) else (paths[0] if paths else "")
    suffix = Path(str(first).rstrip("/*")).suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(f"cannot tell the format of {first!r} from its name; pass format='jsonl' or 'parquet'")
    return _FORMATS[suffix]


def read_documents(
    paths: str | list[str],
    *,
    format: str | None = None,
    id_column: str = "id",
    text_column: str = "text",
    **read_kwargs: Any,
) -> ray.data.Dataset:
    """Documents as a Ray dataset of rows ``{id, text}``, through Ray's own readers.

    ``format`` is ``jsonl`` (``ray.data.read_json(lines=True)``) or ``parquet``
    (``ray.data.read_parquet``, only the two columns read), by default from the first
    path's suffix. Other columns named ``id_column`` / ``text_column`` are renamed.
    ``read_kwargs`` go to the Ray reader (``filesystem=``, ``override_num_blocks=``, ...).
    Ray's JSON reader fails the whole read on a malformed line; rows with bad texts
    (empty, not text) become failure rows when extracted.
    """
    kind = _format_of(paths, format)
    if kind == "parquet":
        dataset = ray.data.read_parquet(paths, columns=[id_column, text_column], **read_kwargs)
    else:
        dataset = ray.data.read_json(paths, lines=True, **read_kwargs)
    renames = {old: new for old, new in ((id_column, "id"), (text_column, "text")) if old != new}
    return dataset.rename_columns(renames) if renames else dataset


class _RecordLines(BlockBasedFileDatasink):
    """Writes each block's ``record`` column as JSON lines: the lines ``pactx extract`` writes."""

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(path, file_format="jsonl", **kwargs)

    def write_block_to_file(self, block: BlockAccessor, file: Any) -> None:
        for record in block.to_arrow().column("record").to_pylist():
            file.write((record + "\n").encode("utf-8"))


def write_results(dataset: ray.data.Dataset, path: str, *, format: str = "jsonl", **write_kwargs: Any) -> None:
    """Write result rows to the folder ``path`` with Ray's writers, one file per block.

    ``jsonl``: the records exactly as ``pactx extract`` writes them, failures included (they
    carry ``error`` instead of ``result``). ``parquet``: the :data:`RESULT_SCHEMA` columns
    (filter on ``ok``; parse ``record`` as JSON).
    """
    if format == "parquet":
        dataset.write_parquet(path, **write_kwargs)
    elif format == "jsonl":
        dataset.write_datasink(_RecordLines(path, **write_kwargs))
    else:
        raise ValueError(f"unknown format {format!r}; choose jsonl or parquet")
