"""Permit files: CITES e-permit XML (v1 and v2 samples), CSV and JSON lines, with precise errors."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from riskengine.permits.epermit import parse_epermit_xml, permit_to_epermit_xml
from riskengine.permits.importers import CSV_COLUMNS, PermitImportError, read_permits
from riskengine.schemas import Permit

# The samples use the user-assigned codes XA/XB/XC for fictional Parties, which the schema accepts;
# tests also swap in real codes, and invalid ones to check that every box at fault is named.
REAL = {">XA<": ">CM<", ">XB<": ">CH<", ">XC<": ">GA<"}
INVALID = {">XA<": ">A1<", ">XB<": ">B1<", ">XC<": ">C1<"}


def sample(shared_data, version: str) -> str:
    return (shared_data / "cites" / "epermit" / f"{version}_get_non_final_cites_certificate.xml").read_text()


def with_real_countries(text: str, codes: dict[str, str] = REAL) -> str:
    for fictional, real in codes.items():
        text = text.replace(fictional, real)
    return text


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_epermit_sample_parses_as_published_with_user_assigned_country_codes(shared_data, version):
    (permit,) = parse_epermit_xml(sample(shared_data, version))
    assert (permit.issuing_country, permit.importer.country, permit.lines[0].country_of_origin) == ("XA", "XB", "XC")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_epermit_sample_boxes_map_to_the_permit_document(shared_data, version):
    (permit,) = parse_epermit_xml(with_real_countries(sample(shared_data, version)))
    assert permit.number == "XA000000"                      # box 1 ID
    assert permit.type == "re-export"                       # box 1 TypeCode R
    assert permit.issued_on == dt.date(2014, 1, 6)          # box 13 IssueDateTime
    assert permit.valid_until == dt.date(2014, 7, 5)        # box 2 EndDateTime
    assert permit.issuing_country == "CM"                   # box 6 authority (XA in the sample)
    assert (permit.exporter.name, permit.exporter.country) == ("Consignor name", "CM")   # box 4
    assert (permit.importer.name, permit.importer.country) == ("Consignee name", "CH")   # box 3
    assert permit.importer.address == "Street, 00000 City"
    first, second = permit.lines
    assert (first.line, first.taxon, first.appendix, first.source, first.term) == (1, "Alligator mississippiensis", "II", "W", "LPS")
    assert (first.quantity, first.unit, first.purpose) == (5, "PCS", "T")
    assert (first.country_of_origin, first.origin_permit) == ("GA", "XC12345")          # box 12
    assert (second.line, second.taxon, second.appendix, second.source) == (2, "Crocodylus siamensis", "I", "D")
    assert (second.quantity, second.country_of_origin) == (10, "TH")
    assert second.origin_permit == "FR1202501030-R"         # no box 12 number: box 12a re-export certificate


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_epermit_with_invalid_country_codes_names_every_box_at_fault(shared_data, version):
    with pytest.raises(PermitImportError) as caught:
        parse_epermit_xml(with_real_countries(sample(shared_data, version), INVALID), source=f"{version}.xml")
    problems = caught.value.problems
    assert len(problems) == 4
    assert any("box 6" in p and "'A1'" in p for p in problems)
    assert any("box 4" in p and "ConsignorTradeParty" in p for p in problems)
    assert any("box 3" in p and "'B1'" in p for p in problems)
    assert any("IncludedSupplyChainConsignmentItem[A]: box 12 OriginTradeCountry/ID" in p and "'C1'" in p for p in problems)
    assert all(p.startswith(f"{version}.xml: ") for p in problems)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_epermit_round_trip_gives_the_same_permit(shared_data, version):
    permits = parse_epermit_xml(with_real_countries(sample(shared_data, version)))
    again = parse_epermit_xml(permit_to_epermit_xml(permits[0]))
    assert again == permits


def test_round_trip_of_an_export_permit_with_decimals_and_no_unit():
    permit = Permit.model_validate({
        "number": "CM/EX/2026/00123", "issuing_country": "CM", "type": "export", "issued_on": "2026-06-01",
        "valid_until": "2026-11-30", "exporter": {"name": "Exotic Woods SARL", "country": "CM"},
        "importer": {"name": "Zoo Basel", "country": "CH"},
        "lines": [{"line": 1, "taxon": "Pericopsis elata", "appendix": "II", "term": "TIM", "purpose": "T",
                   "source": "W", "quantity": 12.345, "unit": "MTQ", "country_of_origin": "CM"},
                  {"line": 3, "taxon": "Psittacus erithacus", "appendix": "I", "term": "LIV", "purpose": "T",
                   "source": "C", "quantity": 4}],
    })
    assert parse_epermit_xml(permit_to_epermit_xml(permit)) == [permit]


def test_certificate_of_origin_survives_the_round_trip():
    permit = Permit.model_validate({"number": "GT-CO-1", "issuing_country": "GT", "type": "certificate_of_origin",
                                    "issued_on": "2026-01-10", "lines": [{"line": 1, "taxon": "Cedrela odorata", "quantity": 3, "unit": "MTQ", "purpose": "T"}]})
    assert parse_epermit_xml(permit_to_epermit_xml(permit))[0].type == "certificate_of_origin"


def test_missing_epermit_elements_are_named_by_box():
    xml = ("<CITESEPermit><HeaderExchangedDocument><TypeCode>Q</TypeCode></HeaderExchangedDocument>"
           "<SpecifiedSupplyChainConsignment><IncludedSupplyChainConsignmentItem><ID>A</ID>"
           "</IncludedSupplyChainConsignmentItem></SpecifiedSupplyChainConsignment></CITESEPermit>")
    with pytest.raises(PermitImportError) as caught:
        parse_epermit_xml(xml, source="bad.xml")
    text = str(caught.value)
    assert "box 1 HeaderExchangedDocument/ID (permit number) is missing" in text
    assert "box 1 HeaderExchangedDocument/TypeCode 'Q' is not E, R, I or O" in text
    assert "box 13 HeaderExchangedDocument/IssueDateTime (date of issue) is missing" in text
    assert "box 6" in text
    assert "IncludedSupplyChainConsignmentItem[A]: box 7" in text and "box 11" in text


def test_malformed_and_hostile_xml_is_refused():
    with pytest.raises(PermitImportError, match=r"bad.xml:1: not well-formed"):
        parse_epermit_xml("<CITESEPermit>", source="bad.xml")
    with pytest.raises(PermitImportError, match="DOCTYPE"):
        parse_epermit_xml('<!DOCTYPE x [<!ENTITY a "a">]><CITESEPermit/>')


def test_read_permits_dispatches_xml_by_suffix(shared_data, tmp_path):
    path = tmp_path / "permit.xml"
    path.write_text(with_real_countries(sample(shared_data, "v2")))
    assert [p.number for p in read_permits(path)] == ["XA000000"]


CSV_HEADER = ",".join(CSV_COLUMNS)


def write_csv(tmp_path, *rows: str):
    path = tmp_path / "permits.csv"
    path.write_text("\n".join((CSV_HEADER, *rows)) + "\n")
    return path


def test_csv_rows_are_grouped_into_permits_by_issuing_country_and_number(tmp_path):
    path = write_csv(
        tmp_path,
        "CM/EX/2026/00123,CM,export,2026-06-01,2026-11-30,valid,Exotic Woods SARL,CM,Zoo Basel,CH,1,Pericopsis elata,II,TIM,T,W,20,MTQ,CM,",
        "CM/EX/2026/00123,CM,export,2026-06-01,2026-11-30,valid,Exotic Woods SARL,CM,Zoo Basel,CH,2,Dalbergia spp.,II,SAW,T,W,5,CUM,CM,",
        "CH/IM/9,ch,import,2026-05-01,,valid,,,Zoo Basel,CH,1,Psittacus erithacus,I,LIV,Z,C,2,,,",
    )
    permits = list(read_permits(path))
    assert [(p.issuing_country, p.number, len(p.lines)) for p in permits] == [("CM", "CM/EX/2026/00123", 2), ("CH", "CH/IM/9", 1)]
    first = permits[0]
    assert first.exporter.name == "Exotic Woods SARL" and first.importer.country == "CH"
    assert first.lines[1].unit == "MTQ"                     # CUM, the old code, normalised
    assert permits[1].valid_until is None and permits[1].exporter is None


def test_csv_errors_list_every_problem_with_file_line_and_field(tmp_path):
    path = write_csv(
        tmp_path,
        "A/1,CM,export,2026-06-01,,valid,X,CM,Y,CH,1,Pericopsis elata,II,TIM,T,W,-3,MTQ,CM,",
        "A/1,CM,import,2026-06-01,,valid,X,CM,Y,CH,2,Pericopsis elata,IV,TIM,T,W,3,MTQ,CM,",
        "B/2,Z9,export,2026-13-01,,valid,X,CM,Y,CH,1,Pericopsis elata,II,TIM,T,W,3,FOO,CM,",
    )
    with pytest.raises(PermitImportError) as caught:
        list(read_permits(path))
    problems = caught.value.problems
    name = str(path)
    assert any(p.startswith(f"{name}:3: type:") and "differs" in p for p in problems)
    assert any(p.startswith(f"{name}:2: quantity:") for p in problems)
    assert any(p.startswith(f"{name}:3: appendix:") for p in problems)
    assert any(p.startswith(f"{name}:4: issuing_country:") for p in problems)
    assert any(p.startswith(f"{name}:4: issued_on:") for p in problems)
    assert any(p.startswith(f"{name}:4: unit:") and "FOO" in p for p in problems)
    assert "problems in" in str(caught.value)


def test_csv_with_a_missing_column_is_refused_before_reading_rows(tmp_path):
    path = tmp_path / "permits.csv"
    path.write_text("number,issuing_country\nA,CM\n")
    with pytest.raises(PermitImportError, match=r"permits.csv:1: missing column 'type'"):
        list(read_permits(path))


def test_json_lines_import_and_errors_name_the_line(tmp_path):
    good = {"number": "CM/EX/1", "issuing_country": "CM", "type": "export", "issued_on": "2026-06-01",
            "lines": [{"line": 1, "taxon": "Pericopsis elata", "quantity": 20, "unit": "MTQ"}]}
    path = tmp_path / "permits.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "number": "CM/EX/2"}) + "\n")
    assert [p.number for p in read_permits(path)] == ["CM/EX/1", "CM/EX/2"]

    bad = dict(good, lines=[{"line": 1, "taxon": "Pericopsis elata", "quantity": 20, "colour": "red"}])
    path.write_text(json.dumps(good) + "\n{not json\n" + json.dumps(bad) + "\n")
    with pytest.raises(PermitImportError) as caught:
        list(read_permits(path))
    problems = caught.value.problems
    assert problems[0].startswith(f"{path}:2: invalid JSON")
    assert problems[1].startswith(f"{path}:3: lines.0.colour:")


def test_json_array_and_ndjson_suffixes(tmp_path):
    doc = {"number": "N1", "issuing_country": "NA", "type": "export", "issued_on": "2026-01-01",
           "lines": [{"line": 1, "taxon": "Panthera pardus", "quantity": 1, "term": "TRO", "purpose": "H"}]}
    array = tmp_path / "permits.json"
    array.write_text(json.dumps({"permits": [doc]}))
    assert next(read_permits(array)).issuing_country == "NA"
    nd = tmp_path / "permits.ndjson"
    nd.write_text(json.dumps(doc))
    assert next(read_permits(nd)).lines[0].term == "TRO"


def test_unsupported_suffix_is_refused(tmp_path):
    path = tmp_path / "permits.xlsx"
    path.write_bytes(b"")
    with pytest.raises(PermitImportError, match=r"permits.xlsx: unsupported file type '.xlsx'"):
        list(read_permits(path))
