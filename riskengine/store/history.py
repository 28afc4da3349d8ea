"""History aggregates that rules read (citations of a permit, a trader's recent activity, routes)."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import DateTime, Integer, bindparam, insert, text
from sqlalchemy.orm import Session

from riskengine.schemas import Declaration, declaration_hash
from riskengine.store.tables import DeclarationLineRow, DeclarationPermitRef, DeclarationRow

__all__ = ["RECENT_CAP", "aggregates", "aggregates_many", "permit_token", "line_rows", "permit_ref_rows", "import_history"]


def permit_token(issuing_country: str, number: str) -> str:
    return f"{issuing_country}:{number}"


def line_rows(declaration: Declaration, declaration_pk: int) -> list[dict[str, Any]]:
    """The `declaration_lines` rows of a declaration."""
    return [
        {
            "declaration_pk": declaration_pk,
            "declaration_id": declaration.declaration_id,
            "line": item.line,
            "lodged_at": declaration.lodged_at,
            "importer_id": declaration.importer.id or declaration.importer.name,
            "exporter_id": declaration.exporter.id or declaration.exporter.name,
            "country_of_export": declaration.country_of_export,
            "country_of_destination": declaration.country_of_destination,
            "hs4": item.hs_code[:4],
            "permits": ";".join(permit_token(p.issuing_country, p.number) for p in item.permits),
        }
        for item in declaration.items
    ]


def permit_ref_rows(declaration: Declaration, declaration_pk: int) -> list[dict[str, Any]]:
    """The `declaration_permit_refs` rows of a declaration: one per cited permit and line."""
    return [
        {"declaration_pk": declaration_pk, "declaration_id": declaration.declaration_id, "line": item.line,
         "issuing_country": ref.issuing_country, "number": ref.number, "lodged_at": declaration.lodged_at}
        for item in declaration.items
        for ref in item.permits
    ]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


# Counts of other declarations (7-day trader activity, citations of a permit) stop here: rules compare
# them with small thresholds, and counting every declaration of a large trader or a much-cited permit
# on each assessment made the cost grow with its volume.
RECENT_CAP = 100

# Plain SQL: the aggregates run for every assessment, and composing ORM expressions per call cost
# more than the queries themselves. Only declarations lodged before this one count. Each query is a
# part that answers for one declaration (or one route, or one cited permit); the parts of a batch of
# declarations go to the database as one UNION ALL, one round trip, each tagged with its index `k`.
_TRADERS_PART = """
    SELECT {k} AS k,
      (SELECT count(*) FROM (SELECT DISTINCT declaration_id FROM declaration_lines
        WHERE exporter_id = :exporter_{k} AND lodged_at >= :week_ago_{k} AND lodged_at < :at_{k} AND declaration_id <> :id_{k}
        LIMIT :cap) AS recent_exports_{k}) AS exporter_7d,
      (SELECT count(*) FROM (SELECT DISTINCT declaration_id FROM declaration_lines
        WHERE importer_id = :importer_{k} AND lodged_at >= :week_ago_{k} AND lodged_at < :at_{k} AND declaration_id <> :id_{k}
        LIMIT :cap) AS recent_imports_{k}) AS importer_7d,
      (SELECT min(lodged_at) FROM declaration_lines
        WHERE importer_id = :importer_{k} AND lodged_at < :at_{k} AND declaration_id <> :id_{k}) AS importer_first,
      (SELECT count(*) FROM (SELECT 1 FROM declaration_lines
        WHERE exporter_id = :exporter_{k} AND lodged_at < :at_{k} AND declaration_id <> :id_{k} LIMIT 1) AS seen_{k}) AS exporter_seen
"""
_TRADERS_COLUMNS = {"k": Integer, "exporter_7d": Integer, "importer_7d": Integer,
                    "importer_first": DateTime(timezone=True), "exporter_seen": Integer}

_ROUTE_PART = """
    SELECT {k} AS k WHERE EXISTS (SELECT 1 FROM declaration_lines
      WHERE country_of_export = :exporting_{k} AND country_of_destination = :destination_{k} AND hs4 = :hs4_{k}
        AND lodged_at < :at_{k} AND declaration_id <> :id_{k})
