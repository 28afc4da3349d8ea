"""Streaming input and output: record batches in, whole declarations out, one Parquet file written.

A declaration's lines must be adjacent in the input (any order of declarations); a declaration cut
by a record-batch boundary is carried over to the next chunk, so no chunk holds half of one.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from riskengine.history import HISTORY_COLUMNS, declaration_rows
from riskengine.schemas import Declaration

__all__ = ["DECISION_SCHEMA", "DecisionWriter", "as_frame", "cited_permits", "decision_table", "read_chunks",
           "read_raw_chunks"]

DECISION_SCHEMA = pa.schema([
    ("declaration_id", pa.string()), ("version", pa.int64()), ("decision", pa.string()), ("lane", pa.string()),
    ("score", pa.float64()), ("random_selection", pa.bool_()), ("reasons", pa.string()),
    ("ruleset_version", pa.string()), ("model_version", pa.string()), ("error", pa.string()),
])

_REPEATING = ["decision", "lane", "ruleset_version", "model_version", "error"]


def _record_batches(path: Path, batch_lines: int) -> Iterator[pa.Table | pd.DataFrame]:
    """Parquet and CSV as Arrow tables (cheap to cut and to send to a worker), JSON lines as frames."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        # pre_buffer keeps what it has read of a projected file: +2 MB per 50,000 lines until the end
        source = pq.ParquetFile(path, pre_buffer=False)
        wanted = [c for c in source.schema_arrow.names if c in HISTORY_COLUMNS]
        for batch in source.iter_batches(batch_size=batch_lines, columns=wanted):
            yield pa.Table.from_batches([batch])
    elif suffix in (".csv", ".gz") or path.name.endswith(".csv.gz"):
        types = {name: pa.string() for name, dtype in HISTORY_COLUMNS.items() if dtype == "string"}
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22),
                                # only an empty field is missing: "NA" is Namibia
                                convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                                     null_values=[""]))
        for batch in reader:
            yield pa.Table.from_batches([batch])
    elif suffix in (".jsonl", ".ndjson", ".json"):
        rows: list[dict] = []
        with path.open(encoding="utf-8") as handle:
            for text in handle:
                if text.strip():
                    rows.extend(declaration_rows(Declaration.model_validate(json.loads(text))))
                if len(rows) >= batch_lines:
                    yield pd.DataFrame(rows)
                    rows = []
        if rows:
            yield pd.DataFrame(rows)
    else:
        raise ValueError(f"{path}: expected .parquet, .csv or .jsonl (JSON lines, one declaration each)")


def _permit_key(country, number) -> tuple[str, str]:
    # as `PermitRef` validation reads them: whitespace stripped, the country upper-cased
    return str(country).strip().upper(), str(number).strip()


def _keys_of_column(values, keys: set[tuple[str, str]]) -> None:
    for text in values:
        if text:
            for token in str(text).split(";"):
                if token.strip():
                    country, _, number = token.partition(":")
                    keys.add(_permit_key(country, number))


