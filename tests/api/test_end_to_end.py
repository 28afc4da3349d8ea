"""End to end over a real server process: CLI init and keys, uvicorn on a free port, a real SQLite file."""
from __future__ import annotations

import copy
import json
import time
from urllib.parse import quote

import httpx
import pytest

from tests.servers import cli, free_port, start_server, stop_server, write_config


PERMIT = {
    "number": "CM/EX/2026/00123", "issuing_country": "CM", "type": "export",
    "issued_on": "2026-06-01", "status": "valid",
    "exporter": {"name": "Exotic Woods SARL", "country": "CM"},
    "importer": {"name": "Zoo Basel", "country": "CH"},
    "lines": [{"line": 1, "taxon": "Pericopsis elata", "appendix": "II", "term": "TIM", "purpose": "T",
               "source": "W", "quantity": 20, "unit": "MTQ", "country_of_origin": "CM", "origin_permit": None}],
}

DECLARATION = {
    "declaration_id": "SW-2026-000123", "version": 1, "direction": "import",
    "lodged_at": "2026-11-27T10:00:00Z", "customs_office": "CHZRH", "transport_mode": "air",
    "declarant_id": "D-778",
    "importer": {"id": "CH-IMP-1", "name": "Zoo Basel", "country": "CH"},
    "exporter": {"id": "CM-EXP-9", "name": "Exotic Woods SARL", "country": "CM"},
    "country_of_export": "CM", "country_of_destination": "CH", "transit_countries": ["AE"],
    "items": [{"line": 1, "hs_code": "440349", "description": "sawn logs, afrormosia", "taxon": "Pericopsis elata",
               "country_of_origin": "CM", "quantity": 12.5, "unit": "MTQ", "net_mass_kg": 9000, "value": 12000,
               "currency": "USD", "cites": {"term": "TIM", "purpose": "T", "source": "W"},
               "permits": [{"number": "CM/EX/2026/00123", "issuing_country": "CM"}]}],
}
PERMIT_PATH = f"/v1/permits/CM/{quote('CM/EX/2026/00123', safe='')}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    config = write_config(work, decision={"random_rate": 0.0})
    cli("init", config=config)
    keys = {}
    for role in ("single_window", "officer", "analyst", "management_authority", "admin"):
        keys[role] = cli("apikey", "create", f"{role}-1", "--role", role, config=config).stdout.strip().splitlines()[-1]
    port = free_port()
    log = open(work / "server.log", "w")
    process = start_server(config, port, log)
    base = f"http://127.0.0.1:{port}"
    yield {"base": base, "keys": keys, "work": work}
    stop_server(process)
    log.close()


def client(server, role: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server['keys'][role]}"} if role else {}
    return httpx.Client(base_url=server["base"], headers=headers, timeout=30)


def declaration(declaration_id: str, **changes) -> dict:
    body = copy.deepcopy(DECLARATION)
    body["declaration_id"] = declaration_id
    body.update(changes)
    return body