"""
_ROUTE_COLUMNS = {"k": Integer}

# A line citing one permit (the usual case) needs only how many other declarations cite it: counted
# in SQL rather than fetching up to RECENT_CAP ids to count them in Python (a much-cited permit made
# that 100 rows per assessment). Lines citing several permits still unite the sets of ids.
_CITATION_COUNT_PART = """
    SELECT {k} AS k, (SELECT count(*) FROM (SELECT DISTINCT declaration_id FROM declaration_permit_refs
      WHERE issuing_country = :country_{k} AND number = :number_{k} AND declaration_id <> :id_{k}
      LIMIT :cap) AS citing_{k}) AS n
"""
_CITATION_COUNT_COLUMNS = {"k": Integer, "n": Integer}

_CITATIONS = text(
    """
    SELECT DISTINCT declaration_id FROM declaration_permit_refs
    WHERE issuing_country = :country AND number = :number AND declaration_id <> :id
    LIMIT :cap
    """
)

PARTS_PER_QUERY = 100  # parts of one UNION ALL: a few hundred parameters, well within every driver's limit
_TIMES = ("at", "week_ago")


@functools.lru_cache(maxsize=64)
def _union(part: str, count: int, columns: tuple[tuple[str, Any], ...]):
    """The UNION ALL of `count` copies of `part`, built once per size (a statement memoises its compiled SQL)."""
    statement = text(" UNION ALL ".join(part.format(k=k) for k in range(count)))
    times = [bindparam(f"{name}_{k}", type_=DateTime(timezone=True)) for k in range(count) for name in _TIMES
             if f":{name}_{{k}}" in part]
    return statement.bindparams(*times).columns(**dict(columns))


def _ask(db, part: str, params: list[dict[str, Any]], columns: dict[str, Any]) -> list[tuple[int, Any]]:
    """The rows of `part` for each parameter set, in one statement per PARTS_PER_QUERY, with the set's index.

    `columns` is one of the module's constants: the statements are cached by it."""
    rows = []
    for lo in range(0, len(params), PARTS_PER_QUERY):
        chunk = params[lo:lo + PARTS_PER_QUERY]
        values: dict[str, Any] = {"cap": RECENT_CAP}
        for k, p in enumerate(chunk):
            values.update({f"{name}_{k}": value for name, value in p.items()})
        statement = _union(part, len(chunk), tuple(columns.items()))
        rows.extend((lo + row.k, row) for row in db.execute(statement, values))
    return rows


def aggregates(session: Session, declaration: Declaration) -> dict[int, dict[str, Any]]:
    """Per line: the `history.*` facts, from declarations lodged before this one (never this one)."""
    return aggregates_many(session, [declaration])[0]


