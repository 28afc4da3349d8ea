"""The command line as an operator uses it: assess, replay, audit verify and export, apikey errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from riskengine.config import load_settings
from riskengine.store.db import Database
from riskengine.store.tables import AuditRecord
from tests.servers import write_config


DECLARATION = {
    "declaration_id": "CLI-1", "version": 1, "direction": "import", "lodged_at": "2026-11-27T10:00:00Z",
    "customs_office": "CHZRH", "importer": {"id": "I1", "name": "Zoo Basel", "country": "CH"},
    "exporter": {"id": "E1", "name": "Exotic Woods SARL", "country": "CM"},
    "country_of_export": "CM", "country_of_destination": "CH",
    "items": [{"line": 1, "hs_code": "440349", "description": "sawn logs", "taxon": "Pericopsis elata",
               "quantity": 12.5, "unit": "MTQ", "permits": [{"number": "CM/EX/404", "issuing_country": "CM"}]}],
}


def run(*args, config: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "riskengine", *args, "--config", str(config)],
                            capture_output=True, text=True, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def config(tmp_path) -> Path:
    path = write_config(tmp_path)
    run("init", config=path)
    return path


def test_assess_prints_the_decision_json_and_replay_finds_it_identical(config, tmp_path):
    file = tmp_path / "declaration.json"
    file.write_text(json.dumps(DECLARATION))
    decision = json.loads(run("assess", str(file), config=config).stdout)
    assert decision["decision"] == "inspect" and any(r.get("code") == "PERMIT_UNKNOWN" for r in decision["reasons"])
    replayed = run("replay", decision["assessment_id"], config=config)
    assert "identical" in replayed.stdout


def test_assess_names_the_bad_field_and_exits_2(config, tmp_path):
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(DECLARATION | {"direction": "sideways"}))
    result = run("assess", str(file), config=config, check=False)
    assert result.returncode == 2 and "direction" in result.stderr


def test_rules_that_cannot_be_put_in_force_stop_every_deciding_command(tmp_path):
    """A mistyped rules.dir or an emptied rule file used to mean "no rules": everything they target released."""
    missing = tmp_path / "rulez"
    config = write_config(tmp_path, rules={"dir": str(missing)})
    run("init", config=config)
    file = tmp_path / "declaration.json"
    file.write_text(json.dumps(DECLARATION))
    lines = tmp_path / "declarations.jsonl"
    lines.write_text(json.dumps(DECLARATION) + "\n")
    for args in (["assess", str(file)], ["serve", "--port", "1"], ["batch", str(lines), "--out", str(tmp_path / "o.parquet")]):
        result = run(*args, config=config, check=False)
        assert result.returncode == 2, (args, result.stderr)
        assert "does not exist" in result.stderr and "rulez" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.parquet").exists()
    missing.mkdir()
    (missing / "traders.yaml").write_text("")
    result = run("assess", str(file), config=config, check=False)
    assert result.returncode == 2 and "traders.yaml:1:1" in result.stderr and "empty" in result.stderr


def test_audit_verify_names_the_first_tampered_record(config, tmp_path):
    file = tmp_path / "declaration.json"
    for n in range(3):
        file.write_text(json.dumps(DECLARATION | {"declaration_id": f"CLI-{n}"}))
        run("assess", str(file), config=config)
    assert "intact: 3 records" in run("audit", "verify", config=config).stdout
    database = Database(load_settings(config).database.url)
    with database.session() as session:
        session.execute(update(AuditRecord).where(AuditRecord.seq == 2).values(actor="someone-else"))
    database.dispose()
    result = run("audit", "verify", config=config, check=False)
    assert result.returncode == 1 and "record 2" in result.stderr


def test_audit_export_writes_json_lines_with_a_signoff(config, tmp_path):
    file = tmp_path / "declaration.json"
    file.write_text(json.dumps(DECLARATION))
    run("assess", str(file), config=config)
    out = tmp_path / "audit.jsonl"
    run("audit", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--out", str(out), config=config)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[-1]["signoff"] is True and lines[-1]["records"] == len(lines) - 1 == 1
    assert lines[0]["action"] == "assessment.create"


def test_apikey_create_prints_the_key_last_and_refuses_unknown_roles(config):
    created = run("apikey", "create", "window", "--role", "single_window", config=config)
    assert created.stdout.strip().splitlines()[-1].startswith("rk_")
    refused = run("apikey", "create", "x", "--role", "emperor", config=config, check=False)
    assert refused.returncode == 1 and "unknown role" in refused.stderr


def test_reference_lookup_prints_the_listing(config):
    info = json.loads(run("reference", "lookup", "Amazona aestiva", config=config).stdout)
    assert info["appendix"] == "II" and info["listed_under"] == "Psittaciformes" and info["kingdom"] == "Animalia"
