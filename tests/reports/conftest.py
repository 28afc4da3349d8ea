"""A year of CITES trade at the Swiss border, built through the real Engine on a real SQLite file.

The world (Party CH, report year 2026):
- CM/EX/2026/00123, 20 m3 of Pericopsis elata timber, used by two imports: 12.5 m3 released, then
  5 m3 inspected (importer not on the permit) and endorsed at 4.5 m3 with a discrepancy -> 17 m3;
  a third import of 1 m3 is still awaiting its inspection outcome, so it is not yet trade.
- FR/RE/2026/0007, French re-export certificate for caviar of Chinese origin (CN/EX/2025/0042):
  6 kg imported.
- CH/RE/2026/0001, Swiss re-export of 2 kg of the same caviar to Japan.
- CH/EX/2025/0100, 50 live Testudo hermanni: 10 exported in December 2025, 20 in January 2026.
- MG/EX/2026/0005, 3 m3 of Dalbergia louvelii: inspected and seized, so not trade.
- NL/EX/2026/0311 with the Swiss import permit CH/IM/2026/0009: 2 captive-bred chimpanzees to a zoo.
"""
from __future__ import annotations

import pytest
import yaml

from riskengine.config import load_settings
from riskengine.schemas import Declaration, Outcome, Permit
from riskengine.store.audit import Actor

AUTHORITY = Actor("ma-test", "management_authority")
WINDOW = Actor("sw-test", "single_window")
OFFICER = Actor("officer-test", "officer")

YEAR = 2026


def permit(number, country, kind, issued_on, *, exporter, importer, taxon, appendix, term, purpose, source, quantity,
           unit=None, origin=None, origin_permit=None) -> Permit:
    return Permit.model_validate({
        "number": number, "issuing_country": country, "type": kind, "issued_on": issued_on, "status": "valid",
        "exporter": {"name": exporter[0], "country": exporter[1]}, "importer": {"name": importer[0], "country": importer[1]},
        "lines": [{"line": 1, "taxon": taxon, "appendix": appendix, "term": term, "purpose": purpose, "source": source,
                   "quantity": quantity, "unit": unit, "country_of_origin": origin, "origin_permit": origin_permit}],
    })


PERMITS = [
    permit("CM/EX/2026/00123", "CM", "export", "2026-02-01", exporter=("Exotic Woods SARL", "CM"), importer=("Holz Import AG", "CH"),
           taxon="Pericopsis elata", appendix="II", term="TIM", purpose="T", source="W", quantity=20, unit="MTQ", origin="CM"),
    permit("CN/EX/2025/0042", "CN", "export", "2025-11-01", exporter=("Amur Caviar Co", "CN"), importer=("Caviar de France SA", "FR"),
           taxon="Acipenser baerii", appendix="II", term="CAV", purpose="T", source="C", quantity=50, unit="KGM", origin="CN"),
    permit("FR/RE/2026/0007", "FR", "re-export", "2026-03-01", exporter=("Caviar de France SA", "FR"), importer=("Delikatessen Zuerich AG", "CH"),
           taxon="Acipenser baerii", appendix="II", term="CAV", purpose="T", source="C", quantity=10, unit="KGM", origin="CN",
           origin_permit="CN/EX/2025/0042"),
    permit("CH/RE/2026/0001", "CH", "re-export", "2026-04-01", exporter=("Delikatessen Zuerich AG", "CH"), importer=("Tokyo Foods KK", "JP"),
           taxon="Acipenser baerii", appendix="II", term="CAV", purpose="T", source="C", quantity=2, unit="KGM", origin="CN",
           origin_permit="CN/EX/2025/0042"),
    permit("CH/EX/2025/0100", "CH", "export", "2025-12-01", exporter=("Schildkroeten Zucht GmbH", "CH"), importer=("Reptile House KK", "JP"),
           taxon="Testudo hermanni", appendix="II", term="LIV", purpose="T", source="C", quantity=50, origin="CH"),
    permit("MG/EX/2026/0005", "MG", "export", "2026-05-01", exporter=("Bois Precieux SARL", "MG"), importer=("Holz Import AG", "CH"),
           taxon="Dalbergia louvelii", appendix="II", term="TIM", purpose="T", source="W", quantity=3, unit="MTQ", origin="MG"),
    permit("NL/EX/2026/0311", "NL", "export", "2026-08-01", exporter=("Stichting Apenheul", "NL"), importer=("Zoo Basel", "CH"),
           taxon="Pan troglodytes", appendix="I", term="LIV", purpose="Z", source="C", quantity=2, origin="NL"),
    permit("CH/IM/2026/0009", "CH", "import", "2026-07-15", exporter=("Stichting Apenheul", "NL"), importer=("Zoo Basel", "CH"),
           taxon="Pan troglodytes", appendix="I", term="LIV", purpose="Z", source="C", quantity=2, origin="NL"),
]


def declaration(number, direction, lodged_at, *, exporter, importer, taxon, hs_code, term, purpose, source, quantity,
                unit=None, origin=None, permits=()) -> Declaration:
    return Declaration.model_validate({
        "declaration_id": number, "version": 1, "direction": direction, "lodged_at": lodged_at, "customs_office": "CHZRH",
        "transport_mode": "air",
        "importer": {"id": f"I-{importer[0][:8]}", "name": importer[0], "country": importer[1]},
        "exporter": {"id": f"E-{exporter[0][:8]}", "name": exporter[0], "country": exporter[1]},
        "country_of_export": exporter[1], "country_of_destination": importer[1],
        "items": [{"line": 1, "hs_code": hs_code, "description": taxon, "taxon": taxon, "country_of_origin": origin,
                   "quantity": quantity, "unit": unit, "cites": {"term": term, "purpose": purpose, "source": source},
                   "permits": [{"number": n, "issuing_country": c} for c, n in permits]}],
    })


