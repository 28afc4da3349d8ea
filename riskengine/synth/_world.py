"""The synthetic world: permits, a year of declarations with inspection outcomes, and demo samples."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from riskengine.schemas import Declaration, Outcome, Permit
from riskengine.synth._context import Context
from riskengine.synth._history import OVER_QUANTITY, Planned, plan_history
from riskengine.synth._permits import build_permits
from riskengine.synth._samples import SAMPLE_PERMITS, build_samples

__all__ = ["FINDING_CODES", "HistoryEntry", "World", "generate_world"]

# The finding an officer records when an inspection uncovers each planted violation.
FINDING_CODES: dict[str, str] = {
    "permit_expired": "PERMIT_EXPIRED",
    "permit_not_yet_valid": "PERMIT_NOT_YET_VALID",
    "permit_cancelled": "PERMIT_CANCELLED",
    "permit_lost_or_stolen": "PERMIT_LOST_OR_STOLEN",
    "permit_unknown": "PERMIT_UNKNOWN",
    "quantity_exceeded": "PERMIT_QUANTITY_EXCEEDED",
    "split_consignment": "PERMIT_QUANTITY_EXCEEDED",
    "taxon_mismatch": "PERMIT_TAXON_MISMATCH",
    "species_misdeclared": "SPECIES_MISDECLARED",
    "appendix_i_commercial": "APPENDIX_I_COMMERCIAL",
    "permit_missing": "PERMIT_REQUIRED",
    "concealment": "CONCEALMENT",
    "undervalued": "UNDERVALUATION",
}

# Chance of inspection: a few per cent at random and for documentary checks, more where risk shows.
_INSPECT = {
    "permit_expired": 0.55, "permit_not_yet_valid": 0.5, "permit_cancelled": 0.6, "permit_lost_or_stolen": 0.7,
    "permit_unknown": 0.6, "quantity_exceeded": 0.5, "split_consignment": 0.35, "taxon_mismatch": 0.5,
    "species_misdeclared": 0.3, "appendix_i_commercial": 0.6, "permit_missing": 0.45, "concealment": 0.3,
    "undervalued": 0.25,
}
_SEVERE = {"permit_lost_or_stolen", "permit_unknown", "taxon_mismatch", "species_misdeclared",
           "appendix_i_commercial", "permit_missing", "concealment"}
_CLEAN_DISCREPANCIES = ("HS_MISCLASSIFIED", "QUANTITY_DISCREPANCY", "ORIGIN_MISDECLARED", "VALUE_MISDECLARED")


@dataclass(frozen=True)
class HistoryEntry:
    """One past declaration, the violation planted in it (None if clean) and its inspection result."""

    declaration: Declaration
    violation: str | None
    inspected: bool
    outcome: Outcome | None


@dataclass(frozen=True)
class World:
    """Permits, a year of history and fresh sample declarations, all from one seed."""

    seed: int
    start: dt.date
    end: dt.date  # exclusive: the day the samples are lodged from
    permits: list[Permit]
    history: list[HistoryEntry]
    samples: list[tuple[str, Declaration]]


def _outcome(ctx: Context, plan: Planned, declaration: Declaration) -> tuple[bool, Outcome | None]:
    kind = plan.violation
    p = _INSPECT[kind] if kind else (0.12 if plan.cites else 0.05)
    if not ctx.chance(p):
        return False, None
    if kind is None:
        result = ctx.weighted(("no_discrepancy", "discrepancy", "seizure"), (0.93, 0.065, 0.005))
    elif kind in _SEVERE:
        result = ctx.weighted(("seizure", "discrepancy", "no_discrepancy"), (0.75, 0.15, 0.10))
    else:
        severe = 0.4 if kind == "permit_cancelled" else 0.2
        result = ctx.weighted(("seizure", "discrepancy", "no_discrepancy"), (severe, 0.85 - severe, 0.15))
    findings = []
    if result != "no_discrepancy":
        if kind is not None:
            findings.append({"line": 1, "code": FINDING_CODES[kind], "note": plan.note})
        else:
            code = "UNDECLARED_GOODS" if result == "seizure" else ctx.choice(_CLEAN_DISCREPANCIES)
            findings.append({"line": int(ctx.rng.integers(1, len(declaration.items) + 1)), "code": code})
    endorsed = []
    if result != "seizure" and (plan.usable_permit or kind is None or kind in OVER_QUANTITY):
        for item in declaration.items:
            for ref in item.permits:
                qty = plan.endorse if plan.endorse is not None else item.quantity
                endorsed.append({"line": item.line, "permit": ref.number, "quantity": qty})
    outcome = Outcome(result=result, officer=f"officer-{int(ctx.rng.integers(1, 41))}", findings=findings,
                      quantity_endorsed=endorsed)
    return True, outcome


def generate_world(
    *,
    seed: int = 7,
    start: dt.date = dt.date(2025, 11, 1),
    days: int = 365,
    declarations_per_day: int = 40,
    n_permits: int = 400,
) -> World:
    """A deterministic synthetic world: the same arguments give the same permits, history and samples."""
    if days < 30 or declarations_per_day < 1 or n_permits < 40:
        raise ValueError("a world needs days >= 30, declarations_per_day >= 1 and n_permits >= 40")
    end = start + dt.timedelta(days=days)
    ctx = Context(seed, start, end)
    records = build_permits(ctx, n_permits=n_permits - SAMPLE_PERMITS)
    planned = plan_history(ctx, records, n_declarations=days * declarations_per_day)
    order = sorted(range(len(planned)), key=lambda i: (planned[i].lodged_at, i))
    history = []
    for seq, i in enumerate(order, start=1):
        plan = planned[i]
        body = dict(plan.body, declaration_id=f"SW-{plan.lodged_at.year}-{seq:06d}")
        declaration = Declaration.model_validate(body)
        inspected, outcome = _outcome(ctx, plan, declaration)
        history.append(HistoryEntry(declaration, plan.violation, inspected, outcome))
    sample_records, samples = build_samples(ctx, records, first_sequence=len(history) + 1)
    permits = [p for r in records + sample_records for p in ([r.permit] if r.companion is None
                                                             else [r.companion, r.permit])]
    return World(seed=seed, start=start, end=end, permits=permits, history=history, samples=samples)
