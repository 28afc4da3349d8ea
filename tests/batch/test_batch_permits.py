"""The column-wise permit checks of a chunk give `check_declaration`'s findings, declaration by declaration."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from riskengine.batch import build_stages
from riskengine.batch._frame import certain_declarations, clean_records, declaration_bounds, normalise_lines
from riskengine.batch._permits import ChunkReference, _one_by_one, permit_findings
from riskengine.batch._stages import _screen_cache, _screen_columns
from riskengine.history import declaration_rows
from riskengine.reference.loader import Reference
from riskengine.reference.trade_controls import Quota, Suspension, TradeControls

_SWAPS = {  # values that move a line between the fast path and check_declaration, or change its findings
    "taxon": ["Pericopsis elata", "Psittacus erithacus", "Dalbergia spp.", "no such taxon", "", None],
    "country_of_origin": ["CM", "CD", "cm", "ZZZ", None],
    "country_of_export": ["CM", "CD", "GH", None],
    "direction": ["import", "export", "re-export", "transit", "IMPORT"],
    "term": ["TIM", "SAW", "LIV", "XXX", None], "purpose": ["T", "P", "Q", None], "source": ["W", "A", "C", "D", "Q", None],
    "unit": ["KGM", "MTQ", "NAR", "kil", None], "quantity": [1.0, 1e9, -1.0, None],
    "hs_code": ["440349", "0106", "9999", "12a4"],
    "permits": ["CM:NOT/REGISTERED", "CM:A;ZM:B", ";", "", "cm:x/1"],
    "line": [1, 2, 0, None],
    "lodged_at": ["2020-01-01T00:00:00Z", "2025-11-25T23:59:59Z", "2031-06-01T12:00:00Z", None],
}


@pytest.fixture(scope="module")
def stages(demo_world):
    """The demo's stages, with suspensions and quotas that its declarations run into."""
    stages = build_stages(demo_world.settings)
    ref = stages.reference
    suspensions = [
        Suspension("ID", None, start=dt.date(2025, 11, 20)),  # every listed taxon, from a day inside the history
        Suspension("US", "Alligator mississippiensis", sources=frozenset("W"), end=dt.date(2025, 11, 25)),
        Suspension("TW", "Orchidaceae", purposes=frozenset("T"), excluded_taxa=("Vanda coerulea",)),
    ]
    quotas = [*ref.controls.all_quotas(), Quota("ZW", "Crocodylus niloticus", 5.0, terms=("SKI",)),
              Quota(None, "Pericopsis elata", 100.0, unit="MTQ", year=2025)]
    reference = Reference(codes=ref.codes, taxonomy=ref.taxonomy, hs=ref.hs, sources=ref.sources,
                          controls=TradeControls(suspensions=suspensions, quotas=quotas))
    return dataclasses.replace(stages, reference=reference)


def _frame(demo_world, stages, seed: int) -> pd.DataFrame:
    declarations = [entry.declaration for entry in demo_world.world.history] + [d for _, d in demo_world.world.samples]
    frame = pd.DataFrame([row for d in declarations for row in declaration_rows(d)]).astype(object)
    rng = np.random.default_rng(seed)
    registered = [f"{country}:{number}" for country, number in list(stages.snapshot.registry)[:50]]
    swaps = dict(_SWAPS, permits=_SWAPS["permits"] + registered)
    for name, values in swaps.items():
        at = np.flatnonzero(rng.random(len(frame)) < 0.05)
        frame.loc[at, name] = pd.Series([values[k] for k in rng.integers(0, len(values), len(at))], index=at,
                                        dtype=object)
    return frame


@pytest.fixture(scope="module")
def stages_without_suspensions(stages):
    """The same stages with no suspension recorded (the fast path then skips the per-day suspension checks)."""
    ref = stages.reference
    reference = Reference(codes=ref.codes, taxonomy=ref.taxonomy, hs=ref.hs, sources=ref.sources,
                          controls=TradeControls(quotas=ref.controls.all_quotas()))
    return dataclasses.replace(stages, reference=reference)


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_permit_findings_are_those_of_check_declaration_on_varied_lines(demo_world, stages, seed):
    _assert_fast_findings_are_those_of_check_declaration(demo_world, stages, seed)


@pytest.mark.parametrize("seed", [3])
def test_fast_permit_findings_without_recorded_suspensions_are_those_of_check_declaration(
        demo_world, stages_without_suspensions, seed):
    assert ChunkReference(stages_without_suspensions.reference).suspends_nothing
    _assert_fast_findings_are_those_of_check_declaration(demo_world, stages_without_suspensions, seed,
                                                         expect_suspended=False)


def _assert_fast_findings_are_those_of_check_declaration(demo_world, stages, seed, *, expect_suspended=True):
    lines = normalise_lines(_frame(demo_world, stages, seed))
    starts = declaration_bounds(lines)
    screen = _screen_cache(stages)
    screened = _screen_columns(screen, lines)
    sizes = np.diff(np.append(starts, len(lines)))
    relevant = np.unique(np.repeat(np.arange(len(starts)), sizes)[screened["relevant"]])
    findings, notes, errors = permit_findings(stages, screen, lines, starts, relevant)

    ends = np.append(starts[1:], len(lines))
    member = np.zeros(len(starts), dtype=bool)
    member[relevant] = True
    records = lines.iloc[np.flatnonzero(np.repeat(member, ends - starts))]
    own = ends[relevant] - starts[relevant]
    certain = certain_declarations(records, np.cumsum(own) - own)
    quota_cache = {}
    from riskengine.batch._snapshot import quota_usage_in

    def quota_used(quota, country, year):
        key = (id(quota), country, year)
        if key not in quota_cache:
            quota_cache[key] = quota_usage_in(stages.snapshot, quota, country, year, reference=stages.reference)
        return quota_cache[key]

    expected = _one_by_one(stages, screen, clean_records(records), relevant, own, certain,
                           checked=ChunkReference(stages.reference), quota_used=quota_used)
    assert (findings, notes, errors) == expected
    codes = Counter(f.code for fs in findings.values() for f in fs)
    assert len(errors) > 20 and certain.sum() > 100, (len(errors), certain.sum())
    for code in ("PERMIT_UNKNOWN", "PERMIT_REQUIRED", "CODE_INVALID", "IMPORT_PERMIT_REQUIRED", "APPENDIX_I_COMMERCIAL",
                 "SOURCE_INVALID_FOR_KINGDOM", "TRADE_SUSPENDED", "QUOTA_EXCEEDED"):
        assert codes[code] > 0 if expect_suspended or code != "TRADE_SUSPENDED" else codes[code] == 0, (code, codes)
