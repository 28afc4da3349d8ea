"""Running the stages over a file: in this process, on local worker processes, or on a Dask cluster.

The driver reads the store snapshot and builds the stages once, streams the input in chunks of
whole declarations, keeps a bounded number of chunks in flight and writes results in input order,
so memory stays flat whatever the input size.
"""
from __future__ import annotations

import collections
import multiprocessing
import os
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from riskengine.config import Settings
from riskengine.rulelang import load_rules

from ._io import DecisionWriter, as_frame, cited_permits, decision_table, read_raw_chunks
from ._snapshot import StoreSnapshot, read_snapshot
from ._stages import Stages, assess_lines

__all__ = ["BatchSummary", "build_stages", "run_batch"]


@dataclass
class BatchSummary:
    """What a batch run did."""

    declarations: int
    lines: int
    seconds: float
    lanes: dict[str, int]
    errors: int
    ruleset_version: str
    model_version: str | None


def build_stages(settings: Settings, snapshot: StoreSnapshot | None = None, *,
                 cited: set[tuple[str, str]] | None = None) -> Stages:
    """Reference data, rules, model and store snapshot, as `Engine.from_settings` would load them.

    With `cited` (the permit keys of the input, `cited_permits`), the snapshot holds only what
    those declarations need from the registry; without, the whole registry.
    """
    from riskengine.engine import load_model_or_reason
    from riskengine.setup import load_reference
    from riskengine.store.db import Database

    reference = load_reference(settings)
    ruleset = load_rules(settings.resolve(settings.rules.dir), in_force=True)
    model, error = load_model_or_reason(settings.resolve(settings.model.path))
    if snapshot is None:
        database = Database(settings.database.url)
        try:
            database.refresh_statistics()
            snapshot = read_snapshot(database, salt=settings.decision.random_salt or None, cited=cited,
                                     reference=reference)
        finally:
            database.dispose()
    return Stages(settings=settings, reference=reference, ruleset=ruleset, model=model, model_error=error,
                  snapshot=snapshot)


# -- worker side: the stages arrive once per process and stay ---------------------------------------
_WORKER_STAGES: dict[str, Stages] = {}


def _init_worker(key: str, stages: Stages) -> None:
    from threadpoolctl import threadpool_limits

    # The workers already fill the cores; OpenMP threads of scikit-learn's predict on top of them
    # spin-wait against each other (a 50,000-line predict took 2 s with two threads, 0.6 s with one).
    threadpool_limits(1, user_api="openmp")
    _WORKER_STAGES[key] = stages


def _assess(stages: Stages, chunk: pa.Table | pd.DataFrame) -> pa.Table:
    # Arrow in and out: the worker converts its chunk and builds the decision table, so the driver
    # only reads, cuts and writes.
    return decision_table(assess_lines(stages, as_frame(chunk)))


def _assess_local(key: str, chunk: pd.DataFrame | str, spool: str) -> str:
    """A chunk (a spooled Arrow file, or a frame of JSON lines) assessed; the spooled file of its decisions."""
    table = _assess(_WORKER_STAGES[key], _Spool.take(chunk) if isinstance(chunk, str) else chunk)
    return _Spool(Path(spool)).put(table)


class _Spool:
    """Arrow IPC files in a private directory (in memory under /dev/shm where there is one): the chunks
    for local workers and their decisions.

    Through the executor's pipe, 19 MB per chunk went in 64 KB writes of a feeder thread that shares
    the driver's GIL with reading and writing: each worker waited about 60 ms between two chunks,
    idle cores for a tenth of the run. A file is written once and memory-mapped by its reader.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def create(cls) -> _Spool:
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        return cls(Path(tempfile.mkdtemp(prefix="riskengine-batch-", dir=base)))

    def put(self, table: pa.Table) -> str:
        path = str(self.directory / f"{uuid.uuid4().hex}.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        return path

    @staticmethod
    def take(path: str) -> pa.Table:
        """The table of a spooled file; the file is gone once read (its mapping lives with the table)."""
        table = pa.ipc.open_file(pa.memory_map(path)).read_all()
        os.unlink(path)
        return table

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _assess_dask(stages: Stages, chunk: pa.Table | pd.DataFrame) -> pa.Table:
    # Dask hands every task the same deserialised object on a worker; nothing to rebuild.
    return _assess(stages, chunk)


def run_batch(source: Path, out: Path, *, settings: Settings, workers: int = 1, dask: str | None = None,
              chunk_lines: int = 50_000, stages: Stages | None = None, client=None) -> BatchSummary:
    """Assess every declaration of `source` and write one decision row per declaration to `out` (Parquet).

    Nothing is reserved or recorded: batch is for backtests and bulk pre-arrival scoring.
    """
    started = time.perf_counter()
    stages = stages or build_stages(settings, cited=cited_permits(source))
    lanes: collections.Counter = collections.Counter()
    counts = {"declarations": 0, "lines": 0, "errors": 0}

    def take(result: pa.Table, n_lines: int, writer: DecisionWriter) -> None:
        writer.write(result)
        counts["declarations"] += len(result)
        counts["lines"] += n_lines
        counts["errors"] += len(result) - result["error"].null_count
        lanes.update(result["lane"].drop_null().to_pandas().value_counts().to_dict())

    chunks = read_raw_chunks(source, chunk_lines=chunk_lines)
    with DecisionWriter(out) as writer:
        if dask is None and client is None and workers <= 1:
            for chunk in chunks:
                take(_assess(stages, chunk), len(chunk), writer)
        elif dask is None and client is None:
            key = uuid.uuid4().hex
            context = multiprocessing.get_context("fork")  # the stages are inherited, not pickled per task
            spool = _Spool.create()
            try:
                with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                         initargs=(key, stages)) as pool:
                    def submit(chunk):
                        sent = spool.put(chunk) if isinstance(chunk, pa.Table) else chunk
                        return pool.submit(_assess_local, key, sent, str(spool.directory))

                    _pipeline(chunks, submit, 2 * workers,
                              lambda future, n: take(_Spool.take(future.result()), n, writer))
            finally:
                spool.remove()
        else:
            _run_dask(chunks, stages, dask=dask, client=client, take=lambda r, n: take(r, n, writer))
    return BatchSummary(declarations=counts["declarations"], lines=counts["lines"],
                        seconds=time.perf_counter() - started, lanes=dict(lanes), errors=counts["errors"],
                        ruleset_version=stages.ruleset.version,
                        model_version=stages.model.version if stages.model is not None else None)


def _pipeline(chunks, submit, depth: int, done) -> None:
    """Keep at most `depth` chunks in flight; hand results on in input order."""
    pending: collections.deque = collections.deque()
    for chunk in chunks:
        pending.append((submit(chunk), len(chunk)))
        if len(pending) >= depth:
            done(*pending.popleft())
    while pending:
        done(*pending.popleft())


def _run_dask(chunks, stages: Stages, *, dask: str | None, client, take) -> None:
    from distributed import Client

    own = client is None
    client = client or Client(dask)
    try:
        shared = client.scatter(stages, broadcast=True, hash=False)
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        _pipeline(chunks, lambda chunk: client.submit(_assess_dask, shared, chunk, pure=False), 2 * workers,
                  lambda future, n: take(future.result(), n))
    finally:
        if own:
            client.close()
