"""The shipped reference data: listings, synonyms, split listings, HS screening and code checks."""
from __future__ import annotations

import datetime as dt

import pytest

import riskengine.reference as reference_pkg
from riskengine.reference import Reference, ReferenceDataError


@pytest.fixture(scope="module")
def ref() -> Reference:
    return Reference.load()


def test_public_surface_is_declared_and_importable():
    for name in reference_pkg.__all__:
        assert getattr(reference_pkg, name) is not None


def test_pericopsis_elata_is_appendix_ii_with_its_timber_annotation(ref):
    info = ref.lookup("Pericopsis elata")
    assert (info.accepted_name, info.appendix, info.kingdom) == ("Pericopsis elata", "II", "Plantae")
    assert info.family == "Leguminosae" and info.genus == "Pericopsis"
    assert info.annotation.startswith("#17")


def test_unlisted_amazon_parrot_falls_under_psittaciformes(ref):
    info = ref.lookup("Amazona aestiva")
    assert info.appendix == "II"
    assert info.listed_under == "Psittaciformes"
    assert (info.class_, info.order, info.genus) == ("Aves", "Psittaciformes", "Amazona")


def test_appendix_i_parrot_is_an_exception_to_the_order_listing(ref):
    assert ref.lookup("Ara macao").appendix == "I"
    assert ref.lookup("Psittacus erithacus").listed_under == "Psittacus erithacus"


def test_budgerigar_is_excluded_from_the_psittaciformes_listing(ref):
    info = ref.lookup("Melopsittacus undulatus")
    assert info is not None and info.appendix is None and info.listed_under is None


def test_dalbergia_nigra_is_appendix_i_while_other_rosewoods_fall_under_dalbergia_spp(ref):
    assert ref.lookup("Dalbergia nigra").appendix == "I"
    retusa = ref.lookup("Dalbergia retusa")
    assert (retusa.appendix, retusa.listed_under, retusa.rank) == ("II", "Dalbergia", "species")
    assert retusa.annotation.startswith("#15")
    assert ref.lookup("Dalbergia spp.").accepted_name == "Dalbergia"


def test_african_elephant_split_listing_depends_on_the_population(ref):
    assert ref.lookup("Loxodonta africana").appendix == "I"
    for country in ("BW", "NA", "ZA", "ZW"):
        assert ref.appendix_for("Loxodonta africana", country) == "II"
    assert ref.appendix_for("Loxodonta africana", "KE") == "I"
    assert ref.appendix_for("Loxodonta africana") == "I"


def test_southern_white_rhino_split_and_other_rhinos_in_appendix_i(ref):
    assert ref.appendix_for("Ceratotherium simum simum", "ZA") == "II"
    assert ref.appendix_for("Ceratotherium simum simum", "KE") == "I"
    assert ref.lookup("Diceros bicornis").listed_under == "Rhinocerotidae"


def test_population_only_listing_applies_only_to_those_countries(ref):
    assert ref.appendix_for("Diospyros perrieri", "MG") == "II"
    assert ref.appendix_for("Diospyros perrieri", "IN") is None


@pytest.mark.parametrize(
    ("synonym", "accepted"),
    [
        ("Smutsia temminckii", "Manis temminckii"),
        ("Psittacus timneh", "Psittacus erithacus"),
        ("Loxodonta cyclotis", "Loxodonta africana"),
        ("Caesalpinia echinata", "Paubrasilia echinata"),
        ("Aquilaria agallocha", "Aquilaria malaccensis"),
    ],
)
def test_synonyms_resolve_to_the_accepted_name(ref, synonym, accepted):
    assert ref.lookup(synonym).accepted_name == accepted


def test_lookup_tolerates_case_spacing_subgenus_and_author(ref):
    assert ref.lookup("  pericopsis   ELATA ").accepted_name == "Pericopsis elata"
    assert ref.lookup("Holothuria (Microthele) nobilis").accepted_name == "Holothuria nobilis"
    assert ref.lookup("Pericopsis elata (Harms) Meeuwen").accepted_name == "Pericopsis elata"


