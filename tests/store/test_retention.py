"""Retention: records past the period are archived, then removed; what must stay stays, on SQLite and PostgreSQL.

The engine records everything at today's clock, so the purge is run "as of" 2034-06-01 (horizon
2029-06-01): permits valid until 2027 are then past it, a permit valid until 2030 is not.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from riskengine.auditing import verify_audit
from riskengine.config import load_settings
from riskengine.engine import Engine
from riskengine.permits.service import put_one
from riskengine.replay import replay
from riskengine.retention import horizon_for, purge, verify_archive
from riskengine.schemas import Declaration, Outcome, Permit
from riskengine.setup import initialise
from riskengine.store.audit import Actor
from riskengine.store.tables import Assessment, AuditRecord, DeclarationRow, OutcomeRow, PermitRow, Reservation
from tests.servers import cli, write_config

REPO = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2034, 6, 1)
MA, SW, OFFICER, ADMIN = (Actor("ma", "management_authority"), Actor("sw", "single_window"),
                          Actor("officer", "officer"), Actor("cli:test", "admin"))


def permit(number: str, valid_until: str) -> Permit:
    return Permit.model_validate({
        "number": number, "issuing_country": "CM", "type": "export", "issued_on": "2026-06-01", "valid_until": valid_until,
        "exporter": {"name": "Exotic Woods SARL", "country": "CM"}, "importer": {"name": "Zoo Basel", "country": "CH"},
        "lines": [{"line": 1, "taxon": "Pericopsis elata", "appendix": "II", "term": "TIM", "purpose": "T", "source": "W",
                   "quantity": 100, "unit": "MTQ", "country_of_origin": "CM"}],
    })


def declaration(declaration_id: str, number: str, *, version: int = 1, quantity: float = 1) -> Declaration:
    return Declaration.model_validate({
        "declaration_id": declaration_id, "version": version, "direction": "import", "lodged_at": "2026-11-27T10:00:00Z",
        "customs_office": "CHZRH", "importer": {"id": "I1", "name": "Zoo Basel", "country": "CH"},
        "exporter": {"id": "E1", "name": "Exotic Woods SARL", "country": "CM"},
        "country_of_export": "CM", "country_of_destination": "CH",
        "items": [{"line": 1, "hs_code": "440349", "description": "sawn logs", "taxon": "Pericopsis elata",
                   "country_of_origin": "CM", "quantity": quantity, "unit": "MTQ",
                   "cites": {"term": "TIM", "purpose": "T", "source": "W"},
                   "permits": [{"number": number, "issuing_country": "CM"}]}],
    })


@pytest.fixture
def world(database_url, tmp_path):
    settings = load_settings(None, database={"url": database_url}, rules={"dir": str(REPO / "rules")},
                             model={"path": str(tmp_path / "none")}, decision={"random_rate": 0.0, "random_salt": "r"})
    initialise(settings)
    engine = Engine.from_settings(settings)
    for number, until in (("CM/A", "2027-05-31"), ("CM/B", "2030-12-31"), ("CM/C", "2027-05-31"), ("CM/E", "2027-05-31")):
        put_one(engine, permit(number, until), actor=MA)
    decided = {}
    for key, number, version in (("D1", "CM/A", 1), ("D1", "CM/A", 2), ("D2", "CM/A", 1), ("D3", "CM/B", 1),
                                 ("D4", "CM/C", 1), ("D5", "CM/C", 1), ("D6", "CM/UNREGISTERED", 1)):
        decided[key, version] = engine.assess(declaration(key, number, version=version, quantity=version), actor=SW)
    engine.record_outcome(decided["D2", 1].assessment_id, Outcome(result="no_discrepancy", officer="o"), actor=OFFICER)
    engine.record_outcome(decided["D5", 1].assessment_id, Outcome(result="discrepancy", officer="o"), actor=OFFICER)
    with engine.database.session() as session:  # D5's outcome was recorded after the horizon: D5 stays, and so does CM/C
        session.execute(update(OutcomeRow).where(OutcomeRow.assessment_id == decided["D5", 1].assessment_id)
                        .values(recorded_at=dt.datetime(2030, 1, 15, tzinfo=dt.timezone.utc)))
    yield engine, decided
    engine.close()


def state(engine):
    with engine.database.read() as session:
        return (sorted(set(session.scalars(select(DeclarationRow.declaration_id)))),
                sorted(session.scalars(select(PermitRow.number))),
                session.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1)))


def test_a_purge_archives_then_removes_only_what_is_past_the_period(world, tmp_path):
    engine, decided = world
    before = state(engine)
    dry = purge(engine.database, years=5, as_of=AS_OF, archive=None, actor=ADMIN, dry_run=True)
    assert state(engine) == before  # a dry run writes nothing
    archive = tmp_path / "retention.jsonl"
    done = purge(engine.database, years=5, as_of=AS_OF, archive=archive, actor=ADMIN, chunk=2)
    assert dry.horizon == done.horizon == dt.date(2029, 6, 1)
    for report in (dry, done):  # D1 (two versions), D2, D4, D6; CM/A, CM/E
        assert (report.declarations, report.assessments, report.outcomes, report.permits) == (5, 5, 1, 2)
        assert report.by_year == {2026: 5}

    declarations, permits, _ = state(engine)
    assert declarations == ["D3", "D5"]  # a permit still valid after the horizon; an outcome recorded after it
    assert permits == ["CM/B", "CM/C"]  # still cited by D3 and D5
    with engine.database.read() as session:
        kept = set(session.scalars(select(Assessment.id)))
        assert kept == {decided["D3", 1].assessment_id, decided["D5", 1].assessment_id}
        assert set(session.scalars(select(Reservation.assessment_id))) <= kept

    assert archive.stat().st_mode & 0o777 == 0o600  # personal data: the operator's alone
    lines = archive.read_text().splitlines()
    records, signoff = [json.loads(line) for line in lines[:-1]], json.loads(lines[-1])
    assert signoff["signoff"] and signoff["sha256"] == hashlib.sha256("".join(l + "\n" for l in lines[:-1]).encode()).hexdigest()
    assert (signoff["declarations"], signoff["permits"]) == (5, 2)
    assert verify_archive(archive) == (signoff, [])
    archived = {(r["declaration_id"], r["version"]): r for r in records if r["kind"] == "declaration"}
    assert set(archived) == {("D1", 1), ("D1", 2), ("D2", 1), ("D4", 1), ("D6", 1)}
    for key, record in archived.items():  # the decision as answered, and its body as received
        assert record["assessment"]["decision"]["assessment_id"] == decided[key].assessment_id
        assert record["body"]["items"][0]["quantity"] == key[1]
    assert archived["D2", 1]["outcome"]["body"]["result"] == "no_discrepancy"
    assert sorted(r["number"] for r in records if r["kind"] == "permit") == ["CM/A", "CM/E"]

    count, problem = verify_audit(engine.database)
    assert problem is None  # the chain holds hashes, not the documents removed
    with engine.database.read() as session:
        purges = session.execute(select(AuditRecord.entity, AuditRecord.detail).where(AuditRecord.action == "retention.purge")).all()
    assert sum(d.get("declarations", 0) for _, d in purges) == 5 and sum(d.get("permits", 0) for _, d in purges) == 2
    assert {e for e, _ in purges} == {"declaration", "permit"}

    assert replay(engine, decided["D3", 1].assessment_id).identical  # what stays is whole
    again = purge(engine.database, years=5, as_of=AS_OF, archive=tmp_path / "again.jsonl", actor=ADMIN)
    assert (again.declarations, again.permits) == (0, 0)


def test_an_interrupted_purge_loses_nothing(world, tmp_path, monkeypatch):
    """Every record is in the database or in the partial archive, and the chunk that failed is in both."""
    from riskengine import retention

    engine, decided = world
    calls = []
    real = retention._delete_declarations

    def failing_second_time(session, pks):
        calls.append(pks)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(session, pks)

    monkeypatch.setattr(retention, "_delete_declarations", failing_second_time)
    archive = tmp_path / "cut.jsonl"
    with pytest.raises(RuntimeError, match="disk full"):
        purge(engine.database, years=5, as_of=AS_OF, archive=archive, actor=ADMIN, chunk=2)
    assert not archive.exists()  # no sign-off: never mistaken for a finished archive
    archived = {(r["declaration_id"], r["version"]) for r in map(json.loads, (tmp_path / "cut.jsonl.partial").read_text().splitlines())}
    with engine.database.read() as session:
        stored = {tuple(row) for row in session.execute(select(DeclarationRow.declaration_id, DeclarationRow.version))}
    assert archived | stored == set(decided)
    assert len(archived & stored) == len(calls[1])  # the failed chunk was rolled back, and stays archived
    assert verify_audit(engine.database)[1] is None


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_permit_changed_by_another_worker_during_the_purge_stays(world, database_url, tmp_path):
    """Another worker holds CM/E (a Management Authority replacing it) while the purge reaches it."""
    import threading

    from sqlalchemy import text

    from riskengine.store.db import Database

    engine, _ = world
    other = Database(database_url)  # another process's connection pool: row locks, not this process's write lock
    holding, release = threading.Event(), threading.Event()

    def replace_permit():
        with other.session() as session:
            session.execute(select(PermitRow).where(PermitRow.number == "CM/E").with_for_update())
            session.execute(update(PermitRow).where(PermitRow.number == "CM/E")
                            .values(updated_at=dt.datetime(2030, 2, 1, tzinfo=dt.timezone.utc)))
            holding.set()
            release.wait(30)

    writer = threading.Thread(target=replace_permit)
    writer.start()
    assert holding.wait(30)
    result = {}
    purger = threading.Thread(target=lambda: result.update(report=purge(
        engine.database, years=5, as_of=AS_OF, archive=tmp_path / "r.jsonl", actor=ADMIN)))
    purger.start()
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=30)
        with other.read() as session:  # wait until the purge waits on the permit's row lock
            while not session.scalar(text("select count(*) from pg_stat_activity where datname = current_database() "
                                          "and wait_event_type = 'Lock'")):
                assert dt.datetime.now() < deadline, "the purge never waited for the permit's lock"
                session.commit()  # pg_stat_activity is read once per transaction
                time.sleep(0.02)
    finally:
        release.set()
        writer.join(30)
        purger.join(60)
        other.dispose()
    assert result["report"].permits == 1  # CM/A; CM/E changed after the horizon while the purge waited
    assert state(engine)[1] == ["CM/B", "CM/C", "CM/E"]


def test_nothing_goes_before_five_years(world, tmp_path):
    engine, _ = world
    before = state(engine)
    report = purge(engine.database, years=5, as_of=dt.date(2031, 6, 1), archive=tmp_path / "a.jsonl", actor=ADMIN)
    assert (report.declarations, report.permits) == (0, 0)  # horizon 2026-06-01: all was lodged after it
    assert state(engine)[:2] == before[:2]
    with pytest.raises(ValueError, match="at least 5 years"):
        purge(engine.database, years=4, as_of=AS_OF, archive=tmp_path / "b.jsonl", actor=ADMIN)
    assert horizon_for(dt.date(2032, 2, 29), 5) == dt.date(2027, 2, 28)


def test_the_command_refuses_a_future_day_a_missing_archive_and_an_overwrite(tmp_path):
    config = write_config(tmp_path)
    cli("init", config=config)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "riskengine", "retention", "purge", *args, "--config", str(config)],
                              capture_output=True, text=True, timeout=120)

    later = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert run("--as-of", later, "--archive", str(tmp_path / "x.jsonl")).returncode == 2
    assert run().returncode == 2  # no archive, no dry run
    (tmp_path / "old.jsonl").write_text("kept\n")
    refused = run("--archive", str(tmp_path / "old.jsonl"))
    assert refused.returncode == 2 and "never overwritten" in refused.stderr
    assert (tmp_path / "old.jsonl").read_text() == "kept\n"
    (tmp_path / "cut.jsonl.partial").write_text("what an interrupted purge removed\n")
    refused = run("--archive", str(tmp_path / "cut.jsonl"))
    assert refused.returncode == 2 and "interrupted" in refused.stderr and not (tmp_path / "cut.jsonl").exists()
    assert (tmp_path / "cut.jsonl.partial").read_text() == "what an interrupted purge removed\n"
    done = run("--archive", str(tmp_path / "new.jsonl"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "new.jsonl").read_text().splitlines()[-1])["declarations"] == 0
    verify = lambda path: subprocess.run([sys.executable, "-m", "riskengine", "retention", "verify", str(path)],
                                         capture_output=True, text=True, timeout=120)
    assert verify(tmp_path / "new.jsonl").returncode == 0
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text('{"kind": "declaration", "declaration_id": "X"}\n' + (tmp_path / "new.jsonl").read_text())
    result = verify(tampered)
    assert result.returncode == 1 and "altered" in result.stderr and "holds 1" in result.stderr
    result = verify(tmp_path / "cut.jsonl.partial")
    assert result.returncode == 1 and "no sign-off" in result.stderr
    assert run("--dry-run").returncode == 0
