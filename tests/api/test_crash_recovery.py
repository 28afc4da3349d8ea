"""A server killed with SIGKILL in the middle of assessments: after restart, retries give one decision each
and every permit quantity is reserved exactly once."""
from __future__ import annotations

import copy
import signal
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select

from riskengine.auditing import verify_audit
from riskengine.store.db import Database
from riskengine.store.tables import Assessment, PermitLineRow, Reservation
from tests.api.test_end_to_end import DECLARATION, PERMIT, PERMIT_PATH
from tests.servers import cli, free_port, start_server, write_config

N = 40


def declaration(n: int) -> dict:
    body = copy.deepcopy(DECLARATION)
    body["declaration_id"] = f"CRASH-{n:03d}"
    body["items"][0]["quantity"] = 1
    return body


def test_kill_mid_request_then_retry_gives_one_decision_and_one_reservation_each(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    config = write_config(tmp_path, database=url, server={"rate_limit_per_minute": 0})
    cli("init", config=config)
    keys = {role: cli("apikey", "create", role, "--role", role, config=config).stdout.strip().splitlines()[-1]
            for role in ("single_window", "management_authority")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "server.log", "w")
    process = start_server(config, port, log)
    httpx.put(f"{base}{PERMIT_PATH}", json=PERMIT | {"lines": [PERMIT["lines"][0] | {"quantity": 1000}]},
              headers={"Authorization": f"Bearer {keys['management_authority']}"}, timeout=30).raise_for_status()
    headers = {"Authorization": f"Bearer {keys['single_window']}"}

    def fire(n: int) -> None:
        try:
            httpx.post(f"{base}/v1/assessments", json=declaration(n), headers=headers, timeout=10)
        except httpx.HTTPError:
            pass  # the server died under this request

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(N)]
    for thread in threads:
        thread.start()
    time.sleep(0.25)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    for thread in threads:
        thread.join(timeout=20)

    process = start_server(config, port, log)
    try:
        first = {}
        for n in range(N):
            response = httpx.post(f"{base}/v1/assessments", json=declaration(n), headers=headers, timeout=30)
            assert response.status_code in (200, 201), response.text
            first[n] = response.json()
        again = [httpx.post(f"{base}/v1/assessments", json=declaration(n), headers=headers, timeout=30).json() for n in range(N)]
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    assert [a["assessment_id"] for a in again] == [first[n]["assessment_id"] for n in range(N)]
    assert all(a["replayed"] for a in again)
    database = Database(url)
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(Assessment)).scalar_one() == N
        line = session.execute(select(PermitLineRow)).scalar_one()
        claimed = session.execute(select(func.count()).select_from(Reservation)).scalar_one()
        assert claimed == N and line.quantity_reserved + line.quantity_used == pytest.approx(N)
    count, problem = verify_audit(database)
    database.dispose()
    assert problem is None and count >= N + 3
