"""Reading a history file (Parquet or CSV) into the canonical history table through a column mapping."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from riskengine.history import EXTRA_COLUMNS, HISTORY_COLUMNS, LABEL_COLUMNS
from riskengine.model._errors import MappingError

__all__ = ["CANONICAL_COLUMNS", "load_mapping", "read_history", "to_canonical"]

CANONICAL_COLUMNS: dict[str, str] = HISTORY_COLUMNS | EXTRA_COLUMNS | LABEL_COLUMNS
# Without a mapping a file must at least say which declaration, when, and what goods.
REQUIRED_COLUMNS = ("declaration_id", "lodged_at", "hs_code")
_TRANSFORMS = {"column", "zfill", "format", "timezone", "values", "scale"}


def _mapping_path(mapping: str | Path) -> Path:
    path = Path(mapping)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        return path
    shipped = resources.files("riskengine.model") / "mappings" / f"{mapping}.yaml"
    if not shipped.is_file():
        names = sorted(p.name.removesuffix(".yaml") for p in (resources.files("riskengine.model") / "mappings").iterdir())
        raise MappingError(f"no mapping file {mapping!r} and no shipped mapping of that name (shipped: {', '.join(names)})",
                           code="MAPPING_NOT_FOUND")
    return Path(str(shipped))


def load_mapping(mapping: str | Path) -> dict[str, Any]:
    """A mapping's content, validated: ``{"columns": {ours: spec}, "constants": {ours: value}, "source": path}``."""
    path = _mapping_path(mapping)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} does not exist", code="MAPPING_NOT_FOUND") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping file {path} is not valid YAML: {exc}", code="MAPPING_INVALID") from None
    columns = doc.get("columns") or {}
    constants = doc.get("constants") or {}
    if not isinstance(columns, dict) or not isinstance(constants, dict):
        raise MappingError(f"mapping file {path}: 'columns' and 'constants' must be mappings", code="MAPPING_INVALID")
    specs = {}
    for ours, spec in columns.items():
        if ours not in CANONICAL_COLUMNS:
            raise MappingError(f"mapping file {path}: {ours!r} is not a history column "
                               f"(known: {', '.join(CANONICAL_COLUMNS)})", code="MAPPING_INVALID")
        spec = {"column": spec} if isinstance(spec, str) else dict(spec or {})
        unknown = set(spec) - _TRANSFORMS
        if "column" not in spec or unknown:
            raise MappingError(f"mapping file {path}: column {ours!r} needs 'column' and only the transforms "
                               f"{sorted(_TRANSFORMS - {'column'})} (got {sorted(spec)})", code="MAPPING_INVALID")
        specs[ours] = spec
    for ours in constants:
        if ours not in CANONICAL_COLUMNS:
            raise MappingError(f"mapping file {path}: constant {ours!r} is not a history column", code="MAPPING_INVALID")
    return {"columns": specs, "constants": constants, "source": str(path)}


def _read_raw(path: Path, usecols: list[str] | None) -> pd.DataFrame:
    if not path.is_file():
        raise MappingError(f"history file {path} does not exist", code="HISTORY_NOT_FOUND")
    if path.suffix.lower() in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    # Strings first, so codes keep their leading zeros where the file has them.
    return pd.read_csv(path, dtype=str, keep_default_na=True, low_memory=False)


def _apply(series: pd.Series, spec: dict[str, Any], ours: str) -> pd.Series:
    if "values" in spec:
        table = {str(k): v for k, v in spec["values"].items()}
        series = series.map(lambda v: table.get(str(v), v) if pd.notna(v) else v)
    if "zfill" in spec:
        width = int(spec["zfill"])
        series = series.astype("string").str.replace(r"\.0$", "", regex=True).str.zfill(width)
    if "scale" in spec:
        series = pd.to_numeric(series, errors="coerce") * float(spec["scale"])
    if CANONICAL_COLUMNS[ours].startswith("datetime"):
        stamps = pd.to_datetime(series, format=spec.get("format"), errors="coerce")
        if stamps.dt.tz is None:
            stamps = stamps.dt.tz_localize(spec.get("timezone", "UTC"))
        series = stamps.dt.tz_convert("UTC")
    return series


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == "string":
        if pd.api.types.is_float_dtype(series):
            # 30.0 read from a float column is the code "30"
            whole = series.notna() & (series == np.floor(series.fillna(0)))
            out = series.astype("string")
            out[whole] = series[whole].astype("int64").astype("string")
            return out
        return series.astype("string")
    if dtype.startswith("datetime"):
        stamps = pd.to_datetime(series, errors="coerce", utc=True)
        return stamps.astype(dtype)
    numbers = pd.to_numeric(series, errors="coerce")
    if dtype == "Int64":
        return numbers.round().astype("Int64")
    return numbers.astype(dtype)


def to_canonical(raw: pd.DataFrame, mapping: dict[str, Any] | None, *, source: str = "<frame>") -> pd.DataFrame:
    """The canonical history table from a raw frame and a loaded mapping (None: already canonical)."""
    n = len(raw)
    out: dict[str, pd.Series] = {}
    if mapping is None:
        missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
        if missing:
            raise MappingError(f"history file {source} has no column {missing[0]!r} "
                               f"(needed without a mapping; it has {', '.join(map(str, raw.columns[:30]))}); "
                               "pass --mapping to map your columns", code="COLUMN_MISSING")
        for ours in CANONICAL_COLUMNS:
            if ours in raw.columns:
                out[ours] = raw[ours]
    else:
        for ours, spec in mapping["columns"].items():
            theirs = spec["column"]
            if theirs not in raw.columns:
                raise MappingError(f"history file {source} has no column {theirs!r}, which mapping "
                                   f"{mapping['source']} maps to {ours!r}", code="COLUMN_MISSING")
            out[ours] = _apply(raw[theirs], spec, ours)
        for ours, value in mapping["constants"].items():
            if ours not in out:
                out[ours] = pd.Series([value] * n, index=raw.index)
    frame = pd.DataFrame(index=raw.index)
    for ours, dtype in CANONICAL_COLUMNS.items():
        series = out.get(ours)
        frame[ours] = _cast(series, dtype) if series is not None else pd.Series(pd.NA, index=raw.index).pipe(_cast, dtype)
    return frame.reset_index(drop=True)


def read_history(path: Path, mapping: str | Path | None = None) -> pd.DataFrame:
    """Read a Parquet or CSV history file into the canonical history table (missing columns are NA)."""
    path = Path(path)
    loaded = load_mapping(mapping) if mapping is not None else None
    raw = _read_raw(path, None)
    return to_canonical(raw, loaded, source=str(path))