@pytest.mark.parametrize("name", ["ivory", "Unknownus fictus", "", "rosewood logs"])
def test_unknown_names_give_none(ref, name):
    assert ref.lookup(name) is None


@pytest.mark.parametrize(
    ("name", "appendix", "listed_under"),
    [
        ("Manis javanica", "I", "Manidae"),
        ("Panthera tigris", "I", "Panthera tigris"),
        ("Felis silvestris", "II", "Felidae"),
        ("Pan troglodytes", "I", "Hominidae"),
        ("Crocodylus niloticus", "I", "Crocodylus niloticus"),
        ("Caiman crocodilus", "II", "Crocodylia"),
        ("Testudo graeca", "II", "Testudinidae"),
        ("Python regius", "II", "Pythonidae"),
        ("Hippocampus kuda", "II", "Hippocampus"),
        ("Anguilla anguilla", "II", "Anguilla anguilla"),
        ("Acropora millepora", "II", "Scleractinia"),
        ("Aquilaria crassna", "II", "Aquilaria"),
        ("Gyrinops walla", "II", "Gyrinops"),
        ("Cedrela odorata", "II", "Cedrela"),
        ("Phalaenopsis amabilis", "II", "Orchidaceae"),
        ("Paphiopedilum armeniacum", "I", "Paphiopedilum"),
        ("Carcharhinus longimanus", "II", "Carcharhinidae"),
        ("Holothuria fuscogilva", "II", "Holothuria fuscogilva"),
    ],
)
def test_high_risk_groups_are_covered(ref, name, appendix, listed_under):
    info = ref.lookup(name)
    assert (info.appendix, info.listed_under) == (appendix, listed_under)


def test_known_but_unlisted_species_has_no_appendix(ref):
    info = ref.lookup("Anguilla japonica")
    assert info.appendix is None and info.family == "Anguillidae"
    assert ref.lookup("Homo sapiens").appendix is None


def test_to_dict_has_the_cli_keys(ref):
    data = ref.lookup("Amazona aestiva").to_dict()
    assert {"accepted_name", "appendix", "listed_under", "kingdom", "annotation", "class"} <= data.keys()
    assert data["kingdom"] == "Animalia"


def test_lookups_on_the_online_path_are_answered_from_a_bounded_cache(ref, monkeypatch):
    from riskengine.reference import taxa

    first = ref.lookup("Dalbergia retusa")
    assert ref.lookup("Dalbergia retusa") is first  # resolved once, not per declaration line
    monkeypatch.setattr(taxa, "_CACHE_LIMIT", 3)
    for name in ("Amazona aestiva", "Homo sapiens", "Loxodonta africana", "Panthera leo"):
        ref.lookup(name)
    assert len(ref.taxonomy._cache) <= 3  # a stream of unknown names cannot grow it without bound
    assert ref.lookup("Dalbergia retusa") == first


@pytest.mark.parametrize(
    ("hs_code", "heading"),
    [("440349", "440349"), ("44071100", "4407"), ("0106.20", "010620"), ("960110", "960110"),
     ("050790", "050790"), ("410320", "410320"), ("030812", "030812")],
)
def test_cites_sensitive_hs_codes_match_their_most_specific_heading(ref, hs_code, heading):
    assert ref.hs_heading(hs_code).code == heading
    assert ref.is_cites_relevant_hs(hs_code)


@pytest.mark.parametrize("hs_code", ["870323", "0101", "2709"])
def test_ordinary_goods_are_not_cites_sensitive(ref, hs_code):
    assert ref.hs_heading(hs_code) is None and not ref.is_cites_relevant_hs(hs_code)


def test_historical_unit_aliases_convert_to_their_current_codes(ref):
    assert ref.convert(12.5, "KIL", "KGM") == 12.5
    assert ref.convert(3, "CUM", "MTQ") == 3
    assert ref.convert(2, "SQM", "MTK") == 2
    assert ref.convert(1, "CCM", "CMQ") == 1
    assert ref.convert(1500, "GRM", "KGM") == 1.5
    assert ref.convert(2, "MTQ", "CMQ") == 2_000_000


