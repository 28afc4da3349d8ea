"""Reserving a batch's claims at once grants exactly what `reserve`'s conditional UPDATE per claim grants, to
the last bit of the reserved quantities, tolerance included (SQLite, and PostgreSQL when configured)."""
from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import select, update

from riskengine.store.db import Database
from riskengine.store.permits import put_permit, reserve, reserve_many
from riskengine.store.tables import PermitLineRow
from tests.store.test_store import ACTOR, permit

_L = PermitLineRow.__table__.c

# decimal fractions whose sums land on a line's quantity, or just past it, as float sums do (0.1 + 0.2)
quantities = st.one_of(st.sampled_from([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 1.1, 2.2, 3.3]),
                       st.floats(min_value=0.001, max_value=50, allow_nan=False, allow_infinity=False))
LINE_QUANTITIES = (0.6, 1.0, 6.6)


def test_a_batch_reserves_as_one_statement_per_claim_did(database_url):
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        for n, quantity in enumerate(LINE_QUANTITIES):
            document = permit(quantity=quantity)
            document = document.model_copy(update={"number": f"CM/EX/2026/0{n}"})
            put_permit(session, document, actor=ACTOR)
        ids = session.execute(select(PermitLineRow.id).order_by(PermitLineRow.id)).scalars().all()

    def state(session):
        return session.execute(select(_L.id, _L.quantity_reserved, _L.quantity_used).order_by(_L.id)).all()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(claims=st.lists(st.tuples(st.sampled_from(range(4)), quantities), max_size=25),
           start=st.lists(st.tuples(st.sampled_from([0.0, 0.1, 0.2, 0.3]), st.sampled_from([0.0, 0.1, 0.2, 0.3])),
                          min_size=3, max_size=3),
           tolerance=st.sampled_from([0.0, 0.001, 0.05]))
    # (0.1 + 0.2) + 0.3 is just over 0.6: refused, where 0.1 + (0.2 + 0.3) would be granted
    @example(claims=[(0, 0.3), (0, 0.3)], start=[(0.2, 0.1), (0.0, 0.0), (0.0, 0.0)], tolerance=0.0)
    def check(claims, start, tolerance):
        claims = [(ids[i] if i < 3 else 10**9, q) for i, q in claims]  # 10**9: a line that does not exist
        results = []
        for batched in (False, True):
            with database.session() as session:
                for line_id, (reserved, used) in zip(ids, start):
                    session.execute(update(PermitLineRow).where(PermitLineRow.id == line_id)
                                    .values(quantity_reserved=reserved, quantity_used=used))
                if batched:
                    granted = reserve_many(session, claims, tolerance=tolerance)
                else:
                    granted = [reserve(session, permit_line_id=line_id, quantity=wanted, tolerance=tolerance)
                               for line_id, wanted in claims]  # one conditional UPDATE per claim
                results.append((granted, state(session)))
        assert results[0] == results[1]

    try:
        check()
    finally:
        database.dispose()
