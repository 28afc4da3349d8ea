"""Online over HTTP: throughput and latency of POST /v1/assessments next to a bare FastAPI floor, driven by wrk.

    .venv/bin/python benchmarks/bench_http.py [--duration 15] [--connections 32] [--threads 1] [--quick] [--pg-workers 1,2,4]
                                              [--sweep 1,2,4,8,16,32] [--plot latency.png]

Needs wrk (https://github.com/wg/wrk; Debian/Ubuntu: `sudo apt-get install wrk`, macOS: `brew install wrk`).
Starts, on loopback only, (1) a bare FastAPI app returning a constant (`_floor_app.py`, one uvicorn worker),
(2) riskengine's HTTP layer alone, its engine answering one constant decision (`_layer_app.py`: what
authentication, validation, the group-commit queue, logging and metrics cost per request, whatever the
engine), (3) riskengine with one worker on SQLite, (4) riskengine with four workers on PostgreSQL
(`--pg-workers 1,2,4` for each of those counts in turn; RISKENGINE_BENCH_POSTGRES_URL, default the
local test server, a fresh database each run; skipped if unreachable). Each gets the same bounded load from wrk: C connections for D seconds after a short
warm-up, every request a POST of a NEW declaration (unique declaration_id, so nothing is replayed)
with the API key header. wrk's own latency histogram gives p50/p95/p99 (a Lua `done` function prints
them); requests answered with a status other than 2xx and socket errors are counted and reported.
The server's CPU time per request (all its processes, from /proc; PostgreSQL's not included) is
printed too: steadier than throughput on a shared machine.
Goal (issue 7): p99 under 25 ms and throughput at least half of the floor's.

`--sweep` measures every riskengine setup at each of those connection counts in turn (closed loop:
more connections, more load) and prints, per setup, the highest throughput at which p99 stayed
under 25 ms: the capacity of that setup at the goal's latency, on this machine. `--plot FILE` draws
p99 and p50 latency against throughput for each setup, with the goal's lines, to a PNG.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
PG = os.environ.get("RISKENGINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WRK_MISSING = ("wrk not found: install it (Debian/Ubuntu `sudo apt-get install wrk`, Fedora `sudo dnf install wrk`, "
               "macOS `brew install wrk`, or build https://github.com/wg/wrk) or point WRK at the binary")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def _cpu_seconds(group: int) -> float:
    """User + system CPU seconds of the live processes in process group `group` (the server and its workers)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if int(fields[2]) == group:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def declaration_template() -> dict:
    """The declaration every request posts; the Lua script fills in a new id (and importer) per request."""
    return {
        "declaration_id": "@ID@", "version": 1, "direction": "import", "lodged_at": "2025-11-01T05:48:55Z",
        "customs_office": "CHZRH", "transport_mode": "air", "declarant_id": "D-163",
        "importer": {"id": "@IMPORTER@", "name": "Lederwaren Keller AG", "country": "CH"},
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

LUA = r"""
-- Every request POSTs a new declaration: id = run prefix, wrk thread number, per-thread counter.
local head, middle, tail = [==[%(head)s]==], [==[%(middle)s]==], [==[%(tail)s]==]
local prefix = "%(prefix)s"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(auth)s
local threads = {}
local created = 0

function setup(thread)
  created = created + 1
  thread:set("tid", created)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  non2xx = 0
  statuses = {}
end

function request()
  counter = counter + 1
  local id = string.format("%%s-%%d-%%07d", prefix, tid, counter)
  local body = head .. id .. middle .. "CH-IMP-" .. (counter %% 40) .. tail
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  local codes = {}
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    for code, n in pairs(thread:get("statuses")) do
      table.insert(codes, string.format('"%%d":%%d', code, n))
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p95_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f,' ..
    '"non2xx":%%d,"statuses":{%%s},"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, bad, table.concat(codes, ","), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def lua_script(path: Path, prefix: str, api_key: str | None) -> Path:
    body = json.dumps(declaration_template(), separators=(",", ":"))
    head, rest = body.split("@ID@")
    middle, tail = rest.split("@IMPORTER@")
    auth = f'wrk.headers["Authorization"] = "Bearer {api_key}"' if api_key else ""
    path.write_text(LUA % {"head": head, "middle": middle, "tail": tail, "prefix": prefix, "auth": auth}, encoding="utf-8")
    return path


def _wrk(wrk: str, url: str, script: Path, *, seconds: float, connections: int, threads: int) -> dict:
    out = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(script), url],
                         capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    line = next((line for line in out.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    return json.loads(line[len("BENCH "):])


def measure(wrk: str, base: str, api_key: str | None, tmp: Path, group: int, args, connections: int | None = None) -> dict:
    """A warm-up run (not counted), then the measured run; new declaration ids in both."""
    url = f"{base}/v1/assessments"
    connections = connections or args.connections
    warm = lua_script(tmp / "warm.lua", f"W{uuid.uuid4().hex[:8]}", api_key)
    _wrk(wrk, url, warm, seconds=args.warmup, connections=connections, threads=args.threads)
    script = lua_script(tmp / "load.lua", f"B{uuid.uuid4().hex[:8]}", api_key)
    cpu = _cpu_seconds(group)
    r = _wrk(wrk, url, script, seconds=args.duration, connections=connections, threads=min(args.threads, connections))
    r["connections"] = connections
    r["server_cpu_s"] = _cpu_seconds(group) - cpu
    seconds = r["duration_us"] / 1e6
    r["rps"] = r["requests"] / seconds
    r["socket_errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return r


def _riskengine(config: Path, workers: int, tmp: Path, *, layer: bool = False) -> tuple[subprocess.Popen, str, str]:
    def cli(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "riskengine", *args, "--config", str(config)], cwd=tmp,
                             capture_output=True, text=True, timeout=300, check=True)
        return out.stdout.strip().splitlines()[-1]

    cli("init")
    keys = {r: cli("apikey", "create", f"{r}-{uuid.uuid4().hex[:6]}", "--role", r) for r in ("single_window", "management_authority")}
    port = _port()
    if layer:  # the HTTP layer alone: the engine answers a constant decision (_layer_app.py)
        command = [sys.executable, "-m", "uvicorn", "_layer_app:app", "--port", str(port), "--log-level", "warning", "--no-access-log"]
        where, env = Path(__file__).parent, os.environ | {"RISKENGINE_LAYER_CONFIG": str(config)}
    else:
        command = [sys.executable, "-m", "riskengine", "serve", "--config", str(config), "--workers", str(workers), "--port", str(port)]
        where, env = tmp, None
    process = subprocess.Popen(command, cwd=where, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=(tmp / f"server-{port}.log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/healthz", process)
    httpx.put(f"{base}/v1/permits/ZM/ZM%2FEX%2F2025%2F0821", json=PERMIT,
              headers={"Authorization": f"Bearer {keys['management_authority']}"}, timeout=30).raise_for_status()
    return process, base, keys["single_window"]


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


def _drop_pg(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        admin = create_engine(make_url(PG), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()
    except Exception as exc:
        print(f"could not drop the benchmark database ({type(exc).__name__})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per setup (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per setup, not counted (default 3)")
    parser.add_argument("--connections", "--clients", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: wrk is C and one thread is not the limit)")
    parser.add_argument("--quick", action="store_true", help="8 s per setup after a 2 s warm-up")
    parser.add_argument("--only", choices=("floor", "layer", "sqlite", "postgres"), action="append", help="run only these setups")
    parser.add_argument("--pg-workers", default="4", help="worker counts for PostgreSQL, comma-separated (default 4)")
    parser.add_argument("--model", type=Path, help="a trained model directory (default: none, rules and permits only)")
    parser.add_argument("--sweep", help="connection counts, comma-separated: each riskengine setup at each of them")
    parser.add_argument("--plot", type=Path, help="a PNG of latency against throughput, one curve per setup")
    args = parser.parse_args()
    sweep = [int(c) for c in args.sweep.split(",")] if args.sweep else [args.connections]
    if args.quick:
        args.duration, args.warmup = 8.0, 2.0
    wrk = os.environ.get("WRK") or shutil.which("wrk")
    if not wrk:
        sys.exit(WRK_MISSING)
    only = set(args.only or ("floor", "layer", "sqlite", "postgres"))
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if "floor" in only:
            port = _port()
            floor = subprocess.Popen([sys.executable, "-m", "uvicorn", "_floor_app:app", "--port", str(port), "--log-level", "warning",
                                      "--no-access-log"], cwd=Path(__file__).parent, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait(f"http://127.0.0.1:{port}/docs", floor)
                print("floor ...", flush=True)
                rows.append(("bare FastAPI constant, 1 worker", measure(wrk, f"http://127.0.0.1:{port}", None, tmp, floor.pid, args)))
            finally:
                _stop(floor)
        setups = []
        if "layer" in only:
            setups.append(("HTTP layer only, constant decision", f"sqlite:///{tmp / 'layer.db'}", 1))
        if "sqlite" in only:
            setups.append(("riskengine, 1 worker, SQLite", f"sqlite:///{tmp / 'bench.db'}", 1))
        pg = _fresh_pg() if "postgres" in only else None
        if pg:
            for n in (int(w) for w in args.pg_workers.split(",")):
                setups.append((f"riskengine, {n} worker{'s' if n > 1 else ''}, PostgreSQL", pg, n))
        try:
            for label, url, workers in setups:
                process, base, key = _riskengine(_config(tmp, url, args.model), workers, tmp, layer=label.startswith("HTTP layer"))
                try:
                    for connections in ([args.connections] if label.startswith("HTTP layer") else sweep):
                        print(label, f"{connections} connections ...", flush=True)
                        rows.append((label, measure(wrk, base, key, tmp, process.pid, args, connections)))
                finally:
                    _stop(process)
        finally:
            if pg:
                _drop_pg(pg)
    floor_rps = rows[0][1]["rps"] if rows and rows[0][0].startswith("bare") else None
    print(f"wrk, {args.threads} thread(s), {args.duration:g} s per setup after {args.warmup:g} s "
          f"warm-up, loopback; every request a new declaration")
    print(f"{'setup':<36} {'conns':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'non-2xx':>7} "
          f"{'sock err':>8} {'CPU ms/req':>10} {'vs floor':>8}")
    failed = []
    for label, r in rows:
        share = f"{r['rps'] / floor_rps:.0%}" if floor_rps else "-"
        cpu = r["server_cpu_s"] * 1e3 / max(1, r["requests"])
        print(f"{label:<36} {r['connections']:>5} {r['requests']:>8} {r['rps']:>7.0f} {r['p50_us'] / 1e3:>7.1f} {r['p95_us'] / 1e3:>7.1f} "
              f"{r['p99_us'] / 1e3:>7.1f} {r['non2xx']:>7} {r['socket_errors']:>8} {cpu:>10.2f} {share:>8}")
        if r["non2xx"] or r["socket_errors"]:
            failed.append(f"{label}: {r['non2xx']} non-2xx responses (by status: {r['statuses']}), socket errors: "
                          f"connect {r['connect']}, read {r['read']}, write {r['write']}, timeout {r['timeout']}")
    for message in failed:
        print("ERRORS:", message)
    print("goal: p99 < 25 ms and throughput >= 50% of the floor, at 32 connections")
    engines = [row for row in (rows[1:] if floor_rps else rows) if not row[0].startswith("HTTP layer")]
    for label, r in engines:
        if floor_rps and r["connections"] == 32:
            met = r["p99_us"] < 25_000 and r["rps"] >= floor_rps / 2 and not (r["non2xx"] or r["socket_errors"])
            print(f"  {label}: {'met' if met else 'not met'}")
    if len(sweep) > 1:
        print("highest throughput with p99 < 25 ms:")
        for label in dict.fromkeys(label for label, _ in engines):
            within = [r for name, r in engines if name == label and r["p99_us"] < 25_000 and not (r["non2xx"] or r["socket_errors"])]
            best = max(within, key=lambda r: r["rps"], default=None)
            print(f"  {label}: " + (f"{best['rps']:.0f} req/s at {best['connections']} connections (p99 {best['p99_us'] / 1e3:.1f} ms)"
                                    if best else "none of the loads measured"))
    if args.plot:
        plot(rows, floor_rps, args.plot)
        print(f"plot: {args.plot}")
    if failed:
        sys.exit(1)


def plot(rows: list[tuple[str, dict]], floor_rps: float | None, path: Path) -> None:
    """p99 (solid) and p50 (dotted) latency against throughput, a point per connection count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for label in dict.fromkeys(label for label, _ in rows):
        points = sorted((r for name, r in rows if name == label), key=lambda r: r["connections"])
        x = [r["rps"] for r in points]
        line, = ax.plot(x, [r["p99_us"] / 1e3 for r in points], marker="o", label=f"{label}: p99")
        ax.plot(x, [r["p50_us"] / 1e3 for r in points], linestyle=":", color=line.get_color())
        for r in points:
            ax.annotate(str(r["connections"]), (r["rps"], r["p99_us"] / 1e3), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.axhline(25, color="black", linewidth=0.8, linestyle="--")
    ax.text(0.99, 25, "p99 goal: 25 ms", va="bottom", ha="right", fontsize=8, transform=ax.get_yaxis_transform())
    if floor_rps:
        ax.axvline(floor_rps / 2, color="grey", linewidth=0.8, linestyle="--")
        ax.text(floor_rps / 2, 0.02, " throughput goal: half the floor", va="bottom", fontsize=8, color="grey",
                transform=ax.get_xaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("requests per second (numbers: wrk connections)")
    ax.set_ylabel("latency, ms (solid p99, dotted p50)")
    ax.set_title("POST /v1/assessments on this machine, closed loop")
    ax.legend(fontsize=7, loc="center right")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
