"""Briefing statistics over the fixture year: counts by taxon group, partner and month, and the charts."""
from __future__ import annotations

import pytest

from riskengine.reports import plot_trade, summarise_trade, trade_lines


@pytest.fixture(scope="module")
def summary(world):
    return summarise_trade(trade_lines(world.engine.database, world.engine.reference, year=2026), year=2026)


def row(frame, key, value):
    return frame.set_index(key).loc[value].to_dict()


def test_shipments_by_taxon_group_count_cleared_lines_and_seizures(summary):
    t = summary.by_taxon_group
    # two timber imports cleared (the third awaits its outcome), the Dalbergia seized: all Fabales
    assert row(t, "taxon_group", "Magnoliopsida / Fabales") == {"cleared": 2, "imports": 2, "exports": 0, "re-exports": 0, "transit": 0, "seized": 1}
    assert row(t, "taxon_group", "Actinopteri / Acipenseriformes") == {"cleared": 2, "imports": 1, "exports": 0, "re-exports": 1, "transit": 0, "seized": 0}
    assert row(t, "taxon_group", "Reptilia / Testudines")["exports"] == 1
    assert row(t, "taxon_group", "Mammalia / Primates")["imports"] == 1
    assert t["cleared"].sum() == 6


def test_shipments_by_partner(summary):
    t = summary.by_partner
    assert row(t, "partner", "JP")["cleared"] == 2 and row(t, "partner", "CM")["cleared"] == 2
    assert row(t, "partner", "MG") == {"cleared": 0, "imports": 0, "exports": 0, "re-exports": 0, "transit": 0, "seized": 1}


def test_months_and_controls(world, summary):
    months = summary.by_month.set_index("month")
    assert len(months) == 12
    assert months.loc["2026-07"].to_dict() == {"cleared lines": 0, "declarations": 2, "inspected": 2, "seizures": 1}
    assert months.loc["2026-06"].to_dict() == {"cleared lines": 1, "declarations": 1, "inspected": 1, "seizures": 0}
    controls = dict(summary.controls.itertuples(index=False))
    assert controls["CITES declarations assessed"] == 8
    # Lanes follow the shipped rules, which change; the fixture clears every other inspection without discrepancy.
    decided = [d for k, d in world.decisions.items() if k.startswith("SW-2026")]
    inspected = sum(d.decision == "inspect" for d in decided)
    for lane in ("red", "yellow", "blue", "green"):
        label = next(m for m in controls if m.split(",")[-1].split()[0] == lane)
        assert controls[label] == sum(d.lane == lane for d in decided)
    assert (controls["outcomes recorded"], controls["discrepancy"], controls["seizure"], controls["awaiting outcome"]) == (inspected - 1, 1, 1, 1)
    assert controls["no discrepancy"] == inspected - 3
    assert controls["hit rate (discrepancy or seizure per outcome)"] == f"{2 / (inspected - 1):.0%}"


def test_charts_are_written_as_readable_png_files(summary, tmp_path):
    paths = plot_trade(summary, tmp_path / "charts", party="CH")
    assert sorted(p.name for p in paths) == ["inspections_and_seizures.png", "trade_by_month.png", "trade_by_partner.png", "trade_by_taxon_group.png"]
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 15_000


def test_an_empty_year_still_gives_tables_and_charts(world, tmp_path):
    summary = summarise_trade(trade_lines(world.engine.database, world.engine.reference, year=2019), year=2019)
    assert summary.by_taxon_group.empty and summary.by_month["declarations"].sum() == 0
    assert len(plot_trade(summary, tmp_path)) == 4
