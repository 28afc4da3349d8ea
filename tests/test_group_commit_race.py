"""Two workers (PostgreSQL) given the same declarations in opposite orders at the same moment: both
answer every declaration, with the one decision stored for it, and the audit chain holds."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from riskengine.auditing import verify_audit
from riskengine.engine import Engine
from riskengine.store.tables import Assessment
from tests.permits.test_concurrency import settings_for
from tests.test_group_commit import ACTOR, engine_with_permit, varied

ROUNDS = 5


def test_two_workers_recording_the_same_declarations_in_opposite_orders_both_answer(postgres_url, tmp_path):
    engine_with_permit(postgres_url, tmp_path, own_permits=range(30)).close()
    settings = settings_for(postgres_url, str(tmp_path))
    workers = [Engine.from_settings(settings), Engine.from_settings(settings)]
    try:
        for round_ in range(ROUNDS):
            declarations = [varied(n).model_copy(update={"declaration_id": f"R{round_}-{n:03d}"}) for n in range(30)]
            orders = [declarations, declarations[::-1]]
            answers: list = [None, None]
            start = threading.Barrier(2)

            def run(k: int) -> None:
                start.wait()
                try:
                    answers[k] = workers[k].assess_many([(d, ACTOR) for d in orders[k]])
                except Exception as exc:  # noqa: BLE001 - the assertion below names it
                    answers[k] = exc

            threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not isinstance(answers[0], Exception), answers[0]
            assert not isinstance(answers[1], Exception), answers[1]
            first = {a.declaration_id: a.assessment_id for a in answers[0]}
            second = {a.declaration_id: a.assessment_id for a in answers[1]}
            assert first == second  # one stored decision per declaration, whoever recorded it
        with workers[0].database.read() as session:
            assert session.scalar(select(func.count()).select_from(Assessment)) == 30 * ROUNDS
        assert verify_audit(workers[0].database)[1] is None
    finally:
        for engine in workers:
            engine.close()
