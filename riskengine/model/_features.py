"""Feature engineering for the risk model, learned on the training period only.

One code path serves a whole history frame and the few lines of one declaration: both are first
turned into plain numpy columns (``columns_from_frame`` / ``columns_from_rows``), then
``FeatureSpace.transform`` runs the same numpy code and dictionary look-ups on them, so batch and
online scores cannot drift apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.history import LABEL_COLUMNS

__all__ = ["CATEGORIES", "NA_KEY", "FeatureSpace", "columns_from_frame", "columns_from_rows"]

NA_KEY = "<NA>"
_KEY_SOURCES = (
    "importer_id", "importer_name", "exporter_id", "exporter_name", "declarant_id", "customs_office",
    "country_of_origin", "country_of_export", "hs_code", "courier_id", "tax_type", "process_type",
    "import_type", "import_use", "payment_type", "origin_indicator", "transport_mode", "direction",
    "unit", "term", "purpose", "source", "taxon", "currency",
)
_NUMBER_SOURCES = ("value", "net_mass_kg", "quantity", "tax_rate")
# category name -> the key columns it joins; pairs catch a known party doing something new.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "importer": ("importer",),
    "declarant": ("declarant_id",),
    "exporter": ("exporter",),
    "office": ("customs_office",),
    "origin": ("country_of_origin",),
    "export_country": ("country_of_export",),
    "hs6": ("hs6",),
    "hs4": ("hs4",),
    "hs2": ("hs2",),
    "courier": ("courier_id",),
    "importer_hs6": ("importer", "hs6"),
    "declarant_hs6": ("declarant_id", "hs6"),
    "exporter_hs6": ("exporter", "hs6"),
    "origin_hs6": ("country_of_origin", "hs6"),
    "importer_exporter": ("importer", "exporter"),
    "route": ("country_of_origin", "country_of_export", "customs_office"),
    "tax_type": ("tax_type",),
    "process_type": ("process_type",),
    "import_type": ("import_type",),
    "import_use": ("import_use",),
    "payment_type": ("payment_type",),
    "origin_indicator": ("origin_indicator",),
    "transport_mode": ("transport_mode",),
    "direction": ("direction",),
    "unit": ("unit",),
    "term": ("term",),
    "purpose": ("purpose",),
    "source": ("source",),
    "taxon": ("taxon",),
}
# numeric feature -> (value column, grouping for its median) for the "x times the usual" ratios
_RATIOS: dict[str, tuple[str, str]] = {
    "unit_value_vs_hs6": ("log_unit_value", "hs6"),
    "unit_value_vs_origin_hs6": ("log_unit_value", "origin_hs6"),
    "value_per_item_vs_hs6": ("log_value_per_item", "hs6"),
    "mass_vs_hs6": ("log_mass", "hs6"),
    "mass_vs_origin_hs6": ("log_mass", "origin_hs6"),
    "value_vs_hs6": ("log_value", "hs6"),
    "tax_rate_vs_hs6": ("tax_rate", "hs6"),
}
_BASE_NUMBERS = ("log_value", "log_mass", "log_quantity", "log_unit_value", "log_value_per_item", "tax_rate",
                 "log_tax", "day_of_week", "day_of_month", "month", "hour", "n_permits")


def _key(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return NA_KEY
    text = str(value).strip()
    return text or NA_KEY


def _number(value: Any) -> float:
    if value is None or value is pd.NA:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _epoch_ns(value: Any) -> float:
    if value is None or value is pd.NA:
        return math.nan
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return math.nan
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return float(stamp.value)


def _frame_keys(column: pd.Series) -> np.ndarray:
    """A key column as stripped text, NA_KEY where missing or blank."""
    if isinstance(column.array, pd.arrays.ArrowStringArray):
        return _arrow_keys(pa.array(column.array))[0]
    # a column repeats a few thousand values: clean each distinct value once, then spread them out
    codes, uniques = pd.factorize(column.astype("string"))
    s = pd.Series(uniques).str.strip()
    keys = np.append(s.mask(s == "").fillna(NA_KEY).to_numpy(dtype=object), NA_KEY)  # code -1 (NA) is the last
    return keys[codes]


def _arrow_keys(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """`_frame_keys` of Arrow text, cleaned as pandas' ``str.strip`` does it, and codes for its keys.

    The codes' uniques may repeat a key (" A" and "A", blank and missing), as `Derived.set_codes` allows.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    distinct = pc.utf8_trim_whitespace(encoded.dictionary)
    keys = np.array([*distinct.to_pylist(), NA_KEY], dtype=object)  # null (missing) is the last
    keys[:-1][pc.equal(distinct, "").to_numpy(zero_copy_only=False)] = NA_KEY
    index = encoded.indices.fill_null(len(distinct)).to_numpy().astype(np.intp)
    return keys[index], (index, keys)


