"""Four uvicorn workers share one PostgreSQL database: concurrent claims on one permit stay correct.

Twenty declarations each want 10 specimens from a permit line of 50, and every declaration is sent
three times at once (a single window retrying). Exactly five may claim the permit, each declaration
version is decided once (retries get the same assessment), and the audit chain stays linear.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
QUANTITY_CODES = {"PERMIT_QUANTITY_EXCEEDED", "PERMIT_ALREADY_USED"}

PERMIT = {
    "number": "ZM/EX/2025/0821", "issuing_country": "ZM", "type": "export", "issued_on": "2025-10-08",
    "valid_until": "2026-04-07", "status": "valid",
    "exporter": {"name": "Crocodile Ranch Ltd", "country": "ZM"},
    "importer": {"name": "Lederwaren Keller AG", "country": "CH"},
    "lines": [{"line": 1, "taxon": "Crocodylus niloticus", "appendix": "II", "term": "SKI", "purpose": "T",
               "source": "C", "quantity": 50, "country_of_origin": "ZM"}],
}


def declaration(n: int) -> dict:
    return {
        "declaration_id": f"SCALE-{n:04d}", "version": 1, "direction": "import",
        "lodged_at": "2025-11-01T05:48:55Z", "customs_office": "CHZRH", "transport_mode": "air",
        "declarant_id": "D-163",
        "importer": {"id": "CH-IMP-7", "name": "Lederwaren Keller AG", "country": "CH"},
        "exporter": {"id": "ZM-EXP-3", "name": "Crocodile Ranch Ltd", "country": "ZM"},
        "country_of_export": "ZM", "country_of_destination": "CH",
        "items": [{"line": 1, "hs_code": "41039000", "description": "Nile crocodile skins, wet salted",
                   "taxon": "Crocodylus niloticus", "country_of_origin": "ZM", "quantity": 10, "net_mass_kg": 28,
                   "value": 4000, "currency": "USD", "cites": {"term": "SKI", "purpose": "T", "source": "C"},
                   "permits": [{"number": "ZM/EX/2025/0821", "issuing_country": "ZM"}]}],
    }


def _cli(config: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "riskengine", *args, "--config", str(config)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout.strip().splitlines()[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(postgres_url, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "database": {"url": postgres_url},
        "rules": {"dir": str(REPO / "rules")},
        "model": {"path": str(tmp_path / "no-model")},
        "reference": {"imported_dir": str(tmp_path / "reference")},
        "decision": {"random_salt": "scale-test"},
        "server": {"rate_limit_per_minute": 0},
    }), encoding="utf-8")
    _cli(config, "init")
    keys = {role: _cli(config, "apikey", "create", role, "--role", role)
            for role in ("single_window", "management_authority")}
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "riskengine", "serve", "--config", str(config), "--workers", "4", "--port", str(port)],
        # a log file, not a pipe: an unread pipe fills up and blocks the workers' logging
        cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=(tmp_path / "server.log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.3)
        yield {"base": base, "keys": keys, "url": postgres_url}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_four_workers_never_double_reserve_and_answer_retries_with_the_stored_decision(server):
    from sqlalchemy import func, select

    from riskengine.auditing import verify_audit
    from riskengine.store.db import Database
    from riskengine.store.tables import Assessment, DeclarationRow, Reservation

    base, keys = server["base"], server["keys"]
    ma = {"Authorization": f"Bearer {keys['management_authority']}"}
    put = httpx.put(f"{base}/v1/permits/ZM/ZM%2FEX%2F2025%2F0821", json=PERMIT, headers=ma, timeout=30)
    assert put.status_code in (200, 201), put.text

    sw = {"Authorization": f"Bearer {keys['single_window']}"}
    sends = [n for n in range(20) for _ in range(3)]
    random.Random(7).shuffle(sends)
    with httpx.Client(base_url=base, headers=sw, timeout=60) as client, ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda n: client.post("/v1/assessments", json=declaration(n)), sends))
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses if r.status_code >= 300][:3]

    by_declaration = defaultdict(set)
    clean = set()
    for response in responses:
        body = response.json()
        by_declaration[body["declaration_id"]].add(body["assessment_id"])
        if not any(r.get("code") in QUANTITY_CODES for r in body["reasons"]):
            clean.add(body["declaration_id"])
    assert len(by_declaration) == 20
    assert all(len(ids) == 1 for ids in by_declaration.values()), "a retry got a second assessment"
    assert len(clean) == 5, sorted(clean)

    permit = httpx.get(f"{base}/v1/permits/ZM/ZM%2FEX%2F2025%2F0821", headers=ma, timeout=30).json()
    line = permit["lines"][0]
    assert line["quantity_used"] + line["quantity_reserved"] == pytest.approx(50)

    database = Database(server["url"])
    try:
        with database.session() as session:
            assert session.execute(select(func.count()).select_from(DeclarationRow)).scalar_one() == 20
            assert session.execute(select(func.count()).select_from(Assessment)).scalar_one() == 20
            assert session.execute(select(func.count()).select_from(Reservation)).scalar_one() == 5
        checked, problem = verify_audit(database)
        assert problem is None, problem
        assert checked >= 21  # the permit and twenty assessments
    finally:
        database.dispose()