def aggregates_many(session: Session, declarations: list[Declaration]) -> list[dict[int, dict[str, Any]]]:
    """`aggregates` of each declaration, in three round trips for all of them (plus one per permit
    cited together with others on a line)."""
    db = session.connection()  # Core on the session's connection: the ORM adds nothing to plain SQL here
    people = [(d.importer.id or d.importer.name, d.exporter.id or d.exporter.name) for d in declarations]
    traders = _ask(db, _TRADERS_PART, [
        {"exporter": exporter, "importer": importer, "week_ago": d.lodged_at - dt.timedelta(days=7), "at": d.lodged_at,
         "id": d.declaration_id}
        for d, (importer, exporter) in zip(declarations, people)
    ], _TRADERS_COLUMNS)
    traders_of = dict(traders)
    routes_asked = [(i, hs4) for i, d in enumerate(declarations) for hs4 in sorted({item.hs_code[:4] for item in d.items})]
    seen = {k for k, _ in _ask(db, _ROUTE_PART, [
        {"exporting": declarations[i].country_of_export, "destination": declarations[i].country_of_destination,
         "hs4": hs4, "at": declarations[i].lodged_at, "id": declarations[i].declaration_id}
        for i, hs4 in routes_asked
    ], _ROUTE_COLUMNS)}
    routes: dict[int, set[str]] = {}
    for j, (i, hs4) in enumerate(routes_asked):
        if j in seen:
            routes.setdefault(i, set()).add(hs4)
    cited = [[{(ref.issuing_country, ref.number) for ref in item.permits} for item in d.items] for d in declarations]
    counted: list[tuple[int, tuple[str, str]]] = []
    citing: dict[tuple[int, tuple[str, str]], set[str]] = {}
    for i, (d, refs_of_lines) in enumerate(zip(declarations, cited)):
        alone = {next(iter(refs)) for refs in refs_of_lines if len(refs) == 1}
        together = set().union(*(refs for refs in refs_of_lines if len(refs) > 1))
        counted.extend((i, key) for key in sorted(alone - together))
        for country, number in sorted(together):
            citing[(i, (country, number))] = set(db.execute(
                _CITATIONS, {"country": country, "number": number, "id": d.declaration_id, "cap": RECENT_CAP}
            ).scalars())
    counts = {counted[k]: row.n for k, row in _ask(db, _CITATION_COUNT_PART, [
        {"country": country, "number": number, "id": declarations[i].declaration_id} for i, (country, number) in counted
    ], _CITATION_COUNT_COLUMNS)}
    results = []
    for i, (d, (importer, exporter), refs_of_lines) in enumerate(zip(declarations, people, cited)):
        at = d.lodged_at
        row = traders_of[i]
        first_seen = _aware(row.importer_first) if importer else None
        result = {}
        for item, refs in zip(d.items, refs_of_lines):
            if len(refs) == 1 and (i, next(iter(refs))) in counts:
                citations = counts[(i, next(iter(refs)))]
            else:
                citations = len(set().union(*(citing.get((i, ref), set()) for ref in refs)))
            result[item.line] = {
                "history.permit_citations": min(citations, RECENT_CAP),
                "history.exporter_declarations_7d": row.exporter_7d if exporter else 0,
                "history.importer_declarations_7d": row.importer_7d if importer else 0,
                "history.importer_days_since_first_seen": None if first_seen is None else (at - first_seen).total_seconds() / 86400,
                "history.route_seen_before": item.hs_code[:4] in routes.get(i, ()),
                "history.exporter_seen_before": bool(exporter and row.exporter_seen),
            }
        results.append(result)
    return results


def import_history(session: Session, declarations: Iterable[Declaration], *, received_at: dt.datetime | None = None) -> int:
    """Load past declarations (not assessed here) so history aggregates have something to count."""
    received_at = received_at or dt.datetime.now(dt.timezone.utc)
    count = 0
    batch: list[Declaration] = []

    def flush() -> None:
        nonlocal count
        if not batch:
            return
        rows = []
        for declaration in batch:
            body = declaration.model_dump(mode="json")
            rows.append(
                {"declaration_id": declaration.declaration_id, "version": declaration.version, "body": body,
                 "body_hash": declaration_hash(body), "lodged_at": declaration.lodged_at, "received_at": received_at}
            )
        pks = session.execute(insert(DeclarationRow).returning(DeclarationRow.id, sort_by_parameter_order=True), rows).scalars().all()
        session.execute(insert(DeclarationLineRow), [row for pk, d in zip(pks, batch) for row in line_rows(d, pk)])
        refs = [row for pk, d in zip(pks, batch) for row in permit_ref_rows(d, pk)]
        if refs:
            session.execute(insert(DeclarationPermitRef), refs)
        count += len(batch)
        batch.clear()

    for declaration in declarations:
        batch.append(declaration)
        if len(batch) >= 1000:
            flush()
    flush()
    return count
