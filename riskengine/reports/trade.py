"""Trade statistics for a Management Authority briefing: what crossed the border and what customs found.

The unit of count is the shipment line: one CITES-relevant line of an assessed declaration
(a listed taxon or a cited permit). Quantities come in many units and are not summed across
them; the annual report carries the quantities. A line is `cleared` when the declaration was
released or inspected without seizure, `seized` after a seizure, `awaiting outcome` while an
inspection has no result yet.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from riskengine.store.db import Database
from riskengine.store.tables import Assessment, DeclarationRow, OutcomeRow

__all__ = ["LINE_COLUMNS", "TradeSummary", "plot_trade", "summarise_trade", "trade_lines"]

LINE_COLUMNS = (
    "assessment_id", "declaration_id", "line", "month", "direction", "partner", "taxon", "taxon_group",
    "appendix", "term", "quantity", "unit", "decision", "lane", "random_selection", "outcome", "status",
)
_OUTCOMES = ("no_discrepancy", "discrepancy", "seizure")


def trade_lines(database: Database, reference, *, year: int | None = None) -> pd.DataFrame:
    """One row per CITES-relevant line of every assessed declaration (of `year`, if given)."""
    query = (
        select(DeclarationRow.body, Assessment.id, Assessment.decision, Assessment.lane, Assessment.random_selection, OutcomeRow.result)
        .join(Assessment, Assessment.declaration_pk == DeclarationRow.id)
        .outerjoin(OutcomeRow, OutcomeRow.assessment_id == Assessment.id)
        .order_by(DeclarationRow.lodged_at)
    )
    if year is not None:
        start = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc)
        query = query.where(DeclarationRow.lodged_at >= start, DeclarationRow.lodged_at < start.replace(year=year + 1))
    rows = []
    with database.session() as session:
        for body, assessment_id, decision, lane, random_selection, outcome in session.execute(query):
            rows += _lines_of(body, reference, assessment_id=assessment_id, decision=decision, lane=lane,
                              random_selection=random_selection, outcome=outcome)
    return pd.DataFrame(rows, columns=list(LINE_COLUMNS))


def _lines_of(body: dict[str, Any], reference, **assessment: Any) -> list[dict[str, Any]]:
    direction = body["direction"]
    partner = body["country_of_destination"] if direction in ("export", "re-export") else body["country_of_export"]
    outcome = assessment["outcome"]
    if outcome == "seizure":
        status = "seized"
    elif assessment["decision"] == "release" or outcome is not None:
        status = "cleared"
    else:
        status = "awaiting outcome"
    rows = []
    for item in body["items"]:
        info = reference.lookup(item["taxon"]) if item.get("taxon") else None
        appendix = reference.appendix_for(info.accepted_name, item.get("country_of_origin") or body["country_of_export"]) if info else None
        if appendix is None and not item.get("permits"):
            continue
        rows.append({
            "assessment_id": assessment["assessment_id"],
            "declaration_id": body["declaration_id"],
            "line": item["line"],
            "month": body["lodged_at"][:7],
            "direction": direction,
            "partner": partner,
            "taxon": info.accepted_name if info else (item.get("taxon") or "(no taxon declared)"),
            "taxon_group": taxon_group(info),
            "appendix": appendix,
            "term": (item.get("cites") or {}).get("term"),
            "quantity": item["quantity"],
            "unit": item.get("unit"),
            "decision": assessment["decision"],
            "lane": assessment["lane"],
            "random_selection": bool(assessment["random_selection"]),
            "outcome": outcome,
            "status": status,
        })
    return rows


def taxon_group(info) -> str:
    """Class and order of a taxon ("Aves / Psittaciformes"); kingdom and family where plants have no class."""
    if info is None:
        return "unidentified"
    upper = info.class_ or info.kingdom or "?"
    lower = info.order or info.family
    return f"{upper} / {lower}" if lower else upper


@dataclass
class TradeSummary:
    """The briefing tables: by taxon group, by partner, by month, and the control counts."""

    year: int | None
    by_taxon_group: pd.DataFrame
    by_partner: pd.DataFrame
    by_month: pd.DataFrame
    controls: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"by taxon group": self.by_taxon_group, "by partner country": self.by_partner,
                "by month": self.by_month, "inspections and seizures": self.controls}


def summarise_trade(lines: pd.DataFrame, *, year: int | None = None) -> TradeSummary:
    """Count shipment lines by taxon group, partner and month, and the inspections behind them."""
    cleared = lines[lines["status"] == "cleared"]
    flows = cleared.assign(flow=cleared["direction"].map({"import": "imports", "export": "exports",
                                                          "re-export": "re-exports", "transit": "transit"}))
    return TradeSummary(
        year=year,
        by_taxon_group=_by(flows, lines, "taxon_group"),
        by_partner=_by(flows, lines, "partner"),
        by_month=_by_month(lines, year),
        controls=_controls(lines),
    )


def _by(flows: pd.DataFrame, lines: pd.DataFrame, key: str) -> pd.DataFrame:
    table = pd.crosstab(flows[key], flows["flow"]) if not flows.empty else pd.DataFrame()
    table = table.reindex(columns=["imports", "exports", "re-exports", "transit"], fill_value=0)
    seized = lines[lines["status"] == "seized"].groupby(key).size().rename("seized")
    table = table.join(seized, how="outer").fillna(0).astype(int)
    table.insert(0, "cleared", table[["imports", "exports", "re-exports", "transit"]].sum(axis=1))
    table.index.name = key
    return table.sort_values(["cleared", "seized"], ascending=False).reset_index()


def _by_month(lines: pd.DataFrame, year: int | None) -> pd.DataFrame:
    declarations = lines.drop_duplicates("assessment_id")
    table = pd.DataFrame({
        "cleared lines": lines[lines["status"] == "cleared"].groupby("month").size(),
        "declarations": declarations.groupby("month").size(),
        "inspected": declarations[declarations["decision"] == "inspect"].groupby("month").size(),
        "seizures": declarations[declarations["outcome"] == "seizure"].groupby("month").size(),
    })
    if year is not None:
        table = table.reindex([f"{year}-{m:02d}" for m in range(1, 13)])
    table = table.fillna(0).astype(int)
    table.index.name = "month"
    return table.sort_index().reset_index()


def _controls(lines: pd.DataFrame) -> pd.DataFrame:
    d = lines.drop_duplicates("assessment_id")
    outcomes = d["outcome"].value_counts()
    recorded = int(sum(outcomes.get(o, 0) for o in _OUTCOMES))
    hits = int(outcomes.get("discrepancy", 0) + outcomes.get("seizure", 0))
    rows = [
        ("CITES declarations assessed", len(d)),
        ("inspected, red lane (physical)", int((d["lane"] == "red").sum())),
        ("inspected, yellow lane (documents)", int((d["lane"] == "yellow").sum())),
        ("released, blue lane (post-clearance audit)", int((d["lane"] == "blue").sum())),
        ("released, green lane", int((d["lane"] == "green").sum())),
        ("selected at random", int(d["random_selection"].sum())),
        ("outcomes recorded", recorded),
        ("no discrepancy", int(outcomes.get("no_discrepancy", 0))),
        ("discrepancy", int(outcomes.get("discrepancy", 0))),
        ("seizure", int(outcomes.get("seizure", 0))),
        ("awaiting outcome", int((d["status"] == "awaiting outcome").sum())),
        ("hit rate (discrepancy or seizure per outcome)", f"{hits / recorded:.0%}" if recorded else "-"),
    ]
    return pd.DataFrame(rows, columns=["measure", "count"])


# -- charts -------------------------------------------------------------------------------------


def plot_trade(summary: TradeSummary, directory: Path, *, party: str | None = None, top: int = 12) -> list[Path]:
    """Write the briefing charts as PNG files into `directory` and return their paths."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display, Agg canvas

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    period = str(summary.year) if summary.year is not None else "all years"
    who = f"{party}, " if party else ""
    flows = ["imports", "exports", "re-exports", "transit"]
    colours = {"imports": "#1f77b4", "exports": "#2ca02c", "re-exports": "#98df8a", "transit": "#bbbbbb", "seized": "#d62728"}
    written = []

    def save(fig, name: str) -> None:
        path = directory / name
        fig.savefig(path, dpi=120, bbox_inches="tight")
        written.append(path)

    for key, name, title in (("taxon_group", "trade_by_taxon_group.png", "CITES shipments cleared by taxon group (class / order)"),
                             ("partner", "trade_by_partner.png", "CITES shipments cleared by partner country")):
        table = getattr(summary, "by_taxon_group" if key == "taxon_group" else "by_partner").head(top).iloc[::-1]
        fig = Figure(figsize=(9, 1.2 + 0.45 * max(len(table), 1)))
        ax = fig.add_subplot()
        left = pd.Series(0, index=table.index)
        for flow in flows + ["seized"]:
            if table.empty or table[flow].sum() == 0:
                continue
            ax.barh(table[key], table[flow], left=left, color=colours[flow], label=flow)
            left = left + table[flow]
        ax.set_title(f"{title}\n{who}{period}")
        ax.set_xlabel("shipment lines")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if not table.empty:
            ax.legend(loc="lower right", frameon=False)
        save(fig, name)

    months = summary.by_month
    fig = Figure(figsize=(10, 4.5))
    ax = fig.add_subplot()
    ax.bar(months["month"], months["cleared lines"], color=colours["imports"], label="shipment lines cleared")
    ax.plot(months["month"], months["inspected"], marker="o", color="#ff7f0e", label="declarations inspected")
    ax.plot(months["month"], months["seizures"], marker="s", color=colours["seized"], label="seizures")
    ax.set_title(f"CITES trade and controls by month\n{who}{period}")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(frameon=False)
    save(fig, "trade_by_month.png")

    controls = summary.controls[summary.controls["count"].map(lambda v: isinstance(v, int))].iloc[::-1]
    fig = Figure(figsize=(9, 5))
    ax = fig.add_subplot()
    bars = ax.barh(controls["measure"], controls["count"].astype(int), color="#555555")
    ax.bar_label(bars, padding=3)
    hit = summary.controls.set_index("measure")["count"].iloc[-1]
    ax.set_title(f"Inspections and seizures of CITES declarations (hit rate {hit})\n{who}{period}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    save(fig, "inspections_and_seizures.png")
    return written
