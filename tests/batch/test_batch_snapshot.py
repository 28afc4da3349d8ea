"""Batch reads from the registry what the input needs, and decides as it would with the whole registry."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from riskengine.batch import assess_lines, build_stages, cited_permits
from riskengine.batch._snapshot import quota_usage_in
from riskengine.history import declaration_rows
from riskengine.permits.quotas import quota_usage
from riskengine.store.db import Database


@pytest.fixture(scope="module")
def declarations(demo_world):
    return [entry.declaration for entry in demo_world.world.history] + [d for _, d in demo_world.world.samples]


@pytest.fixture(scope="module")
def frame(declarations):
    return pd.DataFrame([row for d in declarations for row in declaration_rows(d)])


def test_the_cited_keys_are_read_from_every_input_format(declarations, frame, tmp_path):
    expected = {(p.issuing_country, p.number) for d in declarations for item in d.items for p in item.permits}
    assert len(expected) > 50
    frame.to_parquet(tmp_path / "in.parquet")
    frame.to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "in.jsonl").write_text("".join(d.model_dump_json() + "\n" for d in declarations) + "{not json\n",
                                       encoding="utf-8")
    for name in ("in.parquet", "in.csv", "in.jsonl"):
        assert cited_permits(tmp_path / name) == expected, name


def test_keys_are_normalised_as_the_declaration_schema_reads_them(tmp_path):
    rows = pd.DataFrame({"declaration_id": ["A", "B"], "permits": [" cm:CM/EX/1 ;zm: ZM/2 ", None]})
    rows.to_parquet(tmp_path / "in.parquet")
    assert cited_permits(tmp_path / "in.parquet") == {("CM", "CM/EX/1"), ("ZM", "ZM/2")}


def test_a_snapshot_of_the_cited_permits_decides_as_the_whole_registry(demo_world, declarations, frame):
    full = build_stages(demo_world.settings)
    some = declarations[: len(declarations) // 3]  # a third of the input: the rest of the registry is not read
    part = pd.DataFrame([row for d in some for row in declaration_rows(d)])
    cited = {(p.issuing_country, p.number) for d in some for item in d.items for p in item.permits}
    small = build_stages(demo_world.settings, cited=cited)
    assert 0 < len(small.snapshot.registry) < len(full.snapshot.registry)
    assert set(small.snapshot.registry) <= cited | {
        (line.country_of_origin, line.origin_permit) for permit in small.snapshot.registry.values()
        for line in permit.lines if line.origin_permit}
    assert any(p.type == "re-export" for p in small.snapshot.registry.values())
    a, b = assess_lines(full, part), assess_lines(small, part)
    pd.testing.assert_frame_equal(a, b)
    sources = {r["source"] for text in b["reasons"] for r in json.loads(text)}
    assert "permit" in sources


def test_quota_usage_from_the_cited_snapshot_equals_the_online_count(demo_world, tmp_path):
    import sqlite3

    from sqlalchemy import update

    from riskengine.batch import read_snapshot
    from riskengine.store.tables import PermitLineRow

    # a copy of the demo database in which every permit line has been partly used and reserved
    source = demo_world.settings.database.url.removeprefix("sqlite:///")
    with sqlite3.connect(source) as src, sqlite3.connect(tmp_path / "copy.db") as dst:
        src.backup(dst)
    database = Database(f"sqlite:///{tmp_path / 'copy.db'}")
    reference = build_stages(demo_world.settings, cited=set()).reference
    counted = 0
    try:
        with database.session() as session:
            session.execute(update(PermitLineRow).values(quantity_used=PermitLineRow.quantity * 0.25,
                                                          quantity_reserved=PermitLineRow.quantity * 0.125))
            session.commit()
        small = read_snapshot(database, salt="s", cited=set(), reference=reference)
        assert small.registry == {}
        with database.session() as session:
            for quota in reference.controls.all_quotas():
                for country in ([quota.country] if quota.country else ["CM", "ZM", "ZA", "KE", "TZ", "VN", "ID"]):
                    for year in (2025, 2026, 2027):
                        online = quota_usage(session, quota, country, year, reference=reference)
                        assert quota_usage_in(small, quota, country, year, reference=reference) == \
                            pytest.approx(online, rel=1e-12, abs=0), (quota, country, year)
                        counted += online > 0
    finally:
        database.dispose()
    assert counted > 0  # the demo world issues export permits under quotas
