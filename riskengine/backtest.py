"""Backtests: a history table enriched the way the engine enriches a live declaration, then replayed
through the rules (the pandas backend).

History from the database already carries what the engine saw (permit findings, history aggregates,
model score); a history file brought by an administration gets the taxonomy and HS screening from the
reference data, and has no findings unless it has a `findings` column.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["enrich_history", "with_history_aggregates"]

_TAXON_FIELDS = {"item.accepted_name": "accepted_name", "item.kingdom": "kingdom", "item.class": "class_",
                 "item.order": "order", "item.family": "family", "item.genus": "genus"}


def enrich_history(frame: pd.DataFrame, reference) -> pd.DataFrame:
    """Add the taxonomy, appendix, CITES relevance and HS screening facts to a history table.

    Each distinct taxon and HS code is looked up once, so a year of history enriches in seconds.
    """
    out = frame.copy()
    taxa = out["taxon"].astype(object).where(out["taxon"].notna(), None) if "taxon" in out else pd.Series(None, index=out.index, dtype=object)
    origin = out.get("country_of_origin", pd.Series(None, index=out.index, dtype=object)).astype(object)
    exporting = out.get("country_of_export", pd.Series(None, index=out.index, dtype=object)).astype(object)
    country = origin.where(origin.notna(), exporting)
    infos = {name: reference.lookup(name) for name in pd.unique(taxa.dropna())}
    info = taxa.map(lambda name: infos.get(name) if name is not None else None)
    for fact, attribute in _TAXON_FIELDS.items():
        out[fact] = info.map(lambda i, a=attribute: getattr(i, a, None) if i is not None else None)
    pairs = pd.DataFrame({"name": out["item.accepted_name"], "country": country})
    appendix = {}
    for name, where in pairs.dropna(subset=["name"]).drop_duplicates().itertuples(index=False):
        appendix[(name, where)] = reference.appendix_for(name, where if isinstance(where, str) else None)
    out["item.appendix"] = [appendix.get((n, c)) if n is not None else None for n, c in zip(pairs["name"], pairs["country"])]
    codes = out["hs_code"].astype(str)
    sensitive = {code: reference.is_cites_relevant_hs(code) for code in pd.unique(codes)}
    presumed = {code: reference.hs_presumes_cites(code) for code in pd.unique(codes)}
    out["item.hs_sensitive"] = codes.map(sensitive).astype(bool)
    permits = out.get("permits", pd.Series("", index=out.index)).fillna("").astype(str)
    out["item.cites_relevant"] = (
        out["item.appendix"].notna() | (permits != "") | (codes.map(presumed).astype(bool) & taxa.isna())
    ).astype(bool)
    return out


def with_history_aggregates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the `history.*` facts counted within the table itself (earlier declarations of the same
    importer, exporter, route and permits), where the table does not carry them already."""
    if "history.permit_citations" in frame and frame["history.permit_citations"].notna().any():
        return frame
    from riskengine.batch import history_facts

    lines = frame.copy()
    lines["lodged_at"] = pd.to_datetime(lines["lodged_at"], utc=True)
    for column in ("importer_id", "importer_name", "exporter_id", "exporter_name", "permits"):
        if column not in lines:
            lines[column] = None
    lines["permits"] = lines["permits"].fillna("").astype(str)
    lines["hs_code"] = lines["hs_code"].astype(str)
    base = pd.DataFrame({
        "declaration_id": lines["declaration_id"].astype(object),
        "lodged_at": lines["lodged_at"],
        "importer_id": lines["importer_id"].fillna(lines["importer_name"]).astype(object),
        "exporter_id": lines["exporter_id"].fillna(lines["exporter_name"]).astype(object),
        "country_of_export": lines["country_of_export"].astype(object),
        "country_of_destination": lines["country_of_destination"].astype(object),
        "hs4": lines["hs_code"].str.slice(0, 4).astype(object),
        "permits": lines["permits"].astype(object),
    })
    aggregates = history_facts(base, lines)
    return frame.assign(**{name: aggregates[name].to_numpy() for name in aggregates.columns})