def cited_permits(path: Path) -> set[tuple[str, str]]:
    """Every (issuing country, number) the input's lines cite, read from the permits column alone.

    A malformed row is skipped here: the assessment pass reports it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    keys: set[tuple[str, str]] = set()
    if suffix in (".parquet", ".pq"):
        source = pq.ParquetFile(path, pre_buffer=False)
        if "permits" in source.schema_arrow.names:
            for batch in source.iter_batches(batch_size=200_000, columns=["permits"]):
                _keys_of_column(batch.column(0).to_pylist(), keys)
    elif suffix in (".csv", ".gz") or path.name.endswith(".csv.gz"):
        header = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16)).schema.names
        if "permits" in header:
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22),
                                    convert_options=pacsv.ConvertOptions(include_columns=["permits"],
                                                                         column_types={"permits": pa.string()}))
            for batch in reader:
                _keys_of_column(batch.column(0).to_pylist(), keys)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8") as handle:
            for text in handle:
                try:
                    items = json.loads(text).get("items") or [] if text.strip() else []
                    for item in items:
                        for ref in item.get("permits") or []:
                            keys.add(_permit_key(ref["issuing_country"], ref["number"]))
                except (ValueError, AttributeError, TypeError, KeyError):
                    continue
    else:
        raise ValueError(f"{path}: expected .parquet, .csv or .jsonl (JSON lines, one declaration each)")
    return keys


def read_chunks(path: Path, *, chunk_lines: int = 50_000) -> Iterator[pd.DataFrame]:
    """Frames of at least `chunk_lines` lines (except the last), each holding whole declarations only."""
    for chunk in read_raw_chunks(path, chunk_lines=chunk_lines):
        yield as_frame(chunk)


def as_frame(chunk: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """A chunk of `read_raw_chunks` as the frame `assess_lines` takes."""
    return chunk.to_pandas() if isinstance(chunk, pa.Table) else chunk


def read_raw_chunks(path: Path, *, chunk_lines: int = 50_000) -> Iterator[pa.Table | pd.DataFrame]:
    """`read_chunks` before the conversion to pandas: Arrow tables from Parquet and CSV, frames from JSON lines.

    A worker converts its own chunk. A frame cut from concatenated record batches cost the driver
    46 ms of CPU to pickle per 50,000 lines; the Arrow table, made contiguous, 4 ms.
    """
    carry: pa.Table | pd.DataFrame | None = None
    for chunk in _record_batches(Path(path), chunk_lines):
        if carry is not None and len(carry):
            chunk = (pa.concat_tables([carry, chunk], promote_options="permissive") if isinstance(chunk, pa.Table)
                     else pd.concat([carry, chunk], ignore_index=True))
        if len(chunk) == 0:
            continue
        cut = _last_declaration_start(chunk)
        if cut == 0:  # one declaration so far: wait for its end
            carry = chunk
            continue
        if isinstance(chunk, pa.Table):
            carry = chunk.slice(cut)
            # its own buffers: a slice pickles the whole record batch it points into
            yield chunk.slice(0, cut).combine_chunks()
        else:
            carry = chunk.iloc[cut:].reset_index(drop=True)
            yield chunk.iloc[:cut].reset_index(drop=True)
    if carry is not None and len(carry):
        yield carry.combine_chunks() if isinstance(carry, pa.Table) else carry


def _tail_keys(chunk: pa.Table | pd.DataFrame, start: int) -> list[tuple[str, str]]:
    """(declaration id, version) as text for the rows from `start` on; a missing version is ""."""
    if isinstance(chunk, pa.Table):
        tail = chunk.slice(start)
        ids = tail.column("declaration_id").to_pylist()
        versions = tail.column("version").to_pylist() if "version" in tail.column_names else [None] * len(ids)
    else:
        tail = chunk.iloc[start:]
        ids = tail["declaration_id"].tolist()
        versions = tail["version"].tolist() if "version" in tail.columns else [None] * len(ids)
    return [(str(i), "" if v is None or v is pd.NA or v != v else str(v)) for i, v in zip(ids, versions)]


def _last_declaration_start(chunk: pa.Table | pd.DataFrame) -> int:
    """Where the chunk's last declaration begins (0: the chunk holds one declaration so far)."""
    n = len(chunk)
    window = 256
    while True:
        start = max(0, n - window)
        keys = _tail_keys(chunk, start)
        for offset in range(len(keys) - 2, -1, -1):
            if keys[offset] != keys[-1]:
                return start + offset + 1
        if start == 0:
            return 0
        window *= 4


def decision_table(result: pd.DataFrame | pa.Table) -> pa.Table:
    """Decision rows as an Arrow table of DECISION_SCHEMA."""
    if isinstance(result, pa.Table):
        return result
    return pa.Table.from_pandas(result, schema=DECISION_SCHEMA, preserve_index=False)


class DecisionWriter:
    """Appends decision frames to one Parquet file, row group by row group."""

    def __init__(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Dictionary pages only where values repeat: on the reasons and ids pyarrow tried one and gave
        # up on every row group, a third of the write's CPU for the same file size.
        self._writer = pq.ParquetWriter(path, DECISION_SCHEMA, use_dictionary=_REPEATING)
        self.rows = 0

    def write(self, result: pd.DataFrame | pa.Table) -> None:
        self._writer.write_table(decision_table(result))
        self.rows += len(result)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> DecisionWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
