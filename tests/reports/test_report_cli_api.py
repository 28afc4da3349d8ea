"""`riskengine report annual|trade` through the real CLI, and GET /v1/reports/annual through FastAPI."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from riskengine.api.app import create_app
from riskengine.cli.main import app as cli
from riskengine.security import create_key
from riskengine.store.audit import Actor

runner = CliRunner()


def test_report_annual_writes_csv_and_prints_the_counts(world, tmp_path):
    result = runner.invoke(cli, ["report", "annual", "--year", "2026", "--out", str(tmp_path / "ch.csv"), "--config", str(world.config_path)])
    assert result.exit_code == 0, result.output
    assert "annual report 2026 of CH: 2 export records, 3 import records, 1 seized lines" in result.output
    assert "no problems" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ch_exports.csv", "ch_imports.csv", "ch_problems.csv", "ch_seizures.csv"]


def test_report_annual_refuses_an_unknown_suffix(world, tmp_path):
    result = runner.invoke(cli, ["report", "annual", "--year", "2026", "--out", str(tmp_path / "ch.txt"), "--config", str(world.config_path)])
    assert result.exit_code == 2 and not any(tmp_path.iterdir())


def test_report_trade_prints_tables_and_writes_charts(world, tmp_path):
    result = runner.invoke(cli, ["report", "trade", "--year", "2026", "--plot", str(tmp_path), "--config", str(world.config_path)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Magnoliopsida / Fabales" in result.output and "CITES declarations assessed" in result.output
    assert len(list(tmp_path.glob("*.png"))) == 4


@pytest.fixture(scope="module")
def client(world):
    with world.engine.database.session() as session:
        keys = {role: create_key(session, f"reports-{role}", role, actor=Actor("test", "admin")) for role in ("analyst", "officer")}
    with TestClient(create_app(world.settings, engine=world.engine)) as client:
        yield client, keys


def test_analysts_get_the_annual_report_as_json(client, world):
    http, keys = client
    response = http.get("/v1/reports/annual", params={"year": 2026}, headers={"Authorization": f"Bearer {keys['analyst']}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["party"] == "CH" and body["problems"] == []
    assert [r["ExportPermit"] for r in body["imports"]] == ["FR/RE/2026/0007", "NL/EX/2026/0311", "CM/EX/2026/00123"]
    assert [r["Quantity"] for r in body["imports"]] == [6, 2, 17]
    assert [r["DeclarationId"] for r in body["seizures"]] == ["SW-2026-0006"]
    assert list(body["exports"][0]) == ["Appendix", "SpeciesName", "TermCode", "Quantity", "UnitCode", "TradingPartner", "CountryOfOrigin",
                                        "ExportPermit", "OriginPermit", "IFSPermit", "PurposeCode", "SourceCode", "Year"]


def test_the_annual_report_is_for_analysts_only_and_needs_a_year(client):
    http, keys = client
    assert http.get("/v1/reports/annual", params={"year": 2026}, headers={"Authorization": f"Bearer {keys['officer']}"}).status_code == 403
    assert http.get("/v1/reports/annual", params={"year": 2026}).status_code == 401
    assert http.get("/v1/reports/annual", headers={"Authorization": f"Bearer {keys['analyst']}"}).status_code == 422
