"""The store behaves the same on SQLite and PostgreSQL: migrations, permits, reservations, audit chain."""
from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update

from riskengine.schemas import Permit, PermitStatusChange
from riskengine.store.audit import Actor, append_audit, verify_chain
from riskengine.store.permits import (
    PermitNotFound,
    change_status,
    derive_valid_until,
    get_permit_document,
    load_registered,
    put_permit,
    reserve,
)
from riskengine.store.tables import AuditHead, AuditRecord, PermitLineRow

ACTOR = Actor("test", "management_authority")


def permit(quantity: float = 20, **changes) -> Permit:
    document = {
        "number": "CM/EX/2026/00123", "issuing_country": "CM", "type": "export", "issued_on": "2026-06-01",
        "status": "valid", "exporter": {"name": "Exotic Woods SARL", "country": "CM"},
        "importer": {"name": "Zoo Basel", "country": "CH"},
        "lines": [{"line": 1, "taxon": "Pericopsis elata", "appendix": "II", "term": "TIM", "purpose": "T",
                   "source": "W", "quantity": quantity, "unit": "MTQ", "country_of_origin": "CM"}],
    }
    return Permit.model_validate(document | changes)


def test_migration_is_idempotent(database):
    database.migrate()
    assert database.ping()


def test_put_then_get_returns_the_permit_with_derived_validity_and_zero_quantities(database):
    with database.session() as session:
        assert put_permit(session, permit(), actor=ACTOR) is True
    with database.session() as session:
        stored = get_permit_document(session, "CM", "CM/EX/2026/00123")
    assert stored.valid_until == dt.date(2026, 11, 30)
    assert stored.lines[0].quantity_reserved == 0 and stored.lines[0].quantity_used == 0


def test_replacing_a_permit_keeps_quantities_taken_on_kept_lines(database):
    with database.session() as session:
        put_permit(session, permit(), actor=ACTOR)
        line_id = session.execute(select(PermitLineRow.id)).scalar_one()
        assert reserve(session, permit_line_id=line_id, quantity=5)
    with database.session() as session:
        assert put_permit(session, permit(quantity=30), actor=ACTOR) is False
        stored = get_permit_document(session, "CM", "CM/EX/2026/00123")
    assert stored.lines[0].quantity == 30 and stored.lines[0].quantity_reserved == 5


def test_status_change_is_visible_to_the_next_read(database):
    with database.session() as session:
        put_permit(session, permit(), actor=ACTOR)
    with database.session() as session:
        change_status(session, "CM", "CM/EX/2026/00123", PermitStatusChange(status="stolen", reason="reported by CITES MA"), actor=ACTOR)
    with database.session() as session:
        registered = load_registered(session, [("CM", "CM/EX/2026/00123")])
    assert registered[("CM", "CM/EX/2026/00123")].status == "stolen"


def test_many_keys_are_read_in_bounded_statements_with_the_same_answer(database, monkeypatch):
    import riskengine.store.permits as permits_module

    numbers = [f"CM/EX/2026/{i:05d}" for i in range(7)]
    with database.session() as session:
        for number in numbers:
            put_permit(session, permit(number=number), actor=ACTOR)
    keys = [("CM", n) for n in numbers] + [("CM", "absent"), ("GA", numbers[0])]
    with database.session() as session:
        whole = load_registered(session, keys)
        monkeypatch.setattr(permits_module, "KEYS_PER_QUERY", 2)
        parts = load_registered(session, keys)
    assert set(whole) == {("CM", n) for n in numbers} and parts == whole


def test_unknown_permit_raises_not_found(database):
    with database.session() as session, pytest.raises(PermitNotFound):
        get_permit_document(session, "CM", "nope")


def test_reservation_refuses_what_would_exceed_the_line(database):
    with database.session() as session:
        put_permit(session, permit(quantity=10), actor=ACTOR)
        line_id = session.execute(select(PermitLineRow.id)).scalar_one()
        assert reserve(session, permit_line_id=line_id, quantity=6)
        assert not reserve(session, permit_line_id=line_id, quantity=6)
        assert reserve(session, permit_line_id=line_id, quantity=4)
        line = session.get(PermitLineRow, line_id)
        session.refresh(line)
        assert line.quantity_reserved == 10


