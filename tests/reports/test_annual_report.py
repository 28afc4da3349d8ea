"""The annual report of the fixture year (see conftest.py), compared with rows and totals worked out by hand."""
from __future__ import annotations

import csv

import pandas as pd
import pytest
from sqlalchemy import select

from riskengine.reports import EXPORTER_COLUMNS, IMPORTER_COLUMNS, build_annual_report, write_annual_report
from riskengine.store.tables import PermitLineRow, PermitRow


@pytest.fixture(scope="module")
def report(world):
    return build_annual_report(world.engine.database, world.engine.reference, year=2026)


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict(orient="records")


def test_the_reporting_party_defaults_to_the_country_most_declarations_import_to_or_export_from(report):
    # 2026: six imports into CH, two exports/re-exports from CH
    assert report.party == "CH"


def test_exports_are_one_record_per_permit_line_used_with_the_reexport_origin(report):
    assert records(report.exports) == [
        {"Appendix": "2", "SpeciesName": "Acipenser baerii", "TermCode": "CAV", "Quantity": 2, "UnitCode": "KIL",
         "TradingPartner": "JP", "CountryOfOrigin": "CN", "ExportPermit": "CH/RE/2026/0001", "OriginPermit": "CN/EX/2025/0042",
         "IFSPermit": None, "PurposeCode": "T", "SourceCode": "C", "Year": 2026},
        # 20 of the 50 tortoises in 2026; the 10 exported in December 2025 belong to the 2025 report
        {"Appendix": "2", "SpeciesName": "Testudo hermanni", "TermCode": "LIV", "Quantity": 20, "UnitCode": None,
         "TradingPartner": "JP", "CountryOfOrigin": None, "ExportPermit": "CH/EX/2025/0100", "OriginPermit": None,
         "IFSPermit": None, "PurposeCode": "T", "SourceCode": "C", "Year": 2026},
    ]


def test_imports_sum_the_endorsed_quantities_of_one_permit_over_two_consignments(report):
    assert records(report.imports) == [
        {"Appendix": "2", "SpeciesName": "Acipenser baerii", "TermCode": "CAV", "Quantity": 6, "UnitCode": "KIL",
         "TradingPartner": "FR", "CountryOfOrigin": "CN", "ImportPermit": None, "ExportPermit": "FR/RE/2026/0007",
         "OriginPermit": "CN/EX/2025/0042", "IFSPermit": None, "PurposeCode": "T", "SourceCode": "C", "Year": 2026},
        {"Appendix": "1", "SpeciesName": "Pan troglodytes", "TermCode": "LIV", "Quantity": 2, "UnitCode": None,
         "TradingPartner": "NL", "CountryOfOrigin": None, "ImportPermit": "CH/IM/2026/0009", "ExportPermit": "NL/EX/2026/0311",
         "OriginPermit": None, "IFSPermit": None, "PurposeCode": "Z", "SourceCode": "C", "Year": 2026},
        # 12.5 m3 released + 4.5 m3 endorsed of the 5 declared; the 1 m3 awaiting inspection is not trade yet
        {"Appendix": "2", "SpeciesName": "Pericopsis elata", "TermCode": "TIM", "Quantity": 17, "UnitCode": "CUM",
         "TradingPartner": "CM", "CountryOfOrigin": None, "ImportPermit": None, "ExportPermit": "CM/EX/2026/00123",
         "OriginPermit": None, "IFSPermit": None, "PurposeCode": "T", "SourceCode": "W", "Year": 2026},
    ]


def test_totals_per_unit_are_what_crossed_the_border(report):
    def totals(frame):
        return frame.assign(UnitCode=frame["UnitCode"].fillna("specimens")).groupby("UnitCode")["Quantity"].sum().to_dict()

    assert totals(report.imports) == {"KIL": 6, "specimens": 2, "CUM": 12.5 + 4.5}
    assert totals(report.exports) == {"KIL": 2, "specimens": 20}


def test_the_report_agrees_with_the_permit_registry(world, report):
    with world.engine.database.session() as session:
        line = session.execute(select(PermitLineRow).join(PermitRow).where(PermitRow.number == "CM/EX/2026/00123")).scalar_one()
        assert (line.quantity_used, line.quantity_reserved) == (17.0, 1.0)
    assert report.imports.set_index("ExportPermit").loc["CM/EX/2026/00123", "Quantity"] == 17


