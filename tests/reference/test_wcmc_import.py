"""Importing the real UNEP-WCMC exports (2013 Species+ snapshot) and looking up real facts."""
from __future__ import annotations

import pytest

from riskengine.reference import Reference, import_wcmc


@pytest.fixture(scope="module")
def imported(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("wcmc")
    report = import_wcmc(shared_data / "cites", out, progress=False)
    return report, Reference.load(imported_dir=out)


def test_import_writes_every_table(imported):
    report, _ = imported
    assert report.counts["taxa"] > 25_000
    assert report.counts["listed taxa"] > 1_000
    assert report.counts["suspensions"] > 50 and report.counts["quotas"] > 50
    for name in ("taxa.csv", "populations.csv", "suspensions.csv", "quotas.csv", "reservations.csv",
                 "purposes.csv", "sources.csv", "terms.csv", "units.csv", "term_units.csv"):
        assert (report.out_dir / name).is_file(), name


def test_pericopsis_elata_is_appendix_ii_in_the_2013_listings(imported):
    _, ref = imported
    info = ref.lookup("Pericopsis elata")
    assert (info.appendix, info.family, info.kingdom) == ("II", "Leguminosae", "Plantae")
    assert "#5" in info.annotation


def test_species_resolve_through_higher_taxon_listings(imported):
    _, ref = imported
    assert ref.lookup("Amazona aestiva").listed_under == "Psittaciformes"
    assert ref.lookup("Aquilaria malaccensis").listed_under == "Aquilaria"
    assert ref.lookup("Alligator mississippiensis").listed_under == "Crocodylia"


def test_excludes_note_takes_the_budgerigar_out_of_the_parrot_listing(imported):
    _, ref = imported
    assert ref.lookup("Melopsittacus undulatus").appendix is None


def test_elephant_split_listing_comes_from_the_populations_columns(imported):
    _, ref = imported
    assert ref.appendix_for("Loxodonta africana", "BW") == "II"
    assert ref.appendix_for("Loxodonta africana", "CM") == "I"


def test_namibia_is_not_read_as_a_missing_value(imported):
    _, ref = imported
    quotas = ref.quotas("Panthera pardus", "NA", 2013, term="TRO")
    assert [q.quantity for q in quotas] == [250]


def test_current_suspension_of_afrormosia_exports_from_cote_d_ivoire(imported):
    _, ref = imported
    found = ref.suspensions("Pericopsis elata", "CI", source="W", purpose="T")
    assert len(found) == 1 and "All exports" in found[0].notes
    assert ref.suspensions("Pericopsis elata", "CM", source="W", purpose="T") == []


def test_country_wide_suspension_reads_commercial_wording_as_purpose_t(imported):
    _, ref = imported
    parrot = ref.lookup("Psittacus erithacus")
    assert ref.suspensions(parrot, "SO", purpose="T")
    assert ref.suspensions(parrot, "SO", purpose="S") == []


def test_imported_units_keep_the_historical_aliases(imported):
    _, ref = imported
    assert ref.convert(2, "KIL", "GRM") == 2000
    assert ref.term_unit_allowed("TIM", "CUM")
