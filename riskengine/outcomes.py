"""Inspection outcomes as training labels: the assessed declarations of the database as a history table."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from riskengine.history import HISTORY_COLUMNS, LABEL_COLUMNS, declaration_rows
from riskengine.schemas import Declaration
from riskengine.store.db import Database
from riskengine.store.tables import Assessment, DeclarationRow, OutcomeRow

__all__ = ["history_from_database", "label_of"]

_FRAUD = {"no_discrepancy": 0, "discrepancy": 1, "seizure": 1}


def label_of(result: str | None) -> tuple[object, object]:
    """(fraud, critical_fraud) for an outcome result; NA for declarations never inspected."""
    if result is None:
        return pd.NA, pd.NA
    return _FRAUD[result], int(result == "seizure")


def history_from_database(database: Database) -> pd.DataFrame:
    """One row per assessed declaration line with its lane and, where recorded, the outcome as labels."""
    rows = []
    with database.read() as session:
        query = (
            select(DeclarationRow.body, Assessment.lane, Assessment.response, Assessment.inputs, OutcomeRow.result)
            .join(Assessment, Assessment.declaration_pk == DeclarationRow.id)
            .outerjoin(OutcomeRow, OutcomeRow.assessment_id == Assessment.id)
            .order_by(DeclarationRow.lodged_at)
        )
        for body, lane, response, inputs, result in session.execute(query.execution_options(yield_per=2000)):
            fraud, critical = label_of(result)
            seen = _what_the_engine_saw(response, inputs or {})
            for row in declaration_rows(Declaration.model_validate(body)):
                rows.append(row | {"fraud": fraud, "critical_fraud": critical, "outcome": result, "lane": lane}
                            | seen(row["line"]))
    columns = list(HISTORY_COLUMNS) + list(LABEL_COLUMNS) + ["findings", "model_score", *_HISTORY_FACTS]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({**HISTORY_COLUMNS, **LABEL_COLUMNS}) if not frame.empty else frame


_HISTORY_FACTS = ("history.permit_citations", "history.exporter_declarations_7d", "history.importer_declarations_7d",
                  "history.importer_days_since_first_seen", "history.route_seen_before", "history.exporter_seen_before")


def _what_the_engine_saw(response: dict, inputs: dict):
    """Per line: the permit findings, model score and history aggregates recorded with the decision."""
    reasons = response.get("reasons", [])
    whole = [r["code"] for r in reasons if r.get("source") == "permit" and r.get("line") is None]
    model = next((r.get("score") for r in reasons if r.get("source") == "model"), None)
    history = inputs.get("history", {})

    def line_facts(line: int) -> dict:
        codes = whole + [r["code"] for r in reasons if r.get("source") == "permit" and r.get("line") == line]
        return {"findings": ";".join(codes), "model_score": model, **history.get(str(line), {})}

    return line_facts
