"""Every permit finding code of DESIGN.md: a case where it must be found and a near miss where it must not."""
from __future__ import annotations

import copy
import datetime as dt

import pytest

from riskengine.permits.checks import LineContext, check_declaration, same_party, taxon_covers
from riskengine.reference import Reference
from riskengine.schemas import Declaration
from riskengine.store.permits import RegisteredLine, RegisteredPermit

REFERENCE = Reference.load()

BASE = {
    "declaration_id": "T-1", "version": 1, "direction": "import", "lodged_at": "2026-11-27T10:00:00Z",
    "customs_office": "CHZRH", "importer": {"id": "I1", "name": "Zoo Basel", "country": "CH"},
    "exporter": {"id": "E1", "name": "Exotic Woods SARL", "country": "CM"},
    "country_of_export": "CM", "country_of_destination": "CH",
    "items": [{"line": 1, "hs_code": "440349", "description": "sawn logs", "taxon": "Pericopsis elata",
               "country_of_origin": "CM", "quantity": 12.5, "unit": "MTQ",
               "cites": {"term": "TIM", "purpose": "T", "source": "W"},
               "permits": [{"number": "CM/EX/1", "issuing_country": "CM"}]}],
}


def line(**changes) -> RegisteredLine:
    values = dict(id=1, line=1, taxon="Pericopsis elata", appendix="II", term="TIM", purpose="T", source="W",
                  quantity=20.0, unit="MTQ", country_of_origin="CM", origin_permit=None, reserved=0.0, used=0.0)
    return RegisteredLine(**(values | changes))


def permit(number="CM/EX/1", country="CM", lines=None, **changes) -> RegisteredPermit:
    values = dict(number=number, issuing_country=country, type="export", issued_on=dt.date(2026, 6, 1),
                  valid_until=dt.date(2026, 11, 30), status="valid", exporter_name="Exotic Woods SARL",
                  exporter_country="CM", importer_name="Zoo Basel", importer_country="CH", lines=tuple(lines or [line()]))
    return RegisteredPermit(**(values | changes))


def declaration(**changes) -> Declaration:
    body = copy.deepcopy(BASE)
    item_changes = changes.pop("item", {})
    cites_changes = changes.pop("cites", {})
    body.update(changes)
    body["items"][0].update(item_changes)
    if cites_changes and body["items"][0].get("cites") is not None:
        body["items"][0]["cites"].update(cites_changes)
    return Declaration.model_validate(body)


def contexts(decl: Declaration, reference=REFERENCE) -> list[LineContext]:
    out = []
    for item in decl.items:
        taxon = reference.lookup(item.taxon) if item.taxon else None
        appendix = reference.appendix_for(taxon.accepted_name, item.country_of_origin or decl.country_of_export) if taxon else None
        out.append(LineContext(item=item, taxon=taxon, appendix=appendix, hs_sensitive=reference.is_cites_relevant_hs(item.hs_code),
                               hs_presumed=reference.hs_presumes_cites(item.hs_code)))
    return out


def codes(decl: Declaration, registry, *, reference=REFERENCE, quota_used=None) -> set[str]:
    result = check_declaration(decl, contexts(decl, reference), registry, reference=reference, quota_used=quota_used)
    return {f.code for f in result.findings}


def registry(*permits: RegisteredPermit):
    return {p.key: p for p in permits}


LEOPARD = {"taxon": "Panthera pardus", "hs_code": "970500", "description": "leopard trophy", "quantity": 1, "unit": None,
           "country_of_origin": "ZA"}
LEOPARD_PERMIT = dict(lines=[line(taxon="Panthera pardus", appendix="I", term="TRO", purpose="H", source="W", quantity=1, unit=None, country_of_origin="ZA")],
                      number="ZA/1", country="ZA", exporter_country="ZA")