def timber(number, lodged_at, quantity, *, importer="Holz Import AG"):
    return declaration(number, "import", lodged_at, exporter=("Exotic Woods SARL", "CM"), importer=(importer, "CH"),
                       taxon="Pericopsis elata", hs_code="440349", term="TIM", purpose="T", source="W", quantity=quantity,
                       unit="MTQ", origin="CM", permits=[("CM", "CM/EX/2026/00123")])


def tortoises(number, lodged_at, quantity):
    return declaration(number, "export", lodged_at, exporter=("Schildkroeten Zucht GmbH", "CH"), importer=("Reptile House KK", "JP"),
                       taxon="Testudo hermanni", hs_code="010620", term="LIV", purpose="T", source="C", quantity=quantity,
                       origin="CH", permits=[("CH", "CH/EX/2025/0100")])


class World:
    """The engine, its settings and what the fixture recorded, for the tests to compare against."""

    def __init__(self, engine, settings, config_path):
        self.engine = engine
        self.settings = settings
        self.config_path = config_path
        self.decisions = {}

    def assess(self, declaration: Declaration):
        decision = self.engine.assess(declaration, actor=WINDOW)
        self.decisions[declaration.declaration_id] = decision
        return decision

    def clear(self, declaration: Declaration):
        """Assess; if the engine sends it to inspection, the officer finds nothing wrong."""
        decision = self.assess(declaration)
        if decision.decision == "inspect":
            self.outcome(decision, "no_discrepancy")
        return decision

    def outcome(self, decision, result, **fields):
        body = {"result": result, "officer": "officer-17"} | fields
        return self.engine.record_outcome(decision.assessment_id, Outcome.model_validate(body), actor=OFFICER)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def world(request, tmp_path_factory, repo_dir):
    from riskengine.engine import Engine
    from riskengine.permits.service import put_one
    from riskengine.setup import initialise
    from tests.conftest import POSTGRES_URL, _fresh_postgres_database

    tmp_path = tmp_path_factory.mktemp("reports")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("PostgreSQL tests need RISKENGINE_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
        url, drop = _fresh_postgres_database()
        request.addfinalizer(drop)
    sections = {
        "database": {"url": url},
        "rules": {"dir": str(repo_dir / "rules")},
        "model": {"path": str(tmp_path / "none")},
        "decision": {"random_rate": 0.0, "random_salt": "t"},
    }
    settings = load_settings(None, **sections)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(sections))
    initialise(settings)
    engine = Engine.from_settings(settings)
    w = World(engine, settings, config_path)
    for p in PERMITS:
        put_one(engine, p, actor=AUTHORITY)

    w.clear(tortoises("SW-2025-0900", "2025-12-15T09:00:00Z", 10))  # the year before: not in 2026
    w.clear(tortoises("SW-2026-0005", "2026-01-10T09:00:00Z", 20))
    w.clear(timber("SW-2026-0001", "2026-03-10T08:00:00Z", 12.5))
    second = w.assess(timber("SW-2026-0002", "2026-06-15T08:00:00Z", 5, importer="Alpine Furniture Trading"))
    assert second.decision == "inspect", second.reasons  # importer not named on the permit
    w.outcome(second, "discrepancy", findings=[{"line": 1, "code": "QUANTITY_MISDECLARED", "note": "4.5 m3 found"}],
              quantity_endorsed=[{"line": 1, "permit": "CM/EX/2026/00123", "quantity": 4.5}])
    pending = w.assess(timber("SW-2026-0008", "2026-07-20T08:00:00Z", 1, importer="Alpine Furniture Trading"))
    assert pending.decision == "inspect", pending.reasons  # and no outcome yet
    w.clear(declaration("SW-2026-0003", "import", "2026-04-02T10:00:00Z", exporter=("Caviar de France SA", "FR"),
                        importer=("Delikatessen Zuerich AG", "CH"), taxon="Acipenser baerii", hs_code="160432", term="CAV",
                        purpose="T", source="C", quantity=6, unit="KGM", origin="CN", permits=[("FR", "FR/RE/2026/0007")]))
    w.clear(declaration("SW-2026-0004", "re-export", "2026-05-20T10:00:00Z", exporter=("Delikatessen Zuerich AG", "CH"),
                        importer=("Tokyo Foods KK", "JP"), taxon="Acipenser baerii", hs_code="160432", term="CAV",
                        purpose="T", source="C", quantity=2, unit="KGM", origin="CN", permits=[("CH", "CH/RE/2026/0001")]))
    seized = w.assess(declaration("SW-2026-0006", "import", "2026-07-01T10:00:00Z", exporter=("Bois Precieux SARL", "MG"),
                                  importer=("Swiss Guitar Woods", "CH"), taxon="Dalbergia louvelii", hs_code="440349", term="TIM",
                                  purpose="T", source="W", quantity=3, unit="MTQ", origin="MG", permits=[("MG", "MG/EX/2026/0005")]))
    assert seized.decision == "inspect", seized.reasons
    w.outcome(seized, "seizure", findings=[{"line": 1, "code": "SPECIES_MISDECLARED", "note": "Dalbergia maritima"}])
    w.clear(declaration("SW-2026-0007", "import", "2026-09-09T10:00:00Z", exporter=("Stichting Apenheul", "NL"),
                        importer=("Zoo Basel", "CH"), taxon="Pan troglodytes", hs_code="010611", term="LIV", purpose="Z",
                        source="C", quantity=2, origin="NL", permits=[("NL", "NL/EX/2026/0311"), ("CH", "CH/IM/2026/0009")]))
    yield w
    engine.close()