def test_health_and_readiness_say_rules_only_without_a_model(server):
    with client(server, None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
    assert ready["database"] == "ok" and ready["model"]["mode"] == "rules-only" and ready["ruleset_version"]
    reference = ready["reference"]  # no WCMC import here: the shipped listings alone, and it says so
    assert reference["taxa"] > 100 and 0 < reference["listed_taxa"] <= reference["taxa"]
    assert len(reference["sources"]) == 1 and reference["sources"][0].endswith("data")


def test_requests_without_a_key_are_401_and_with_a_wrong_role_403(server):
    with client(server, None) as anonymous:
        assert anonymous.post("/v1/assessments", json=DECLARATION).status_code == 401
        bad = anonymous.post("/v1/assessments", json=DECLARATION, headers={"Authorization": "Bearer rk_0000_nope"})
        assert bad.status_code == 401
    with client(server, "single_window") as window:
        assert window.put(PERMIT_PATH, json=PERMIT).status_code == 403
        assert window.get(PERMIT_PATH).status_code == 403
    with client(server, "officer") as officer:
        assert officer.post("/v1/assessments", json=DECLARATION).status_code == 403


def test_permit_put_assess_retry_outcome(server):
    with client(server, "management_authority") as authority:
        put = authority.put(PERMIT_PATH, json=PERMIT)
        assert put.status_code == 200, put.text
        assert put.json()["valid_until"] == "2026-11-30"
    with client(server, "single_window") as window:
        first = window.post("/v1/assessments", json=DECLARATION)
        assert first.status_code == 201, first.text
        decision = first.json()
        assert decision["declaration_id"] == "SW-2026-000123" and decision["replayed"] is False
        assert decision["ruleset_version"] and decision["model_version"] is None
        assert any(r["source"] == "engine" and r["code"] == "MODEL_UNAVAILABLE" for r in decision["reasons"])
        assert not [r for r in decision["reasons"] if r["source"] == "permit"], decision["reasons"]

        retry = window.post("/v1/assessments", json=DECLARATION)
        assert retry.status_code == 200
        assert retry.json() == decision | {"replayed": True}

        changed = declaration("SW-2026-000123")
        changed["items"][0]["quantity"] = 13
        conflict = window.post("/v1/assessments", json=changed)
        assert conflict.status_code == 409 and "different body" in conflict.json()["detail"]

    with client(server, "officer") as officer:
        stored = officer.get(f"/v1/assessments/{decision['assessment_id']}")
        assert stored.status_code == 200 and stored.json() == decision
        assert officer.get("/v1/assessments/does-not-exist").status_code == 404
        taken = officer.get(PERMIT_PATH).json()["lines"][0]
        if decision["decision"] == "release":
            assert (taken["quantity_used"], taken["quantity_reserved"]) == (12.5, 0)
        else:
            assert (taken["quantity_used"], taken["quantity_reserved"]) == (0, 12.5)
            outcome = officer.post(f"/v1/assessments/{decision['assessment_id']}/outcome",
                                   json={"result": "no_discrepancy", "officer": "officer-17",
                                         "quantity_endorsed": [{"line": 1, "permit": "CM/EX/2026/00123", "quantity": 12.0}]})
            assert outcome.status_code == 201, outcome.text
            taken = officer.get(PERMIT_PATH).json()["lines"][0]
            assert (taken["quantity_used"], taken["quantity_reserved"]) == (12.0, 0)
        again = officer.post(f"/v1/assessments/{decision['assessment_id']}/outcome", json={"result": "seizure", "officer": "o"})
        if decision["decision"] == "inspect":
            assert again.status_code == 409


def test_unknown_and_stolen_permits_are_red(server):
    with client(server, "single_window") as window:
        unknown = declaration("SW-UNKNOWN-1")
        unknown["items"][0]["permits"] = [{"number": "CM/EX/2026/99999", "issuing_country": "CM"}]
        result = window.post("/v1/assessments", json=unknown).json()
        assert result["lane"] == "red" and any(r.get("code") == "PERMIT_UNKNOWN" for r in result["reasons"])

    stolen = PERMIT | {"number": "CM/EX/2026/00777"}
    path = f"/v1/permits/CM/{quote(stolen['number'], safe='')}"
    with client(server, "management_authority") as authority:
        assert authority.put(path, json=stolen).status_code == 200
        changed = authority.post(f"{path}/status", json={"status": "stolen", "reason": "blank forms stolen from the MA office"})
        assert changed.status_code == 200 and changed.json()["status"] == "stolen"
    with client(server, "single_window") as window:
        body = declaration("SW-STOLEN-1")
        body["items"][0]["permits"] = [{"number": "CM/EX/2026/00777", "issuing_country": "CM"}]
        result = window.post("/v1/assessments", json=body).json()
    assert result["decision"] == "inspect" and result["lane"] == "red"
    assert any(r.get("code") == "PERMIT_LOST_OR_STOLEN" for r in result["reasons"])


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d.pop("direction"), "direction"),
        (lambda d: d["items"][0].update(quantity=-1), "quantity"),
        (lambda d: d.update(country_of_export="ZQ"), "country_of_export"),
        (lambda d: d["items"][0]["cites"].update(source="Q"), "source"),
        (lambda d: d["items"][0].update(unit="BARRELS"), "unit"),
    ],
)
def test_bad_declarations_are_422_with_the_field_path_and_store_nothing(server, mutate, field):
    body = declaration(f"SW-BAD-{field}")
    mutate(body)
    with client(server, "single_window") as window:
        response = window.post("/v1/assessments", json=body)
        assert response.status_code == 422
        assert field in json.dumps(response.json()["detail"])
        good = window.post("/v1/assessments", json=declaration(f"SW-BAD-{field}"))
    assert good.status_code == 201  # nothing was stored under that id by the bad request


def test_malformed_json_is_422(server):
    with client(server, "single_window") as window:
        response = window.post("/v1/assessments", content=b'{"declaration_id": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_oversized_body_is_413(server):
    with client(server, "single_window") as window:
        response = window.post("/v1/assessments", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_put_with_a_body_for_another_permit_is_422(server):
    with client(server, "management_authority") as authority:
        response = authority.put("/v1/permits/CM/OTHER", json=PERMIT)
    assert response.status_code == 422


def test_server_logs_are_json_lines_with_the_assessment_id(server):
    with client(server, "single_window") as window:
        decision = window.post("/v1/assessments", json=declaration("SW-LOG-1")).json()
    deadline = time.monotonic() + 10
    while True:  # the server writes its log line after the response has gone out
        lines = (server["work"] / "server.log").read_text().split("\n")[:-1]  # the last one may be half-written
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        mine = [e for e in entries if e.get("assessment_id") == decision["assessment_id"]]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert mine and mine[0]["path"] == "/v1/assessments" and mine[0]["status"] == 201 and mine[0]["actor"] == "single_window-1"