class Columns(dict):
    """Raw columns by name, with the codes of key columns already factorised on the way (`codes`)."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def columns_from_frame(frame: pd.DataFrame, passthrough: Iterable[str] = ()) -> Columns:
    """The raw columns the features need, from a history frame (absent columns are NA)."""
    n = len(frame)
    cols = Columns()
    for name in _KEY_SOURCES:
        if name in frame.columns and isinstance(frame[name].array, pd.arrays.ArrowStringArray):
            cols[name], codes = _arrow_keys(pa.array(frame[name].array))
            if n >= _FACTORIZE_FROM:  # as `_codes`: fewer rows are looked up one by one
                cols.codes[name] = codes
        elif name in frame.columns:
            cols[name] = _frame_keys(frame[name])
        else:
            cols[name] = np.empty(n, dtype=object)
            cols[name].fill(NA_KEY)  # np.full would make a new str per row
    for name in (*_NUMBER_SOURCES, *passthrough):
        if name in frame.columns:
            cols[name] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            cols[name] = np.full(n, np.nan)
    if "lodged_at" in frame.columns:
        stamps = pd.to_datetime(frame["lodged_at"], utc=True, errors="coerce")
        ns = stamps.astype("int64").to_numpy(dtype=np.float64)
        cols["lodged_ns"] = np.where(stamps.isna().to_numpy(), np.nan, ns)
    else:
        cols["lodged_ns"] = np.full(n, np.nan)
    permits = frame["permits"].astype("string").fillna("") if "permits" in frame.columns else pd.Series([""] * n)
    index, uniques = pd.factorize(permits)  # most lines cite nothing: count each text once
    counts = np.array([float(len([p for p in str(v).split(";") if p])) for v in uniques] + [0.0], dtype=np.float64)
    cols["n_permits"] = counts[index]
    return cols


def columns_from_rows(rows: list[dict[str, Any]], passthrough: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """The same columns from history rows as ``riskengine.history.declaration_rows`` makes them."""
    cols: dict[str, np.ndarray] = {}
    for name in _KEY_SOURCES:
        cols[name] = np.array([_key(r.get(name)) for r in rows], dtype=object)
    for name in (*_NUMBER_SOURCES, *passthrough):
        cols[name] = np.array([_number(r.get(name)) for r in rows], dtype=np.float64)
    cols["lodged_ns"] = np.array([_epoch_ns(r.get("lodged_at")) for r in rows], dtype=np.float64)
    cols["n_permits"] = np.array([float(len([p for p in str(r.get("permits") or "").split(";") if p])) for r in rows],
                                 dtype=np.float64)
    return cols


def _join(d: Derived, parts: tuple[str, ...]) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The key joining these columns of each row, and its codes when factorised on the way."""
    if len(parts) == 1:
        return d[parts[0]], None
    n = d[parts[0]].size
    out = np.empty(n, dtype=object)
    if n < _FACTORIZE_FROM:
        out[:] = ["|".join(t) for t in zip(*(d[p] for p in parts))]
        return out, None
    # many rows share a combination: join the strings of each distinct combination once
    index = None
    columns = []
    for part in parts:
        codes, uniques = d.codes(part)
        if index is None:
            index = codes  # already numbers the first part's values from 0
        else:
            index, distinct = pd.factorize(index * (uniques.size + 1) + codes)  # compact again: no overflow
        columns.append((codes, uniques))
    first = np.empty(distinct.size, dtype=np.int64)
    first[index] = np.arange(n)  # some row of each distinct combination (all its rows have the same parts)
    joined = np.empty(distinct.size, dtype=object)
    joined[:] = ["|".join(t) for t in zip(*(uniques[codes[first]] for codes, uniques in columns))]
    out[:] = joined[index]
    return out, (index, joined)