def test_quantities_of_different_dimensions_do_not_convert(ref):
    assert ref.convert(1, "KGM", "MTQ") is None
    assert ref.convert(1, None, "KGM") is None
    assert ref.convert(4, None, None) == 4


def test_term_unit_pairs(ref):
    assert ref.term_unit_allowed("TIM", "MTQ")
    assert ref.term_unit_allowed("TIM", "CUM")
    assert ref.term_unit_allowed("TUS", "KIL")
    assert ref.term_unit_allowed("LIV", None)
    assert ref.term_unit_allowed("LPS", "PCS")
    assert not ref.term_unit_allowed("TIM", None)
    assert not ref.term_unit_allowed("LIV", "MTQ")
    assert not ref.term_unit_allowed("CAV", None)


def test_high_risk_terms_all_have_unit_pairs(ref):
    for term in ("LIV", "TUS", "IVC", "HOR", "SCA", "SKI", "TIM", "SAW", "LOG", "CHP", "EXT", "MEA", "BOD",
                 "SHE", "CAR", "COR", "EGG", "FEA", "LEA", "SKP", "DER", "POW", "OIL"):
        assert ref.codes._term_units.get(term), term


def test_code_validity(ref):
    assert ref.is_valid_code("purpose", "T") and ref.is_valid_code("source", "Y")
    assert ref.is_valid_code("term", "TIM") and ref.is_valid_code("unit", "KIL")
    assert not ref.is_valid_code("purpose", "X") and not ref.is_valid_code("term", "ZZZ")
    with pytest.raises(ValueError, match="unknown code kind"):
        ref.is_valid_code("colour", "red")


def test_quotas_match_country_term_and_year(ref):
    leopard = ref.lookup("Panthera pardus")
    quotas = ref.quotas(leopard, "NA", 2026, term="TRO")
    assert [q.quantity for q in quotas] == [250]
    assert ref.quotas(leopard, "NA", 2026, term="LIV") == []
    assert ref.quotas(leopard, "FR", 2026) == []
    assert ref.quotas(ref.lookup("Saiga tatarica"), "KZ", 2026, source="W")[0].quantity == 0


def test_suspension_mechanism_matches_taxon_ancestors_country_source_and_dates(tmp_path):
    data = tmp_path / "imported"
    data.mkdir()
    (data / "suspensions.csv").write_text(
        "country,taxon,source,purpose,start,end,notification,notes,excluded_taxa\n"
        "CM,Psittaciformes,W,T,2025-01-01,,2025/001,wild parrots for commerce,Psittacus erithacus\n"
        "XK,,,,2025-01-01,2025-12-31,,all commercial trade,\n"
    )
    ref = Reference.load(imported_dir=data)
    amazon = ref.lookup("Amazona aestiva")
    on = dt.date(2026, 3, 1)
    assert len(ref.suspensions(amazon, "CM", source="W", purpose="T", on=on)) == 1
    assert ref.suspensions(amazon, "CM", source="C", purpose="T", on=on) == []
    assert ref.suspensions(amazon, "CM", source="W", purpose="T", on=dt.date(2024, 12, 31)) == []
    assert ref.suspensions(ref.lookup("Psittacus erithacus"), "CM", source="W", purpose="T", on=on) == []
    assert ref.suspensions(amazon, "GH", source="W", purpose="T", on=on) == []
    assert len(ref.suspensions(amazon, "XK", on=dt.date(2025, 6, 1))) == 1
    assert ref.suspensions(ref.lookup("Homo sapiens"), "XK", on=dt.date(2025, 6, 1)) == []
    assert "wild parrots for commerce" in str(ref.suspensions(amazon, "CM", on=on)[0])


def test_a_broken_reference_file_names_file_line_and_field(tmp_path):
    data = tmp_path / "imported"
    data.mkdir()
    (data / "taxa.csv").write_text("kingdom,name,rank,parent,appendix,annotation\nAnimalia,Foo bar,SPECIES,Foo,IV,\n")
    with pytest.raises(ReferenceDataError, match=r"taxa.csv:2 \[appendix\]"):
        Reference.load(imported_dir=data)
