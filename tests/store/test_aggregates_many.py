"""The history aggregates of many declarations asked in one round trip per query equal those asked one
declaration at a time, on a real synthetic history (SQLite, and PostgreSQL when configured)."""
from __future__ import annotations

import datetime as dt

from riskengine.store.history import PARTS_PER_QUERY, aggregates, aggregates_many, import_history
from riskengine.synth import generate_world


def test_aggregates_of_a_batch_equal_those_of_each_declaration(database):
    world = generate_world(seed=5, days=30, declarations_per_day=10)
    past = [event.declaration for event in world.history]
    with database.session() as session:
        import_history(session, past[:200])
    # the later declarations, and a few earlier ones again under new ids: their traders, routes and
    # permits have history; more than one statement's worth of parts, to cover the chunking
    asked = past[200:200 + PARTS_PER_QUERY + 30]
    asked += [d.model_copy(update={"declaration_id": f"AGAIN-{i}", "lodged_at": d.lodged_at + dt.timedelta(days=3)})
              for i, d in enumerate(past[:20])]
    with database.read() as session:
        together = aggregates_many(session, asked)
        alone = [aggregates(session, d) for d in asked]
    assert together == alone
    facts = [line for result in together for line in result.values()]
    assert len(facts) >= len(asked)
    # the history is rich enough that every fact takes more than one value
    for name in ("history.permit_citations", "history.exporter_declarations_7d", "history.importer_declarations_7d",
                 "history.route_seen_before", "history.exporter_seen_before"):
        assert len({f[name] for f in facts}) > 1, name
    assert any(f["history.importer_days_since_first_seen"] is None for f in facts)
    assert any(f["history.importer_days_since_first_seen"] for f in facts)
