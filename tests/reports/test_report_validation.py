"""Validation of report records with the code lists and term-unit pairs of the reference data."""
from __future__ import annotations

import pytest

from riskengine.reference import Reference
from riskengine.reports import validate_records


@pytest.fixture(scope="module")
def reference():
    return Reference.load()


def record(**changes):
    base = {"Appendix": "2", "SpeciesName": "Pericopsis elata", "TermCode": "TIM", "Quantity": 17, "UnitCode": "CUM",
            "TradingPartner": "CM", "CountryOfOrigin": None, "ImportPermit": None, "ExportPermit": "CM/EX/2026/00123",
            "OriginPermit": None, "IFSPermit": None, "PurposeCode": "T", "SourceCode": "W", "Year": 2026}
    return base | changes


def codes(problems):
    return [(p.row, p.field, p.code) for p in problems]


def test_a_correct_record_has_no_problem(reference):
    assert validate_records("imports", [record()], reference) == []


def test_unknown_codes_are_named_with_their_field(reference):
    problems = validate_records("imports", [record(), record(TermCode="XYZ", PurposeCode="K", SourceCode="Q", UnitCode="BUSHEL")], reference)
    assert codes(problems) == [(2, "TermCode", "UNKNOWN_CODE"), (2, "PurposeCode", "UNKNOWN_CODE"),
                               (2, "SourceCode", "UNKNOWN_CODE"), (2, "UnitCode", "UNKNOWN_CODE")]


def test_live_animals_in_cubic_metres_are_an_impossible_pair(reference):
    problems = validate_records("imports", [record(SpeciesName="Testudo hermanni", TermCode="LIV", UnitCode="CUM")], reference)
    assert codes(problems) == [(1, "UnitCode", "TERM_UNIT_IMPOSSIBLE")]
    # the old and the current code of a unit are the same unit
    assert validate_records("imports", [record(UnitCode="MTQ"), record(TermCode="LIV", UnitCode=None)], reference) == []


def test_appendix_i_from_the_wild_for_commercial_purposes_is_listed(reference):
    problems = validate_records("exports", [record(Appendix="1", SpeciesName="Pan troglodytes", TermCode="LIV", UnitCode=None)], reference)
    assert codes(problems) == [(1, "PurposeCode", "APPENDIX_I_COMMERCIAL_WILD")]
    assert validate_records("exports", [record(Appendix="1", SpeciesName="Pan troglodytes", TermCode="LIV", UnitCode=None, SourceCode="C")], reference) == []


def test_missing_values_unknown_taxa_and_empty_quantities(reference):
    problems = validate_records("exports", [record(ExportPermit=None, PurposeCode=None, SpeciesName="Nonexistia fictiva", Quantity=0)], reference)
    assert codes(problems) == [(1, "PurposeCode", "MISSING_VALUE"), (1, "ExportPermit", "MISSING_VALUE"),
                               (1, "SpeciesName", "UNKNOWN_TAXON"), (1, "Quantity", "QUANTITY_NOT_POSITIVE")]


def test_the_package_surface_is_what_all_names():
    import riskengine.reports as reports

    assert all(hasattr(reports, name) for name in reports.__all__)
    assert {"build_annual_report", "write_annual_report", "validate_report", "trade_lines", "summarise_trade", "plot_trade"} <= set(reports.__all__)
