"""Helpers for tests that run riskengine as an operator would: the CLI and a real uvicorn server."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

RISKENGINE = [sys.executable, "-m", "riskengine"]
REPO = Path(__file__).resolve().parents[1]


def write_config(work: Path, *, database: str | None = None, **sections: dict) -> Path:
    """A config.yaml in `work`: a SQLite file there, the repository's rules, no model, plus `sections`."""
    settings = {
        "database": {"url": database or f"sqlite:///{work / 'riskengine.db'}"},
        "rules": {"dir": str(REPO / "rules")},
        "model": {"path": str(work / "no-model")},
    }
    for name, values in sections.items():
        settings.setdefault(name, {}).update(values)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, config: Path) -> subprocess.CompletedProcess:
    """Run a riskengine command with `--config`; raises with its output when it fails."""
    result = subprocess.run([*RISKENGINE, *args, "--config", str(config)], capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise AssertionError(f"riskengine {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def start_server(config: Path, port: int, log, *, timeout: float = 60.0) -> subprocess.Popen:
    """`riskengine serve` on `port`, returned once /healthz answers; its output goes to `log`."""
    process = subprocess.Popen([*RISKENGINE, "serve", "--config", str(config), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}; see {getattr(log, 'name', 'its log')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server did not answer on port {port} within {timeout:.0f} s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=20)