def _prefix(d: Derived, name: str, width: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The first ``width`` characters of each key, and codes for them when factorised on the way."""
    keys = d[name]
    if keys.size < _FACTORIZE_FROM:
        return np.array([h[:width] if h != NA_KEY else NA_KEY for h in keys], dtype=object), None
    index, uniques = d.codes(name)
    cut = np.array([h[:width] if h != NA_KEY else NA_KEY for h in uniques], dtype=object)
    out = np.empty(keys.size, dtype=object)
    out[:] = cut[index]
    return out, (index, cut)  # codes of the full keys: a prefix may repeat in `cut`; look-ups go by value


class Derived(dict):
    """Derived columns by name; `codes` factorises a key column once however many look-ups use it."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        super().__init__(columns)
        self._codes: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        self._codes_of: dict[int, tuple] = {}  # id of an array -> (the array, kept alive so ids stay unique; codes)

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """`_codes` of column ``name`` (None for a few rows); a column under two names is factorised once."""
        if name not in self._codes:
            array = self[name]
            if id(array) not in self._codes_of:
                self._codes_of[id(array)] = (array, _codes(array))
            self._codes[name] = self._codes_of[id(array)][1]
        return self._codes[name]

    def set_codes(self, name: str, codes: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Codes already known for column ``name`` (their uniques may repeat a value)."""
        if codes is not None:
            self._codes[name] = codes
            self._codes_of[id(self[name])] = (self[name], codes)


def _derive(cols: dict[str, np.ndarray]) -> Derived:
    """Keys and plain numbers every feature is computed from."""
    d = Derived(cols)
    for name, codes in getattr(cols, "codes", {}).items():
        d.set_codes(name, codes)
    for width in (6, 4, 2):
        d[f"hs{width}"], codes = _prefix(d, "hs_code", width)
        d.set_codes(f"hs{width}", codes)
    d["importer"] = np.where(cols["importer_id"] != NA_KEY, cols["importer_id"], cols["importer_name"])
    d["exporter"] = np.where(cols["exporter_id"] != NA_KEY, cols["exporter_id"], cols["exporter_name"])
    with np.errstate(invalid="ignore", divide="ignore"):
        value, mass, qty = (np.where(cols[c] >= 0, cols[c], np.nan) for c in ("value", "net_mass_kg", "quantity"))
        d["log_value"] = np.log1p(value)
        d["log_mass"] = np.log1p(mass)
        d["log_quantity"] = np.log1p(qty)
        d["log_unit_value"] = d["log_value"] - d["log_mass"]
        d["log_value_per_item"] = d["log_value"] - d["log_quantity"]
        d["tax_rate"] = cols["tax_rate"]
        d["log_tax"] = np.log1p(value * cols["tax_rate"] / 100.0)
    ns = cols["lodged_ns"]
    ok = ~np.isnan(ns)
    stamps = np.where(ok, ns, 0).astype("int64").astype("datetime64[ns]")
    days = stamps.astype("datetime64[D]")
    months = stamps.astype("datetime64[M]")
    d["day_of_week"] = np.where(ok, (days.astype("int64") + 3) % 7, np.nan)  # 1970-01-01 was a Thursday
    d["day_of_month"] = np.where(ok, (days - months.astype("datetime64[D]")).astype("int64") + 1, np.nan)
    d["month"] = np.where(ok, months.astype("int64") % 12 + 1, np.nan)
    d["hour"] = np.where(ok, (stamps.astype("datetime64[h]").astype("int64")) % 24, np.nan)
    for name, parts in CATEGORIES.items():
        d[f"key:{name}"], codes = _join(d, parts)
        d.set_codes(f"key:{name}", codes)
    return d


# Above this many rows, look each distinct key up once (a chunk of 50,000 lines has a few thousand).
_FACTORIZE_FROM = 1_000


def _codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    return pd.factorize(keys) if keys.size >= _FACTORIZE_FROM else None


def _lookup(table: dict[str, float], keys: np.ndarray, default: float,
            codes: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    codes = codes if codes is not None else _codes(keys)
    if codes is None:
        return np.fromiter(map(table.get, keys, repeat(default)), dtype=np.float64, count=keys.size)
    index, uniques = codes
    return np.fromiter(map(table.get, uniques, repeat(default)), dtype=np.float64, count=uniques.size)[index]


@dataclass
class FeatureSpace:
    """Category statistics and medians of a training period, and the feature columns they give."""

    smoothing: float = 20.0
    n_folds: int = 5
    min_group: int = 5
    random_state: int | None = 0
    passthrough: tuple[str, ...] = ()
    categories: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    supervised: bool = False
    prior: float = 0.0
    counts: dict[str, dict[str, float]] = field(default_factory=dict)
    positives: dict[str, dict[str, float]] = field(default_factory=dict)
    labelled: dict[str, dict[str, float]] = field(default_factory=dict)
    rates: dict[str, dict[str, float]] = field(default_factory=dict)
    medians: dict[str, dict[str, float]] = field(default_factory=dict)
    global_medians: dict[str, float] = field(default_factory=dict)
    n_train: int = 0

    @property
    def feature_names(self) -> list[str]:
        names = list(self.numbers)
        for cat in self.categories:
            names.append(f"{cat}_count")
            if self.supervised:
                names.append(f"{cat}_rate")
        return names

    # -- fitting -------------------------------------------------------------------------------
    def fit_transform(self, cols: dict[str, np.ndarray], y: np.ndarray | None) -> np.ndarray:
        """Learn the statistics from training columns; training rows get out-of-fold category features.

        ``y`` holds 0/1 with NaN for rows without an inspection outcome (None: no labels at all).
        A row's own label never reaches its own features, so the model learns from encodings as
        noisy as the ones it will see on new declarations.
        """
        d = _derive(cols)
        n = next(iter(cols.values())).size
        self.n_train = n
        self.supervised = y is not None
        labelled = ~np.isnan(y) if y is not None else np.zeros(n, dtype=bool)
        yy = np.where(labelled, y, 0.0) if y is not None else np.zeros(n)
        self.prior = float(yy[labelled].mean()) if labelled.any() else 0.0
        self.categories = [c for c in CATEGORIES if len(set(d[f"key:{c}"])) > 1]
        self._fit_medians(d)
        rng = np.random.default_rng(self.random_state)
        fold = rng.permutation(n) % self.n_folds
        scale = self.n_folds / (self.n_folds - 1)
        # each fold's prior too comes from the other folds, so no trace of a row's label reaches it
        fold_prior = []
        for k in range(self.n_folds):
            known = labelled & (fold != k)
            fold_prior.append(float(yy[known].mean()) if known.any() else self.prior)
        cat_features: list[np.ndarray] = []
        for cat in self.categories:
            codes, uniques = pd.factorize(d[f"key:{cat}"])
            m = uniques.size
            count = np.bincount(codes, minlength=m).astype(float)
            pos = np.bincount(codes, weights=yy * labelled, minlength=m)
            lab = np.bincount(codes, weights=labelled.astype(float), minlength=m)
            oof_count = np.empty(n)
            oof_rate = np.empty(n)
            for k in range(self.n_folds):
                inside = fold == k
                out = ~inside
                c_k = np.bincount(codes[out], minlength=m).astype(float)
                p_k = np.bincount(codes[out], weights=(yy * labelled)[out], minlength=m)
                l_k = np.bincount(codes[out], weights=labelled[out].astype(float), minlength=m)
                oof_count[inside] = c_k[codes[inside]] * scale
                oof_rate[inside] = self._smooth(p_k, l_k, fold_prior[k])[codes[inside]]
            keys = list(uniques)
            self.counts[cat] = dict(zip(keys, count.tolist()))
            if self.supervised:
                self.positives[cat] = dict(zip(keys, pos.tolist()))
                self.labelled[cat] = dict(zip(keys, lab.tolist()))
                self.rates[cat] = dict(zip(keys, self._smooth(pos, lab).tolist()))
            cat_features.append(oof_count)
            if self.supervised:
                cat_features.append(oof_rate)
        numbers = self._numbers(d)
        self.numbers = [name for name, col in numbers.items()
                        if np.isfinite(col).any() and np.nanmax(col) > np.nanmin(col)]
        kept = [numbers[name] for name in self.numbers]
        return np.column_stack(kept + cat_features) if kept or cat_features else np.empty((n, 0))

    def _smooth(self, pos: np.ndarray, lab: np.ndarray, prior: float | None = None) -> np.ndarray:
        prior = self.prior if prior is None else prior
        return (pos + prior * self.smoothing) / (lab + self.smoothing)

    def _fit_medians(self, d: dict[str, np.ndarray]) -> None:
        for base in {b for b, _ in _RATIOS.values()}:
            values = d[base]
            ok = np.isfinite(values)
            self.global_medians[base] = float(np.median(values[ok])) if ok.any() else math.nan
            for group in {g for b, g in _RATIOS.values() if b == base} | {"hs4", "hs2"}:
                keys = d[f"key:{group}"] if f"key:{group}" in d else d[group]
                s = pd.Series(values[ok]).groupby(keys[ok])
                stats = s.agg(["median", "count"])
                stats = stats[stats["count"] >= self.min_group]
                self.medians[f"{base}@{group}"] = stats["median"].astype(float).to_dict()

    def median_for(self, base: str, group: str, d: dict[str, np.ndarray]) -> np.ndarray:
        """The training median of ``base`` for each row's group, falling back to coarser groups."""
        chain = {"origin_hs6": ["origin_hs6", "hs6", "hs4", "hs2"], "hs6": ["hs6", "hs4", "hs2"]}[group]
        d = d if isinstance(d, Derived) else Derived(d)
        out = np.full(d["hs6"].size, self.global_medians[base])
        for g in reversed(chain):
            keys = d[f"key:{g}"]
            found = _lookup(self.medians[f"{base}@{g}"], keys, math.nan, d.codes(f"key:{g}"))
            out = np.where(np.isnan(found), out, found)
        return out

    def _numbers(self, d: Derived) -> dict[str, np.ndarray]:
        out = {name: d[name] for name in _BASE_NUMBERS}
        for name, (base, group) in _RATIOS.items():
            out[name] = d[base] - self.median_for(base, group, d)
        for name in self.passthrough:
            out[f"x:{name}"] = d[name]
        return out

    # -- applying ------------------------------------------------------------------------------
    def derive(self, cols: dict[str, np.ndarray]) -> Derived:
        return _derive(cols)

    def transform(self, cols: dict[str, np.ndarray], derived: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Feature matrix of new rows, from the full training statistics (no label of theirs is used)."""
        parts = self.transform_columns(cols, derived)
        return np.column_stack(parts) if parts else np.empty((next(iter(cols.values())).size, 0))

    def transform_columns(self, cols: dict[str, np.ndarray],
                          derived: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
        """`transform`'s columns, one array each, for a caller that lays the matrix out itself."""
        d = _derive(cols) if derived is None else derived if isinstance(derived, Derived) else Derived(derived)
        numbers = self._numbers(d)
        parts = [numbers[name] for name in self.numbers]
        for cat in self.categories:
            keys = d[f"key:{cat}"]
            parts.append(_lookup(self.counts[cat], keys, 0.0, d.codes(f"key:{cat}")))
            if self.supervised:
                parts.append(_lookup(self.rates[cat], keys, self.prior, d.codes(f"key:{cat}")))
        return parts

    def stats(self, cat: str, key: str) -> tuple[float, float, float]:
        """(rows seen, labelled rows, positives) of one category value in training."""
        return (self.counts.get(cat, {}).get(key, 0.0), self.labelled.get(cat, {}).get(key, 0.0),
                self.positives.get(cat, {}).get(key, 0.0))


def label_vector(y: Any) -> np.ndarray:
    """Labels as float 0/1 with NaN where there is no outcome."""
    return pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


LABELS = tuple(LABEL_COLUMNS)
