"""Reading history files through column mappings."""
from __future__ import annotations

import pandas as pd
import pytest

from riskengine.history import EXTRA_COLUMNS, HISTORY_COLUMNS, LABEL_COLUMNS
from riskengine.model import MappingError, load_mapping, read_history

KCS_HEADER = ("Declaration ID,Date,Office ID,Process Type,Import Type,Import Use,Payment Type,Mode of Transport,"
              "Declarant ID,Importer ID,Seller ID,Courier ID,HS6 Code,Country of Departure,Country of Origin,Tax Rate,"
              "Tax Type,Country of Origin Indicator,Net Mass,Item Price,Fraud,Critical Fraud")
KCS_ROW = "97061800,2020-01-01,30,B,11,21,11,10,ZZR1LT6,QLRUBN9,0VKY2BR,,10690,BE,BE,0.0,FEU1,G,108.0,372254.4,1,2"


def test_kcs_mapping_gives_canonical_columns_and_types(tmp_path):
    path = tmp_path / "kcs.csv"
    path.write_text(KCS_HEADER + "\n" + KCS_ROW + "\n")
    frame = read_history(path, "kcs")
    assert list(frame.columns) == [*HISTORY_COLUMNS, *EXTRA_COLUMNS, *LABEL_COLUMNS]
    row = frame.iloc[0]
    assert row["hs_code"] == "010690"  # the leading zero a spreadsheet dropped is restored
    assert row["customs_office"] == "30"
    assert row["exporter_id"] == "0VKY2BR"
    assert row["value"] == pytest.approx(372254.4)
    assert row["fraud"] == 1
    assert row["lodged_at"] == pd.Timestamp("2020-01-01", tz="UTC")
    assert row["direction"] == "import"
    assert pd.isna(row["courier_id"]) and pd.isna(row["taxon"])


def test_missing_mapped_column_names_the_file_and_the_column(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text(KCS_HEADER.replace("HS6 Code", "HS Code") + "\n" + KCS_ROW + "\n")
    with pytest.raises(MappingError) as err:
        read_history(path, "kcs")
    assert str(path) in str(err.value) and "'HS6 Code'" in str(err.value) and "hs_code" in str(err.value)
    assert err.value.code == "COLUMN_MISSING"


def test_history_without_mapping_needs_the_canonical_names(tmp_path):
    path = tmp_path / "h.csv"
    pd.DataFrame({"declaration_id": ["A"], "lodged_at": ["2026-01-01T00:00:00Z"]}).to_csv(path, index=False)
    with pytest.raises(MappingError, match="'hs_code'") as err:
        read_history(path)
    assert str(path) in str(err.value)


def test_canonical_parquet_reads_without_mapping(tmp_path):
    path = tmp_path / "h.parquet"
    pd.DataFrame({"declaration_id": ["A"], "lodged_at": ["2026-01-01T00:00:00Z"], "hs_code": ["440349"],
                  "value": [10.0]}).to_parquet(path)
    frame = read_history(path)
    assert frame.loc[0, "hs_code"] == "440349" and pd.isna(frame.loc[0, "fraud"])


def test_unknown_mapping_name_lists_the_shipped_ones():
    with pytest.raises(MappingError, match="kcs"):
        load_mapping("no-such-mapping")


def test_mapping_to_an_unknown_history_column_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  hs_cod: HS\n")
    with pytest.raises(MappingError, match="'hs_cod' is not a history column"):
        load_mapping(path)


def test_missing_history_file_is_named(tmp_path):
    with pytest.raises(MappingError, match="does not exist"):
        read_history(tmp_path / "nope.csv", "kcs")
