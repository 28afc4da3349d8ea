"""Performance of the selection: inspection rate per lane, hit rates per rule and lane, targeted vs random.

A hit is an inspection whose outcome was a discrepancy or a seizure. Rates are computed over the
assessments of a period (and office), hit rates over those of them with a recorded outcome.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import select

from riskengine.store.db import Database
from riskengine.store.tables import Assessment, OutcomeRow, ReasonRow

__all__ = ["selection_frame", "compute_stats"]

LANES = ("red", "yellow", "blue", "green")


def selection_frame(database: Database, *, start: dt.datetime | None = None, end: dt.datetime | None = None,
                    office: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(assessments with their outcome, rule hits) of the period, one row each."""
    query = (
        select(Assessment.id, Assessment.lane, Assessment.decision, Assessment.random_selection,
               Assessment.customs_office, Assessment.assessed_at, OutcomeRow.result, OutcomeRow.lane_override,
               OutcomeRow.body)
        .outerjoin(OutcomeRow, OutcomeRow.assessment_id == Assessment.id)
    )
    if start is not None:
        query = query.where(Assessment.assessed_at >= start)
    if end is not None:
        query = query.where(Assessment.assessed_at < end)
    if office is not None:
        query = query.where(Assessment.customs_office == office)
    with database.read() as session:
        rows = session.execute(query).all()
        ids = [r.id for r in rows]
        hits = []
        for chunk in range(0, len(ids), 500):
            hits += session.execute(
                select(ReasonRow.assessment_id, ReasonRow.rule_id).distinct()
                .where(ReasonRow.source == "rule", ReasonRow.assessment_id.in_(ids[chunk:chunk + 500]))
            ).all()
    frame = pd.DataFrame(rows, columns=["assessment_id", "lane", "decision", "random_selection", "office", "assessed_at",
                                        "result", "lane_override", "outcome"])
    frame["random_selection"] = frame["random_selection"].astype(bool)
    frame["hit"] = frame["result"].map({"discrepancy": True, "seizure": True, "no_discrepancy": False}).astype("boolean")
    return frame, pd.DataFrame(hits, columns=["assessment_id", "rule_id"])


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def compute_stats(database: Database, *, start: dt.datetime | None = None, end: dt.datetime | None = None,
                  office: str | None = None, period: str | None = None, min_selections: int = 20) -> dict[str, Any]:
    """The figures of GET /v1/stats and `riskengine report rules`."""
    frame, hits = selection_frame(database, start=start, end=end, office=office)
    total = len(frame)
    inspected = frame[frame["decision"] == "inspect"]
    with_outcome = frame[frame["hit"].notna()]
    lanes = {}
    for lane in LANES:
        in_lane = frame[frame["lane"] == lane]
        checked = in_lane[in_lane["hit"].notna()]
        lanes[lane] = {"assessments": len(in_lane), "share": _rate(len(in_lane), total),
                       "outcomes": len(checked), "hits": int(checked["hit"].sum()), "hit_rate": _rate(int(checked["hit"].sum()), len(checked))}
    selection = {}
    for name, flag in (("targeted", False), ("random", True)):
        part = with_outcome.loc[with_outcome["random_selection"] == flag]
        selection[name] = {"outcomes": len(part), "hits": int(part["hit"].sum()), "hit_rate": _rate(int(part["hit"].sum()), len(part))}
    rules = []
    if not hits.empty:
        joined = hits.merge(frame[["assessment_id", "hit"]], on="assessment_id")
        for rule_id, part in joined.groupby("rule_id", sort=True):
            checked = part[part["hit"].notna()]
            hit_count = int(checked["hit"].sum())
            rules.append({"rule_id": rule_id, "selections": len(part), "outcomes": len(checked), "hits": hit_count,
                          "hit_rate": _rate(hit_count, len(checked)),
                          "review": len(part) >= min_selections and len(checked) > 0 and hit_count == 0})
    offices = []
    for name, part in frame.groupby("office", sort=True):
        checked = part[part["hit"].notna()]
        offices.append({"office": name, "assessments": len(part), "inspection_rate": _rate(int((part["decision"] == "inspect").sum()), len(part)),
                        "hit_rate": _rate(int(checked["hit"].sum()), len(checked))})
    periods = []
    if period and total:
        stamps = pd.to_datetime(frame["assessed_at"], utc=True).dt.tz_localize(None)
        for name, part in frame.groupby(stamps.dt.to_period({"day": "D", "week": "W", "month": "M"}[period]).astype(str), sort=True):
            checked = part[part["hit"].notna()]
            periods.append({"period": name, "assessments": len(part), "inspection_rate": _rate(int((part["decision"] == "inspect").sum()), len(part)),
                            "hit_rate": _rate(int(checked["hit"].sum()), len(checked))})
    overrides = frame[frame["lane_override"].notna()]
    return {
        "assessments": total,
        "inspected": len(inspected),
        "inspection_rate": _rate(len(inspected), total),
        "outcomes": len(with_outcome),
        "hit_rate": _rate(int(with_outcome["hit"].sum()), len(with_outcome)),
        "lanes": lanes,
        "selection": selection,
        "rules": rules,
        "offices": offices,
        "periods": periods,
        "overrides": [
            {"assessment_id": r.assessment_id, "lane": r.lane, "override": r.lane_override,
             "reason": (r.outcome or {}).get("override_reason")}
            for r in overrides.itertuples()
        ],
        "rules_for_review": [r["rule_id"] for r in rules if r["review"]],
    }
