"""Online over HTTP: throughput and latency of POST /v1/assessments next to a bare FastAPI floor.

    .venv/bin/python benchmarks/bench_http.py [--requests 3000] [--clients 32] [--quick]

Starts, on loopback only, (1) a bare FastAPI app returning a constant, (2) riskengine with one worker
on SQLite, (3) riskengine with four workers on PostgreSQL (RISKENGINE_BENCH_POSTGRES_URL, default the
local test server; skipped if unreachable). Each gets the same bounded load: N requests from C
concurrent asyncio httpx clients, every request a new declaration (no replays). Goal (issue 7): p99
under 25 ms and throughput at least half of the floor's.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
PG = os.environ.get("RISKENGINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with status {process.returncode}")
            time.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def declaration(i: int, run: str) -> dict:
    return {
        "declaration_id": f"B-{run}-{i:06d}", "version": 1, "direction": "import", "lodged_at": "2025-11-01T05:48:55Z",
        "customs_office": "CHZRH", "transport_mode": "air", "declarant_id": "D-163",
        "importer": {"id": f"CH-IMP-{i % 40}", "name": "Lederwaren Keller AG", "country": "CH"},
        "exporter": {"id": "ZM-EXP-3", "name": "Crocodile Ranch Ltd", "country": "ZM"},
        "country_of_export": "ZM", "country_of_destination": "CH",
        "items": [{"line": 1, "hs_code": "41039000", "description": "Nile crocodile skins, wet salted",
                   "taxon": "Crocodylus niloticus", "country_of_origin": "ZM", "quantity": 1, "net_mass_kg": 3,
                   "value": 400, "currency": "USD", "cites": {"term": "SKI", "purpose": "T", "source": "C"},
                   "permits": [{"number": "ZM/EX/2025/0821", "issuing_country": "ZM"}]}],
    }


PERMIT = {
    "number": "ZM/EX/2025/0821", "issuing_country": "ZM", "type": "export", "issued_on": "2025-10-08",
    "valid_until": "2026-04-07", "status": "valid", "exporter": {"name": "Crocodile Ranch Ltd", "country": "ZM"},
    "importer": {"name": "Lederwaren Keller AG", "country": "CH"},
    "lines": [{"line": 1, "taxon": "Crocodylus niloticus", "appendix": "II", "term": "SKI", "purpose": "T",
               "source": "C", "quantity": 10_000_000, "country_of_origin": "ZM"}],
}


async def _load(base: str, headers: dict, n: int, clients: int) -> dict:
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    errors = 0
    queue = iter(range(n))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as client:
        async def worker() -> None:
            nonlocal errors
            for i in queue:
                body = declaration(i, run)
                start = time.perf_counter()
                response = await client.post("/v1/assessments", json=body)
                latencies.append(time.perf_counter() - start)
                errors += response.status_code >= 300

        for i in range(min(50, n)):  # warm-up, not counted
            await client.post("/v1/assessments", json=declaration(10**6 + i, run))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - started
    ms = np.array(latencies) * 1e3
    return {"rps": n / seconds, "p50": np.percentile(ms, 50), "p95": np.percentile(ms, 95), "p99": np.percentile(ms, 99),
            "errors": errors}


def _riskengine(config: Path, workers: int, tmp: Path) -> tuple[subprocess.Popen, str, dict]:
    def cli(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "riskengine", *args, "--config", str(config)], cwd=tmp,
                             capture_output=True, text=True, timeout=300, check=True)
        return out.stdout.strip().splitlines()[-1]

    cli("init")
    keys = {r: cli("apikey", "create", f"{r}-{uuid.uuid4().hex[:6]}", "--role", r) for r in ("single_window", "management_authority")}
    port = _port()
    process = subprocess.Popen([sys.executable, "-m", "riskengine", "serve", "--config", str(config), "--workers", str(workers),
                                "--port", str(port)], cwd=tmp, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=(tmp / f"server-{port}.log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/healthz", process)
    httpx.put(f"{base}/v1/permits/ZM/ZM%2FEX%2F2025%2F0821", json=PERMIT,
              headers={"Authorization": f"Bearer {keys['management_authority']}"}, timeout=30).raise_for_status()
    return process, base, {"Authorization": f"Bearer {keys['single_window']}"}


def _config(tmp: Path, url: str, model: Path | None) -> Path:
    path = tmp / f"config-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump({
        "database": {"url": url}, "rules": {"dir": str(REPO / "rules")},
        "model": {"path": str(model or tmp / "no-model")}, "reference": {"imported_dir": str(tmp / "reference")},
        "decision": {"random_salt": "bench"}, "server": {"rate_limit_per_minute": 0},
    }), encoding="utf-8")
    return path


def _fresh_pg() -> str | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        admin = create_engine(make_url(PG), isolation_level="AUTOCOMMIT")
        name = f"rk_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return make_url(PG).set(database=name).render_as_string(hide_password=False)
    except Exception as exc:
        print(f"PostgreSQL unavailable ({type(exc).__name__}); four-worker run skipped")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="1,000 requests")
    parser.add_argument("--model", type=Path, help="a trained model directory (default: none, rules and permits only)")
    args = parser.parse_args()
    n = 1000 if args.quick else args.requests
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port = _port()
        floor = subprocess.Popen([sys.executable, "-m", "uvicorn", "_floor_app:app", "--port", str(port), "--log-level", "warning",
                                  "--no-access-log"], cwd=Path(__file__).parent, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(f"http://127.0.0.1:{port}/docs", floor)
            print("floor...", flush=True)
            rows.append(("bare FastAPI constant (1 worker)", asyncio.run(_load(f"http://127.0.0.1:{port}", {}, n, args.clients))))
        finally:
            _stop(floor)
        setups = [("riskengine, 1 worker, SQLite", f"sqlite:///{tmp / 'bench.db'}", 1)]
        pg = _fresh_pg()
        if pg:
            setups.append(("riskengine, 4 workers, PostgreSQL", pg, 4))
        for label, url, workers in setups:
            process, base, headers = _riskengine(_config(tmp, url, args.model), workers, tmp)
            try:
                print(label, "...", flush=True)
                rows.append((label, asyncio.run(_load(base, headers, n, args.clients))))
            finally:
                _stop(process)
    floor_rps = rows[0][1]["rps"]
    print(f"{n} requests, {args.clients} concurrent clients, loopback")
    print(f"{'setup':<36} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs floor':>9}")
    for label, r in rows:
        print(f"{label:<36} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} {r['errors']:>7} "
              f"{r['rps'] / floor_rps:>8.0%}")
    print("goal: p99 < 25 ms and throughput >= 50% of the floor")


if __name__ == "__main__":
    main()
