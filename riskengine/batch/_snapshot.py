"""What batch reads from the store, once: the permit registry and the declaration-line history.

Online, each assessment reads the permits it cites and counts history rows at that moment. Batch
reads both once at start-up and judges every input declaration against that one snapshot, so its
result does not depend on how the input is partitioned or in which order workers run.

Of the registry, batch needs what online would read for the same declarations: the permits the
input cites, the origin permits of the cited re-export certificates, and the export-permit lines a
quota check counts. Given the cited keys (`cited_permits` scans the input for them), the snapshot
holds exactly those, so its size follows the input, not a registry of millions of permits.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from riskengine.permits.checks import taxon_covers
from riskengine.store.db import Database
from riskengine.store.permits import KEYS_PER_QUERY, RegisteredLine, RegisteredPermit, load_cited, registered_permit
from riskengine.store.tables import DeclarationLineRow, EngineState, PermitLineRow, PermitRow

__all__ = ["HISTORY_BASE_COLUMNS", "StoreSnapshot", "empty_snapshot", "quota_usage_in", "read_snapshot"]

HISTORY_BASE_COLUMNS = ["declaration_id", "lodged_at", "importer_id", "exporter_id", "country_of_export",
                        "country_of_destination", "hs4", "permits"]


@dataclass
class StoreSnapshot:
    """The registry (every permit, with quantities reserved and used) and history rows at one moment."""

    registry: dict[tuple[str, str], RegisteredPermit]
    history: pd.DataFrame  # HISTORY_BASE_COLUMNS, one row per stored declaration line
    salt: str
    read_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    _exports: dict[tuple[str, int], list[RegisteredLine]] | None = field(default=None, repr=False)

    def export_lines(self, country: str, year: int) -> list[RegisteredLine]:
        """Lines of the export permits `country` issued in `year` (what a quota counts), registry order."""
        if self._exports is None:
            exports: dict[tuple[str, int], list[RegisteredLine]] = {}
            for permit in self.registry.values():
                if permit.type == "export":
                    exports.setdefault((permit.issuing_country, permit.issued_on.year), []).extend(permit.lines)
            self._exports = exports
        return self._exports.get((country, year), [])


def quota_usage_in(snapshot: StoreSnapshot, quota, country: str, year: int, *, reference) -> float:
    """`riskengine.permits.quotas.quota_usage` over the snapshot instead of a live session."""
    total = 0.0
    for line in snapshot.export_lines(country, year):
        if quota.terms and line.term not in quota.terms:
            continue
        if quota.sources and line.source not in quota.sources:
            continue
        if not taxon_covers(reference, quota.taxon, line.taxon):
            continue
        converted = reference.convert(line.used + line.reserved, line.unit, quota.unit)
        if converted is not None:
            total += converted
    return total


# RegisteredLine's fields, in order
_LINE_COLUMNS = (PermitLineRow.id, PermitLineRow.line, PermitLineRow.taxon, PermitLineRow.appendix, PermitLineRow.term,
                 PermitLineRow.purpose, PermitLineRow.source, PermitLineRow.quantity, PermitLineRow.unit,
                 PermitLineRow.country_of_origin, PermitLineRow.origin_permit, PermitLineRow.quantity_reserved,
                 PermitLineRow.quantity_used)


def _registry(session) -> dict[tuple[str, str], RegisteredPermit]:
    lines: dict[int, list[RegisteredLine]] = {}
    line_rows = session.execute(select(PermitLineRow.permit_id, *_LINE_COLUMNS).order_by(PermitLineRow.permit_id, PermitLineRow.line))
    for permit_id, *values in line_rows:
        lines.setdefault(permit_id, []).append(RegisteredLine(*values))
    registry = {}
    permits = session.execute(
        select(PermitRow.id, PermitRow.number, PermitRow.issuing_country, PermitRow.type, PermitRow.issued_on,
               PermitRow.valid_until, PermitRow.status, PermitRow.document).order_by(PermitRow.id)
    )
    for pk, number, country, kind, issued_on, valid_until, status, document in permits:
        registry[(country, number)] = registered_permit(
            number=number, issuing_country=country, type=kind, issued_on=issued_on, valid_until=valid_until,
            status=status, document=document, lines=lines.get(pk, ()))
    return registry


def _quota_export_lines(session, reference) -> dict[tuple[str, int], list[RegisteredLine]]:
    """Export-permit lines a quota check may count: of the quota countries, for taxa some quota covers.

    `quota_usage_in` filters them further by the quota asked about, exactly as online
    `riskengine.permits.quotas.quota_usage` filters the rows it reads.
    """
    quotas = reference.controls.all_quotas()
    if not quotas:
        return {}
    any_country = any(q.country is None for q in quotas)
    countries = sorted({q.country for q in quotas if q.country})
    kind = (PermitRow.type == "export",) if any_country else (PermitRow.type == "export", PermitRow.issuing_country.in_(countries))
    taxa = session.execute(select(PermitLineRow.taxon, PermitRow.issuing_country).distinct()
                           .join(PermitRow, PermitRow.id == PermitLineRow.permit_id).where(*kind)).all()
    covered = sorted({taxon for taxon, country in taxa
                      if any((q.country in (None, country)) and taxon_covers(reference, q.taxon, taxon) for q in quotas)})
    exports: dict[tuple[str, int], list[RegisteredLine]] = {}
    for lo in range(0, len(covered), KEYS_PER_QUERY):
        rows = session.execute(
            select(PermitRow.issuing_country, PermitRow.issued_on, *_LINE_COLUMNS)
            .join(PermitRow, PermitRow.id == PermitLineRow.permit_id)
            .where(*kind, PermitLineRow.taxon.in_(covered[lo:lo + KEYS_PER_QUERY]))
            .order_by(PermitRow.id, PermitLineRow.line))
        for country, issued_on, *values in rows:
            exports.setdefault((country, issued_on.year), []).append(RegisteredLine(*values))
    return exports


def _history(session) -> pd.DataFrame:
    table = DeclarationLineRow
    rows = session.execute(select(*(getattr(table, name) for name in HISTORY_BASE_COLUMNS))).all()
    frame = pd.DataFrame(rows, columns=HISTORY_BASE_COLUMNS)
    frame["lodged_at"] = pd.to_datetime(frame["lodged_at"], utc=True)
    for name in HISTORY_BASE_COLUMNS:
        if name != "lodged_at":
            frame[name] = frame[name].astype(object)
    return frame


def read_snapshot(database: Database, *, salt: str | None = None, cited: set[tuple[str, str]] | None = None,
                  reference=None) -> StoreSnapshot:
    """Read the registry and the history lines in one transaction (a consistent view).

    With `cited` (and the `reference` whose quotas apply), only the permits those keys need and the
    export lines quotas count; without, the whole registry.
    """
    with database.read() as session:
        if not salt:
            row = session.get(EngineState, "random_salt")
            if row is None:
                raise RuntimeError("no random-selection salt: run `riskengine init` or set RISKENGINE_DECISION__RANDOM_SALT")
            salt = row.value
        if cited is None:
            return StoreSnapshot(registry=_registry(session), history=_history(session), salt=salt)
        if reference is None:
            raise ValueError("a snapshot of cited permits needs the reference data (its quotas)")
        return StoreSnapshot(registry=load_cited(session, cited), history=_history(session), salt=salt,
                             _exports=_quota_export_lines(session, reference))


def empty_snapshot(salt: str = "batch") -> StoreSnapshot:
    """A snapshot with no permits and no history (benchmarks, and tests of the pure stages)."""
    return StoreSnapshot(registry={}, history=pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_BASE_COLUMNS}),
                         salt=salt)
