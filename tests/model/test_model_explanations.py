"""Officers read why a declaration scored high, in words."""
from __future__ import annotations

import re

import pandas as pd

from riskengine.history import declaration_rows
from riskengine.schemas import Declaration

DECLARATION = {
    "declaration_id": "SW-2026-000123", "version": 1, "direction": "import",
    "lodged_at": "2025-11-27T10:00:00Z", "customs_office": "CHZRH", "transport_mode": "air",
    "declarant_id": "D-07", "importer": {"id": "CH-NEW-1", "name": "Zoo Basel", "country": "CH"},
    "exporter": {"id": "CM-EXP-9", "name": "Exotic Woods SARL", "country": "CM"},
    "country_of_export": "CD", "country_of_destination": "CH",
    "items": [
        {"line": 1, "hs_code": "440349", "country_of_origin": "CD", "quantity": 12.5, "unit": "MTQ",
         "net_mass_kg": 9000, "value": 120, "currency": "USD"},
        {"line": 2, "hs_code": "960190", "country_of_origin": "TH", "quantity": 1, "net_mass_kg": 2,
         "value": 50, "currency": "USD"},
    ],
}
IDENTIFIER = re.compile(r"\b[a-z]+_[a-z_]+\b")  # feature names like unit_value_vs_hs6


def test_declaration_score_is_the_worst_line_with_words(supervised):
    rows = declaration_rows(Declaration.model_validate(DECLARATION))
    result = supervised.score_declaration(rows)
    assert len(result.line_scores) == 2 and result.score == max(result.line_scores)
    assert 0 <= result.score <= 1
    assert 1 <= len(result.top_features) <= 3
    for phrase in result.top_features:
        assert not IDENTIFIER.search(phrase), phrase


def test_an_undervalued_line_is_explained_by_its_unit_value(supervised, split):
    later = split[1]
    line = later[later["hs_code"] == "440349"].head(1).copy()
    line["value"] = line["value"] / 40
    words = supervised.explain_frame(line, top=5)[0]
    assert any(re.match(r"unit value \d+x below the (HS 440349 median|median for HS 440349)", w) for w in words), words


def test_a_party_never_seen_before_is_named_as_new(supervised):
    # importer CH-NEW-1 and exporter CM-EXP-9 are in no training line; which of them the model
    # weighs depends on its trees, but whichever it names is named as new
    rows = declaration_rows(Declaration.model_validate(DECLARATION))
    words = supervised.explain_frame(pd.DataFrame(rows), top=20)[0]
    assert any(re.match(r"new (importer CH-NEW-1|exporter CM-EXP-9)", w) or "never seen before" in w
               for w in words), words
