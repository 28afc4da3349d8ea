"""Group commit: declarations assessed together (`Engine.assess_many`, and the API under load) get the
decisions concurrent workers would give them, in one read snapshot and one write transaction."""
from __future__ import annotations

import asyncio
import copy
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from riskengine.auditing import verify_audit
from riskengine.engine import Engine
from riskengine.errors import ConflictError
from riskengine.permits.service import put_one
from riskengine.schemas import Declaration, Permit
from riskengine.setup import initialise
from riskengine.store.audit import Actor
from riskengine.store.tables import Assessment, DeclarationRow, PermitLineRow, Reservation
from tests.permits.test_concurrency import DECLARATION, PERMIT, QUANTITY_CODES, settings_for
from tests.servers import cli, free_port, start_server, write_config

ACTOR = Actor("single-window", "single_window")


def declaration(n: int, **changes) -> Declaration:
    body = copy.deepcopy(DECLARATION)
    body["declaration_id"] = f"GC-{n:03d}"
    for key, value in changes.items():
        body[key] = value
    return Declaration.model_validate(body)


def varied(n: int) -> Declaration:
    """Declarations that share no trader, route or permit, so none can see another in its history."""
    body = copy.deepcopy(DECLARATION)
    body["declaration_id"] = f"VAR-{n:03d}"
    body["importer"] = {"id": f"I-{n}", "name": f"Importer {n}", "country": "CH"}
    body["exporter"] = {"id": f"E-{n}", "name": f"Exporter {n}", "country": "CM"}
    item = body["items"][0]
    item["quantity"] = 1 + n % 7
    if n % 3 == 0:
        item["permits"] = [{"number": f"CM/EX/2026/9{n:04d}", "issuing_country": "CM"}]  # not registered
    elif n % 3 == 1:
        item["permits"] = []  # a CITES species without a permit
    else:
        item["permits"] = [{"number": own_permit(n)["number"], "issuing_country": "CM"}]  # registered, its own
    if n % 4 == 0:
        item["description"] = "plastic toys"
        item["taxon"] = None
    return Declaration.model_validate(body)


def own_permit(n: int) -> dict:
    permit = copy.deepcopy(PERMIT)
    permit["number"] = f"CM/EX/2026/8{n:04d}"
    permit["exporter"]["name"] = f"Exporter {n}"
    permit["lines"][0]["quantity"] = 3  # some of the declarations ask for more
    return permit


def engine_with_permit(url: str, tmp: Path, *, own_permits: range = range(0)) -> Engine:
    settings = settings_for(url, str(tmp))
    initialise(settings)
    engine = Engine.from_settings(settings)
    for permit in [PERMIT, *(own_permit(n) for n in own_permits if n % 3 == 2)]:
        put_one(engine, Permit.model_validate(permit), actor=Actor("ma", "management_authority"))
    return engine


def answer(decision) -> tuple:
    return (decision.decision, decision.lane, decision.score, decision.random_selection,
            [(r.source, r.code, r.rule_id, r.line, r.permit, r.lane, r.score, r.message) for r in decision.reasons])


def test_a_batch_of_unrelated_declarations_decides_as_one_by_one(database_url, tmp_path):
    declarations = [varied(n) for n in range(24)]
    together = engine_with_permit(database_url, tmp_path, own_permits=range(24))
    batched = together.assess_many([(d, ACTOR) for d in declarations])
    together.close()

    alone_url = database_url if database_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'alone.db'}"
    if database_url.startswith("postgresql"):  # a second fresh database: the first holds the batch now
        from tests.conftest import _fresh_postgres_database

        alone_url, drop = _fresh_postgres_database()
    try:
        alone = engine_with_permit(alone_url, tmp_path, own_permits=range(24))
        one_by_one = [alone.assess(d, actor=ACTOR) for d in declarations]
        alone.close()
    finally:
        if database_url.startswith("postgresql"):
            drop()
    assert [answer(d) for d in batched] == [answer(d) for d in one_by_one]
    assert len({d.lane for d in batched}) > 1  # the set is varied enough to say something
    assert len({frozenset(r.code or r.rule_id for r in d.reasons) for d in batched}) > 4


def test_twenty_declarations_in_one_batch_take_exactly_the_five_units_of_the_permit(database_url, tmp_path):
    engine = engine_with_permit(database_url, tmp_path)
    try:
        decisions = engine.assess_many([(declaration(n), Actor(f"sw-{n % 3}", "single_window")) for n in range(20)])
        codes = [{r.code for r in d.reasons if r.source == "permit"} for d in decisions]
        assert sum(1 for c in codes if not QUANTITY_CODES & c) == 5
        assert all(QUANTITY_CODES & c for c in codes[5:])  # reserved in the order they came
        with engine.database.read() as session:
            line = session.execute(select(PermitLineRow)).scalar_one()
            assert line.quantity_used + line.quantity_reserved == 5
            assert session.scalar(select(func.count()).select_from(Assessment)) == 20
            assert session.scalar(select(func.sum(Reservation.quantity))) == 5
        checked, problem = verify_audit(engine.database)
        assert problem is None and checked >= 20
    finally:
        engine.close()


def test_every_decision_of_a_batch_replays_identically_from_what_it_stored(database_url, tmp_path):
    from riskengine.replay import replay

    engine = engine_with_permit(database_url, tmp_path, own_permits=range(12))
    try:
        requests = [(varied(n), ACTOR) for n in range(12)] + [(declaration(n), ACTOR) for n in range(8)]
        decisions = engine.assess_many(requests)
        assert any("PERMIT_QUANTITY_EXCEEDED" in {r.code for r in d.reasons} for d in decisions)  # refusals too
        for decision in decisions:
            assert replay(engine, decision.assessment_id).identical, decision.declaration_id
    finally:
        engine.close()