CASES = [
    # code, (declaration changes, registry) that must find it, (near miss) that must not
    ("PERMIT_REQUIRED", (dict(item={"permits": []}), registry(permit())), (dict(), registry(permit()))),
    ("PERMIT_REQUIRED", (dict(item={"permits": [], "taxon": None, "hs_code": "050710", "cites": None}), registry()),
     (dict(item={"permits": [], "taxon": "Quercus robur", "hs_code": "440391", "cites": None}), registry())),
    ("PERMIT_UNKNOWN", (dict(item={"permits": [{"number": "CM/EX/404", "issuing_country": "CM"}]}), registry(permit())),
     (dict(), registry(permit()))),
    ("PERMIT_WRONG_TYPE", (dict(item={"permits": [{"number": "CH/IM/1", "issuing_country": "CH"}]}),
                           registry(permit(number="CH/IM/1", type="import", country="CH"))), (dict(), registry(permit()))),
    ("PERMIT_NOT_YET_VALID", (dict(lodged_at="2026-05-31T23:59:59Z"), registry(permit())), (dict(lodged_at="2026-06-01T00:00:00Z"), registry(permit()))),
    ("PERMIT_EXPIRED", (dict(lodged_at="2026-12-01T00:00:00Z"), registry(permit())), (dict(lodged_at="2026-11-30T23:59:59Z"), registry(permit()))),
    ("PERMIT_CANCELLED", (dict(), registry(permit(status="cancelled"))), (dict(), registry(permit()))),
    ("PERMIT_LOST_OR_STOLEN", (dict(), registry(permit(status="stolen"))), (dict(), registry(permit()))),
    ("PERMIT_LOST_OR_STOLEN", (dict(), registry(permit(status="lost"))), (dict(), registry(permit()))),
    ("PERMIT_COUNTRY_MISMATCH", (dict(country_of_export="GA", exporter={"id": "E1", "name": "Exotic Woods SARL", "country": "GA"}), registry(permit())),
     (dict(), registry(permit()))),
    ("PERMIT_PARTY_MISMATCH", (dict(exporter={"id": "E1", "name": "Bois Tropicaux Ltd", "country": "CM"}), registry(permit())),
     (dict(exporter={"id": "E1", "name": "EXOTIC WOODS S.A.R.L.", "country": "CM"}), registry(permit()))),
    ("PERMIT_TAXON_MISMATCH", (dict(item={"taxon": "Dalbergia retusa"}), registry(permit())),
     (dict(item={"taxon": "Dalbergia retusa"}), registry(permit(lines=[line(taxon="Dalbergia spp.")])))),
    ("PERMIT_QUANTITY_EXCEEDED", (dict(item={"quantity": 20.5}), registry(permit())), (dict(item={"quantity": 20}), registry(permit()))),
    ("PERMIT_QUANTITY_EXCEEDED", (dict(item={"quantity": 1.1, "unit": "TNE"}, cites={"term": "SAW"}), registry(permit(lines=[line(unit="KGM", quantity=1000, term="SAW")]))),
     (dict(item={"quantity": 1.0, "unit": "TNE"}, cites={"term": "SAW"}), registry(permit(lines=[line(unit="KGM", quantity=1000, term="SAW")])))),
    ("PERMIT_ALREADY_USED", (dict(), registry(permit(lines=[line(used=20.0)]))), (dict(item={"quantity": 1}), registry(permit(lines=[line(used=19.0)])))),
    ("IMPORT_PERMIT_REQUIRED", (dict(item=LEOPARD | {"permits": [{"number": "ZA/1", "issuing_country": "ZA"}]}, cites={"purpose": "H", "term": "TRO"}, country_of_export="ZA",
                                     exporter={"id": "E", "name": "Exotic Woods SARL", "country": "ZA"}), registry(permit(**LEOPARD_PERMIT))),
     (dict(item=LEOPARD | {"permits": [{"number": "ZA/1", "issuing_country": "ZA"}, {"number": "CH/IM/1", "issuing_country": "CH"}]},
           cites={"purpose": "H", "term": "TRO"}, country_of_export="ZA", exporter={"id": "E", "name": "Exotic Woods SARL", "country": "ZA"}),
      registry(permit(**LEOPARD_PERMIT), permit(**(LEOPARD_PERMIT | {"number": "CH/IM/1", "country": "CH"}), type="import", issued_on=dt.date(2026, 5, 1), valid_until=dt.date(2027, 4, 30))))),
    ("APPENDIX_I_COMMERCIAL", (dict(item=LEOPARD, cites={"purpose": "T", "term": "TRO"}), registry()),
     (dict(item=LEOPARD, cites={"purpose": "H", "term": "TRO"}), registry())),
    ("SOURCE_INVALID_FOR_KINGDOM", (dict(item=LEOPARD, cites={"source": "A", "purpose": "H", "term": "TRO"}), registry()),
     (dict(cites={"source": "A"}), registry(permit()))),
    ("SOURCE_INVALID_FOR_KINGDOM", (dict(cites={"source": "C"}), registry(permit())), (dict(item=LEOPARD, cites={"source": "C", "purpose": "H", "term": "TRO"}), registry())),
    ("CODE_INVALID", (dict(cites={"term": "LIV"}), registry(permit())), (dict(cites={"term": "TIM"}), registry(permit()))),
    ("REEXPORT_ORIGIN_INVALID", (dict(country_of_export="CM"), registry(permit(type="re-export"))),
     (dict(), registry(permit(type="re-export", lines=[line(origin_permit="GA/EX/9", country_of_origin="GA")])))),
    ("REEXPORT_ORIGIN_INVALID", (dict(), registry(permit(type="re-export", lines=[line(origin_permit="GA/EX/9", country_of_origin="GA")]),
                                                  permit(number="GA/EX/9", country="GA", status="cancelled"))),
     (dict(), registry(permit(type="re-export", lines=[line(origin_permit="GA/EX/9", country_of_origin="GA")]),
                       permit(number="GA/EX/9", country="GA", issued_on=dt.date(2026, 1, 5))))),
]


