"""Counting the declarations that cite a permit stops at the cap however often the permit was cited."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import inspect, insert, text

from riskengine.store.db import Database
from riskengine.store.history import RECENT_CAP, aggregates
from riskengine.store.tables import DeclarationPermitRef, DeclarationRow
from tests.store.test_store import _declaration

CITATIONS = 20_000
PERMIT = ("ZM", "ZM/EX/2026/0001")


def _cite(database: Database, n: int) -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with database.session() as session:
        session.execute(insert(DeclarationRow), [
            {"id": i, "declaration_id": f"D-{i:06d}", "version": 1, "body": {}, "body_hash": "x" * 64, "lodged_at": at,
             "received_at": at} for i in range(1, n + 1)])
        session.execute(insert(DeclarationPermitRef), [
            {"declaration_pk": i, "declaration_id": f"D-{i:06d}", "line": 1, "issuing_country": PERMIT[0],
             "number": PERMIT[1], "lodged_at": at} for i in range(1, n + 1)])


def test_a_much_cited_permit_is_counted_from_the_index_up_to_the_cap_only(postgres_url):
    database = Database(postgres_url)
    try:
        database.migrate()
        _cite(database, CITATIONS)
        database.refresh_statistics()
        with database.read() as session:
            facts = aggregates(session, _declaration("NEW", [[PERMIT]]))
            assert facts[1]["history.permit_citations"] == RECENT_CAP
            plan = session.connection().execute(text(
                "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM (SELECT DISTINCT declaration_id "
                "FROM declaration_permit_refs WHERE issuing_country = :c AND number = :n AND declaration_id <> 'NEW' "
                "LIMIT :cap) AS citing"), {"c": PERMIT[0], "n": PERMIT[1], "cap": RECENT_CAP}).scalar_one()
        plan = plan if isinstance(plan, list) else json.loads(plan)

        def scans(node):
            yield node
            for child in node.get("Plans", ()):
                yield from scans(child)

        leaves = [n for n in scans(plan[0]["Plan"]) if "Plans" not in n]
        assert leaves[0]["Node Type"] == "Index Only Scan"
        assert leaves[0]["Actual Rows"] <= 2 * RECENT_CAP  # not the 20,000 citations
    finally:
        database.dispose()


def test_a_database_of_the_first_schema_is_migrated_with_its_citations(database_url):
    database = Database(database_url)
    try:
        database.migrate("0001")
        _cite(database, 150)
        database.migrate()
        indexes = {ix["name"]: ix["column_names"] for ix in inspect(database.engine).get_indexes("declaration_permit_refs")}
        assert indexes["ix_declaration_permit_refs_citing"] == ["issuing_country", "number", "declaration_id"]
        assert "ix_declaration_permit_refs_permit" not in indexes
        with database.read() as session:
            assert aggregates(session, _declaration("NEW", [[PERMIT]]))[1]["history.permit_citations"] == RECENT_CAP
    finally:
        database.dispose()