def test_retries_replays_and_conflicts_in_a_batch_each_get_their_own_answer(database_url, tmp_path):
    engine = engine_with_permit(database_url, tmp_path)
    try:
        earlier = engine.assess(declaration(1), actor=ACTOR)
        conflicting = declaration(2, customs_office="CHGVA")
        engine.assess(declaration(2), actor=ACTOR)
        answers = engine.assess_many([
            (declaration(3), ACTOR),
            (declaration(1), ACTOR),  # already recorded: replayed
            (declaration(3), ACTOR),  # the same declaration twice in one batch: recorded once, then replayed
            (conflicting, ACTOR),  # same id and version, another body
            (declaration(4), ACTOR),
        ])
        first, replayed, again, conflict, last = answers
        assert not first.replayed and not last.replayed
        assert replayed.replayed and replayed.assessment_id == earlier.assessment_id
        assert again.replayed and again.assessment_id == first.assessment_id and answer(again) == answer(first)
        assert isinstance(conflict, ConflictError) and "GC-002" in str(conflict)
        with engine.database.read() as session:
            assert session.scalar(select(func.count()).select_from(DeclarationRow)) == 4
            assert session.scalar(select(func.count()).select_from(Assessment)) == 4
        assert verify_audit(engine.database)[1] is None
    finally:
        engine.close()


class RacedEngine(Engine):
    """Another worker records one of the batch's declarations between the batch's read and its write."""

    rival: Engine
    raced: Declaration

    def _record_many(self, batch):
        if not getattr(self, "done", False):
            self.done = True
            self.rival_decision = self.rival.assess(self.raced, actor=Actor("other-worker", "single_window"))
        return super()._record_many(batch)


def test_a_declaration_recorded_meanwhile_by_another_worker_sends_the_batch_one_by_one(database_url, tmp_path):
    engine_with_permit(database_url, tmp_path).close()
    settings = settings_for(database_url, str(tmp_path))
    engine = RacedEngine.from_settings(settings)
    engine.rival = Engine.from_settings(settings)
    engine.raced = declaration(7)
    try:
        answers = engine.assess_many([(declaration(n), ACTOR) for n in range(5, 10)])
        assert all(not isinstance(a, Exception) for a in answers)
        raced = answers[2]
        assert raced.replayed and raced.assessment_id == engine.rival_decision.assessment_id
        assert [a.replayed for a in answers] == [False, False, True, False, False]
        with engine.database.read() as session:
            assert session.scalar(select(func.count()).select_from(Assessment)) == 5
            line = session.execute(select(PermitLineRow)).scalar_one()
            assert line.quantity_used + line.quantity_reserved == 5  # the rolled-back batch reserved nothing
        assert verify_audit(engine.database)[1] is None
    finally:
        engine.rival.close()
        engine.close()


def test_concurrent_requests_to_the_server_are_assessed_in_batches(tmp_path):
    config = write_config(tmp_path, decision={"random_salt": "gc"}, server={"rate_limit_per_minute": 0})
    cli("init", config=config)
    key = cli("apikey", "create", "sw", "--role", "single_window", config=config).stdout.strip().splitlines()[-1]
    port = free_port()
    with (tmp_path / "server.log").open("w") as log:
        server = start_server(config, port, log)
        try:
            async def fire() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                             headers={"Authorization": f"Bearer {key}"}) as client:
                    bodies = [varied(n).model_dump(mode="json") for n in range(60)]
                    return await asyncio.gather(*(client.post("/v1/assessments", json=body) for body in bodies))

            responses = asyncio.run(fire())
            assert [r.status_code for r in responses] == [201] * 60
            assert len({r.json()["assessment_id"] for r in responses}) == 60
            assert [r.json()["declaration_id"] for r in responses] == [f"VAR-{n:03d}" for n in range(60)]
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            batches = float(re.search(r"^riskengine_assessment_batch_size_count (\S+)$", metrics, re.M).group(1))
            assessed = float(re.search(r"^riskengine_assessment_batch_size_sum (\S+)$", metrics, re.M).group(1))
            assert assessed == 60 and batches < 60  # some waited for a batch and went in together
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert "Traceback" not in (tmp_path / "server.log").read_text()
    assert cli("audit", "verify", config=config).returncode == 0


class UnreadableBatchEngine(Engine):
    """The batch's shared read fails once (a bug, a driver error): nothing of it may be lost."""

    def _registries(self, session, declarations):
        if len(declarations) > 1:  # the read a batch shares; one declaration's own read works
            raise RuntimeError("the batch read failed")
        return super()._registries(session, declarations)


def test_a_failed_batch_read_assesses_each_declaration_alone(database_url, tmp_path):
    engine_with_permit(database_url, tmp_path).close()
    engine = UnreadableBatchEngine.from_settings(settings_for(database_url, str(tmp_path)))
    try:
        answers = engine.assess_many([(declaration(n), ACTOR) for n in range(3)] + [(declaration(0), ACTOR)])
        assert [type(a).__name__ for a in answers] == ["Decision"] * 4
        assert [a.replayed for a in answers] == [False, False, False, True]
        assert answers[3].assessment_id == answers[0].assessment_id
        assert verify_audit(engine.database)[1] is None
    finally:
        engine.close()