@pytest.mark.parametrize(("code", "hit", "miss"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_finding_code_is_found_on_the_hit_and_not_on_the_near_miss(code, hit, miss):
    hit_changes, hit_registry = hit
    miss_changes, miss_registry = miss
    assert code in codes(declaration(**copy.deepcopy(hit_changes)), hit_registry)
    assert code not in codes(declaration(**copy.deepcopy(miss_changes)), miss_registry)


def test_registry_unavailable_never_lets_a_cites_line_pass_unremarked():
    assert "PERMIT_REGISTRY_UNAVAILABLE" in codes(declaration(), None)
    ordinary = declaration(item={"taxon": None, "hs_code": "940360", "description": "wooden furniture", "permits": [], "cites": None})
    assert codes(ordinary, None) == set()


def test_a_clean_declaration_has_no_findings_and_claims_its_quantity():
    decl = declaration()
    result = check_declaration(decl, contexts(decl), registry(permit()), reference=REFERENCE)
    assert result.findings == []
    assert [(c.line, c.permit, c.quantity) for c in result.claims] == [(1, ("CM", "CM/EX/1"), 12.5)]


def test_captive_bred_appendix_i_parrots_follow_appendix_ii_rules():
    parrot = {"taxon": "Psittacus erithacus", "hs_code": "010632", "description": "live grey parrots", "quantity": 10, "unit": None,
              "country_of_origin": "ZA", "permits": [{"number": "ZA/1", "issuing_country": "ZA"}]}
    decl = declaration(item=parrot, cites={"term": "LIV", "purpose": "T", "source": "D"}, country_of_export="ZA",
                       exporter={"id": "E", "name": "Exotic Woods SARL", "country": "ZA"})
    permits = registry(permit(number="ZA/1", country="ZA", lines=[line(taxon="Psittacus erithacus", appendix="I", term="LIV", source="D", quantity=50, unit=None, country_of_origin="ZA")]))
    assert codes(decl, permits) == set()


def test_suspension_in_force_is_found_for_a_species_under_a_suspended_genus(tmp_path):
    (tmp_path / "suspensions.csv").write_text(
        "country,taxon,source,purpose,start,end,notification,notes,excluded_taxa\n"
        "CM,Pericopsis,,,2026-01-01,,2026/001,all commercial trade,\n"
    )
    reference = Reference.load(imported_dir=tmp_path)
    assert "TRADE_SUSPENDED" in codes(declaration(), registry(permit()), reference=reference)
    assert "TRADE_SUSPENDED" not in codes(declaration(lodged_at="2025-12-31T12:00:00Z"), registry(permit(issued_on=dt.date(2025, 11, 1))), reference=reference)


def test_quota_is_exceeded_only_when_this_line_takes_it_over():
    cheetah = {"taxon": "Acinonyx jubatus", "hs_code": "010619", "description": "live cheetah", "quantity": 2, "unit": None,
               "country_of_origin": "NA", "permits": [{"number": "NA/1", "issuing_country": "NA"}]}
    decl = declaration(item=cheetah, cites={"term": "LIV", "purpose": "Z", "source": "W"}, country_of_export="NA",
                       exporter={"id": "E", "name": "Exotic Woods SARL", "country": "NA"})
    permits = registry(permit(number="NA/1", country="NA", lines=[line(taxon="Acinonyx jubatus", appendix="I", term="LIV", purpose="Z", quantity=2, unit=None, country_of_origin="NA")]))
    assert "QUOTA_EXCEEDED" in codes(decl, permits, quota_used=lambda quota, country, year: 149.0)
    assert "QUOTA_EXCEEDED" not in codes(decl, permits, quota_used=lambda quota, country, year: 148.0)


@pytest.mark.parametrize(("permitted", "declared", "covered"), [
    ("Dalbergia spp.", "Dalbergia retusa", True),
    ("Psittaciformes", "Amazona aestiva", True),
    ("Python reticulatus", "Malayopython reticulatus", True),
    ("Pericopsis elata", "Dalbergia retusa", False),
])
def test_permit_taxon_covers_species_below_it_and_synonyms(permitted, declared, covered):
    assert taxon_covers(REFERENCE, permitted, declared) is covered


@pytest.mark.parametrize(("a", "b", "same"), [
    ("Exotic Woods SARL", "EXOTIC WOODS S.A.R.L.", True),
    ("Zoo Basel", "Zoo  Basel AG", True),
    ("Exotic Woods SARL", "Tropical Timber Ltd", False),
])
def test_party_names_match_despite_case_punctuation_and_legal_form(a, b, same):
    assert same_party(a, b) is same