def test_concurrent_reservations_never_exceed_the_quantity(database):
    with database.session() as session:
        put_permit(session, permit(quantity=5), actor=ACTOR)
        line_id = session.execute(select(PermitLineRow.id)).scalar_one()

    def claim(_: int) -> bool:
        with database.session() as session:
            return reserve(session, permit_line_id=line_id, quantity=1)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(20)))
    assert sum(results) == 5
    with database.session() as session:
        line = session.get(PermitLineRow, line_id)
        assert line.quantity_reserved + line.quantity_used == 5


def test_valid_until_is_derived_from_the_type():
    assert derive_valid_until("export", dt.date(2026, 6, 1)) == dt.date(2026, 11, 30)
    assert derive_valid_until("re-export", dt.date(2026, 8, 31)) == dt.date(2027, 2, 27)
    assert derive_valid_until("import", dt.date(2026, 1, 15)) == dt.date(2027, 1, 14)
    assert derive_valid_until("certificate_of_origin", dt.date(2024, 2, 29)) == dt.date(2025, 2, 27)


def test_audit_chain_verifies_and_names_the_first_altered_record(database):
    with database.session() as session:
        for i in range(5):
            append_audit(session, actor=ACTOR, action="test.write", entity="thing", entity_id=str(i), after={"i": i})
    with database.session() as session:
        records = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
        assert verify_chain(records, session.get(AuditHead, 1)) == (5, None)
        session.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(entity_id="forged"))
    with database.session() as session:
        records = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
        count, problem = verify_chain(records, session.get(AuditHead, 1))
    assert count == 2 and problem.seq == 3 and "altered" in problem.message


def test_audit_chain_detects_a_removed_record(database):
    from sqlalchemy import delete

    with database.session() as session:
        for i in range(4):
            append_audit(session, actor=ACTOR, action="test.write", entity="thing", entity_id=str(i))
        session.execute(delete(AuditRecord).where(AuditRecord.seq == 4))
    with database.session() as session:
        records = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
        count, problem = verify_chain(records, session.get(AuditHead, 1))
    assert count == 3 and problem is not None and "removed" in problem.message


def _declaration(declaration_id: str, lines: list[list[tuple[str, str]]]):
    from riskengine.schemas import Declaration

    return Declaration.model_validate({
        "declaration_id": declaration_id, "version": 1, "direction": "import", "lodged_at": "2026-11-27T10:00:00Z",
        "customs_office": "CHZRH", "importer": {"id": "I1", "name": "Zoo Basel", "country": "CH"},
        "exporter": {"id": "E1", "name": "Exotic Woods SARL", "country": "CM"},
        "country_of_export": "CM", "country_of_destination": "CH",
        "items": [{"line": i + 1, "hs_code": "440349", "description": "sawn logs", "quantity": 1, "unit": "MTQ",
                   "permits": [{"issuing_country": c, "number": n} for c, n in refs]} for i, refs in enumerate(lines)],
    })


def test_permit_citations_count_other_declarations_citing_the_line_s_permits(database):
    from riskengine.store.history import RECENT_CAP, aggregates, import_history

    a, b = ("CM", "CM/EX/1"), ("CM", "CM/EX/2")
    history = [_declaration(f"H-A-{i}", [[a], [a]]) for i in range(3)]  # two lines, counted once per declaration
    history += [_declaration(f"H-B-{i}", [[b]]) for i in range(2)] + [_declaration("H-AB", [[a, b]])]
    history += [_declaration("NEW", [[a]])]  # the same id as the assessed declaration: never counted
    with database.session() as session:
        import_history(session, history)
    with database.read() as session:
        facts = aggregates(session, _declaration("NEW", [[a], [b], [a, b], []]))
    assert [facts[line]["history.permit_citations"] for line in (1, 2, 3, 4)] == [4, 3, 6, 0]
    with database.session() as session:
        import_history(session, [_declaration(f"H-C-{i}", [[("CM", "CM/EX/3")]]) for i in range(RECENT_CAP + 5)])
    with database.read() as session:
        assert aggregates(session, _declaration("NEW", [[("CM", "CM/EX/3")]]))[1]["history.permit_citations"] == RECENT_CAP