def test_a_seized_consignment_is_not_trade_but_listed_as_a_seizure(report):
    assert "MG/EX/2026/0005" not in set(report.imports["ExportPermit"])
    assert records(report.seizures) == [
        {"Date": "2026-07-01", "DeclarationId": "SW-2026-0006", "Line": 1, "Direction": "import", "Appendix": "2",
         "SpeciesName": "Dalbergia louvelii", "TermCode": "TIM", "Quantity": 3, "UnitCode": "CUM", "CountryOfExport": "MG",
         "CountryOfDestination": "CH", "CountryOfOrigin": "MG", "Permits": "MG:MG/EX/2026/0005", "Findings": "SPECIES_MISDECLARED"},
    ]


def test_a_clean_year_has_no_validation_problems(report):
    assert report.problems.empty


def test_the_previous_year_holds_only_its_own_trade(world):
    report = build_annual_report(world.engine.database, world.engine.reference, year=2025)
    assert report.party == "CH"
    assert records(report.exports)[0] == {
        "Appendix": "2", "SpeciesName": "Testudo hermanni", "TermCode": "LIV", "Quantity": 10, "UnitCode": None,
        "TradingPartner": "JP", "CountryOfOrigin": None, "ExportPermit": "CH/EX/2025/0100", "OriginPermit": None,
        "IFSPermit": None, "PurposeCode": "T", "SourceCode": "C", "Year": 2025}
    assert len(report.exports) == 1 and report.imports.empty and report.seizures.empty


def test_another_party_sees_none_of_the_swiss_trade(world):
    report = build_annual_report(world.engine.database, world.engine.reference, year=2026, party="jp")
    assert report.party == "JP" and report.exports.empty and report.imports.empty


def test_the_columns_are_those_of_the_e_upload_samples(shared_data):
    for name, columns in (("exporter", EXPORTER_COLUMNS), ("importer", IMPORTER_COLUMNS)):
        with open(shared_data / "cites" / f"annual_report_upload_{name}_sample.csv", newline="") as f:
            assert tuple(next(csv.reader(f))) == columns


def test_csv_output_is_one_file_per_table_with_the_sample_headers(report, tmp_path, shared_data):
    written = write_annual_report(report, tmp_path / "ch-2026.csv")
    assert [p.name for p in written] == ["ch-2026_exports.csv", "ch-2026_imports.csv", "ch-2026_seizures.csv", "ch-2026_problems.csv"]
    for table, sample in (("exports", "exporter"), ("imports", "importer")):
        header, *rows = (tmp_path / f"ch-2026_{table}.csv").read_text().splitlines()
        assert header == (shared_data / "cites" / f"annual_report_upload_{sample}_sample.csv").read_text().splitlines()[0]
    assert "2,Pericopsis elata,TIM,17,CUM,CM,,,CM/EX/2026/00123,,,T,W,2026" in rows
    assert "1,Pan troglodytes,LIV,2,,NL,,CH/IM/2026/0009,NL/EX/2026/0311,,,Z,C,2026" in rows


def test_excel_output_has_the_four_sheets(report, tmp_path):
    [path] = write_annual_report(report, tmp_path / "ch-2026.xlsx")
    sheets = pd.read_excel(path, sheet_name=None, dtype=object)
    assert list(sheets) == ["exports", "imports", "seizures", "problems"]
    assert tuple(sheets["exports"].columns) == EXPORTER_COLUMNS and tuple(sheets["imports"].columns) == IMPORTER_COLUMNS
    assert sheets["imports"]["Quantity"].tolist() == [6, 2, 17]
    assert sheets["seizures"]["DeclarationId"].tolist() == ["SW-2026-0006"]


def test_an_unknown_suffix_is_refused(report, tmp_path):
    with pytest.raises(ValueError, match=r"\.csv or \.xlsx"):
        write_annual_report(report, tmp_path / "report.json")


def test_json_form_carries_the_same_records(report):
    data = report.to_json()
    assert set(data) == {"year", "party", "exports", "imports", "seizures", "problems"}
    assert data["imports"] == records(report.imports) and data["problems"] == []
