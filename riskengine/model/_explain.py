"""Why a line scored high, in words an officer reads at the border.

Attribution is a cheap local one: each group of related features (unit value, importer, origin
for this HS code...) is set back to what an ordinary training line has, and the drop in score is
that group's contribution. One vectorised predict per line covers all groups.
"""
from __future__ import annotations

import math

import numpy as np

from riskengine.model._features import NA_KEY

__all__ = ["feature_groups", "explain_line", "phrase_many"]

_NUMBER_GROUPS = {
    "log_unit_value": "unit_value", "unit_value_vs_hs6": "unit_value", "unit_value_vs_origin_hs6": "unit_value",
    "log_value_per_item": "unit_value", "value_per_item_vs_hs6": "unit_value",
    "log_mass": "mass", "mass_vs_hs6": "mass", "mass_vs_origin_hs6": "mass",
    "log_value": "value", "value_vs_hs6": "value", "log_quantity": "quantity",
    "tax_rate": "tax", "log_tax": "tax", "tax_rate_vs_hs6": "tax",
    "day_of_week": "time", "day_of_month": "time", "month": "time", "hour": "time",
    "n_permits": "permits", "anomaly": "anomaly",
}
_LABELS = {
    "importer": "importer", "declarant": "declarant", "exporter": "exporter", "office": "customs office",
    "origin": "origin", "export_country": "country of export", "courier": "courier", "tax_type": "tax type",
    "process_type": "process type", "import_type": "import type", "import_use": "import use",
    "payment_type": "payment type", "origin_indicator": "origin indicator", "transport_mode": "transport mode",
    "direction": "direction", "unit": "unit", "term": "CITES term", "purpose": "CITES purpose",
    "source": "CITES source", "taxon": "taxon",
}
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def feature_groups(names: list[str]) -> dict[str, np.ndarray]:
    """Group name -> indices of its feature columns."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name in _NUMBER_GROUPS:
            group = _NUMBER_GROUPS[name]
        elif name.startswith("x:"):
            group = name
        else:
            group = name.rsplit("_", 1)[0]
            group = "hs" if group in {"hs6", "hs4", "hs2"} else group
        groups.setdefault(group, []).append(i)
    return {g: np.array(idx, dtype=np.int64) for g, idx in groups.items()}


def _times(log_ratio: float) -> str:
    ratio = math.exp(abs(log_ratio))
    amount = f"{ratio:.0f}x" if ratio >= 3 else f"{ratio:.1f}x"
    return f"{amount} {'above' if log_ratio > 0 else 'below'}"


def _category(space, cat: str, key: str, label: str) -> str:
    if key == NA_KEY:
        return f"{label} not given"
    seen, labelled, positives = space.stats(cat, key)
    if seen == 0:
        return f"new {label} {key}"
    if labelled and positives / labelled > space.prior:
        return f"{label} {key}: {positives:.0f} of {labelled:.0f} past inspections found fraud"
    if seen < 5:
        return f"{label} {key} rarely seen ({seen:.0f} earlier lines)"
    if not space.supervised:
        return f"{label} {key} ({seen:.0f} earlier lines)"
    return f"{label} {key} ({seen:.0f} earlier lines, {positives:.0f} with fraud found)"


def _pair(space, cat: str, key: str, first: str, second: str, noun: str) -> str:
    seen, labelled, positives = space.stats(cat, key)
    if seen == 0:
        return f"{first} never seen before {noun} {second}".replace(NA_KEY, "(not given)")
    if labelled and positives / labelled > space.prior:
        return f"{first} {noun} {second}: {positives:.0f} of {labelled:.0f} past inspections found fraud".replace(
                NA_KEY, "(not given)")
    if seen < 5:
        return f"{first} rarely seen {noun} {second} ({seen:.0f} earlier lines)"
    return f"{first} {noun} {second} ({seen:.0f} earlier lines)"


def _phrase(group: str, d: dict[str, np.ndarray], i: int, row: np.ndarray, names: dict[str, int], space) -> str:
    def v(name: str) -> float:
        return float(row[names[name]]) if name in names else math.nan

    hs6 = d["hs6"][i]
    origin = d["country_of_origin"][i]
    if group == "unit_value":
        by_origin, by_hs = v("unit_value_vs_origin_hs6"), v("unit_value_vs_hs6")
        if math.isfinite(by_origin) and (not math.isfinite(by_hs) or abs(by_origin) > abs(by_hs)):
            return f"unit value {_times(by_origin)} the median for HS {hs6} from {origin}"
        if math.isfinite(by_hs):
            return f"unit value {_times(by_hs)} the HS {hs6} median"
        per_item = v("value_per_item_vs_hs6")
        if math.isfinite(per_item):
            return f"value per item {_times(per_item)} the HS {hs6} median"
        return "unit value not computable (mass or value missing)"
    if group == "mass":
        ratio = v("mass_vs_hs6")
        return f"net mass {_times(ratio)} the HS {hs6} median" if math.isfinite(ratio) else "net mass missing"
    if group == "value":
        ratio = v("value_vs_hs6")
        return f"declared value {_times(ratio)} the HS {hs6} median" if math.isfinite(ratio) else "value missing"
    if group == "quantity":
        return f"quantity {d['quantity'][i]:g}" if math.isfinite(d["quantity"][i]) else "quantity missing"
    if group == "tax":
        rate, gap = v("tax_rate"), v("tax_rate_vs_hs6")
        if math.isfinite(rate) and math.isfinite(gap):
            return f"tax rate {rate:g}% where HS {hs6} usually has {rate - gap:g}%"
        return "tax rate missing"
    if group == "time":
        dow, dom, month = v("day_of_week"), v("day_of_month"), v("month")
        if math.isfinite(dow) and math.isfinite(month):
            return f"lodged on a {_WEEKDAYS[int(dow)]}, {int(dom)} {_MONTHS[int(month) - 1]}"
        return "lodging date missing"
    if group == "permits":
        n = v("n_permits")
        return "no CITES permit cited" if n == 0 else f"{n:.0f} CITES permits cited"
    if group == "anomaly":
        return f"unusual combination of declared details (anomaly score {v('anomaly'):.2f})"
    if group == "hs":
        return _category(space, "hs6", hs6, "HS")
    if group == "importer_hs6":
        return _pair(space, group, d["key:importer_hs6"][i], f"importer {d['importer'][i]}", hs6, "declaring HS")
    if group == "declarant_hs6":
        return _pair(space, group, d["key:declarant_hs6"][i], f"declarant {d['declarant_id'][i]}", hs6, "declaring HS")
    if group == "exporter_hs6":
        return _pair(space, group, d["key:exporter_hs6"][i], f"exporter {d['exporter'][i]}", hs6, "shipping HS")
    if group == "origin_hs6":
        return _pair(space, group, d["key:origin_hs6"][i], f"origin {origin}", hs6, "for HS")
    if group == "importer_exporter":
        return _pair(space, group, d["key:importer_exporter"][i], f"importer {d['importer'][i]}",
                     d["exporter"][i], "trading with exporter")
    if group == "route":
        route = f"{origin} via {d['country_of_export'][i]} to office {d['customs_office'][i]}"
        return _category(space, "route", d["key:route"][i], "route").replace(d["key:route"][i], route)
    if group in _LABELS:
        return _category(space, group, d[f"key:{group}"][i], _LABELS[group])
    if group.startswith("x:"):
        return f"{group[2:]} = {v(group):g}"
    return group.replace("_", " ")


def phrase_many(items: list[tuple[str, int, np.ndarray]], d: dict[str, np.ndarray], names: dict[str, int],
                space) -> list[str]:
    """`_phrase` of many (group, line, feature row); a category's phrase is made once per value.

    A category group (importer, taxon...) and "hs" are phrased from their key alone; the other
    groups read the line's own numbers and are phrased line by line.
    """
    made: dict[tuple[str, str], str] = {}
    out = []
    for group, i, row in items:
        if group in _LABELS or group == "hs":
            key = (group, d["hs6"][i] if group == "hs" else d[f"key:{group}"][i])
            text = made.get(key)
            if text is None:
                text = made[key] = _phrase(group, d, i, row, names, space)
        else:
            text = _phrase(group, d, i, row, names, space)
        out.append(text)
    return out


def explain_line(model, d: dict[str, np.ndarray], i: int, full_row: np.ndarray, score: float, *,
                 groups: dict[str, np.ndarray], top: int = 3) -> list[str]:
    """The ``top`` feature groups that raise line ``i``'s score most, as plain phrases."""
    reference = model.reference_
    # a group already at its ordinary value cannot explain anything; skipping it halves the work
    names = [g for g, idx in groups.items()
             if not np.array_equal(full_row[idx], reference[idx], equal_nan=True)]
    if not names:
        return []
    probe = np.repeat(full_row[None, :], len(names), axis=0)
    for j, g in enumerate(names):
        probe[j, groups[g]] = model.reference_[groups[g]]
    if model.mode_ == "supervised":
        scores = model._booster_scores(probe)
    else:
        scores = model._anomaly(probe[:, :-1])
    gain = score - scores
    order = np.argsort(-gain, kind="stable")
    index = {n: k for k, n in enumerate(model.feature_names_)}
    phrases = []
    for j in order[:top]:
        if gain[j] <= 1e-6:
            break
        phrases.append(_phrase(names[j], d, i, full_row, index, model.features_))
    return phrases
