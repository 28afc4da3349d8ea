"""Batch and online give the same decisions for the same declarations, registry state and versions.

Online here is `Engine.prepare` + `Engine.evaluate`, the stage chain `Engine.assess` runs before its
write transaction: it reserves nothing, so every declaration is judged against the same registry
state, which is what batch's snapshot holds.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from riskengine.batch import assess_lines, build_stages, run_batch
from riskengine.engine import Engine
from riskengine.history import declaration_rows
from riskengine.schemas import Reason


def _reasons(items) -> list[dict]:
    return [Reason.model_validate(r).model_dump(mode="json") for r in items]


@pytest.fixture(scope="module")
def declarations(demo_world):
    return [entry.declaration for entry in demo_world.world.history] + [d for _, d in demo_world.world.samples]


@pytest.fixture(scope="module")
def online(demo_world, declarations):
    engine = Engine.from_settings(demo_world.settings)
    try:
        return {(d.declaration_id, d.version): engine.evaluate(engine.prepare(d)) for d in declarations}
    finally:
        engine.close()


@pytest.fixture(scope="module")
def parquet_input(demo_world, declarations, tmp_path_factory):
    path = tmp_path_factory.mktemp("batch-in") / "declarations.parquet"
    pd.DataFrame([row for d in declarations for row in declaration_rows(d)]).to_parquet(path)
    return path


def _assert_same(online, decisions: pd.DataFrame, model_version: str) -> None:
    assert len(decisions) == len(online)
    assert decisions["error"].isna().all()
    for row in decisions.itertuples():
        expected = online[(row.declaration_id, row.version)]
        assert (row.lane, row.decision, row.score, row.random_selection) == (
            expected.lane, expected.decision, expected.score, expected.random_selection), row.declaration_id
        assert _reasons(json.loads(row.reasons)) == _reasons(expected.reasons), row.declaration_id
        assert row.model_version == model_version


def test_batch_gives_the_online_lane_score_and_reasons_for_every_demo_declaration(demo_world, online, parquet_input, tmp_path):
    out = tmp_path / "decisions.parquet"
    summary = run_batch(parquet_input, out, settings=demo_world.settings)
    decisions = pd.read_parquet(out)
    _assert_same(online, decisions, summary.model_version)
    assert summary.model_version is not None
    # the world plants violations: the comparison covers every kind of reason
    sources = {r["source"] for text in decisions["reasons"] for r in json.loads(text)}
    assert {"permit", "rule", "model"} <= sources
    assert set(decisions["lane"]) == {"green", "blue", "yellow", "red"}


def test_small_chunks_cut_no_declaration_and_change_no_decision(demo_world, online, parquet_input, tmp_path):
    out = tmp_path / "decisions.parquet"
    run_batch(parquet_input, out, settings=demo_world.settings, chunk_lines=97)
    decisions = pd.read_parquet(out)
    assert not decisions.duplicated(["declaration_id", "version"]).any()
    _assert_same(online, decisions, decisions["model_version"].iloc[0])


def test_json_lines_and_csv_inputs_decide_as_parquet(demo_world, online, declarations, parquet_input, tmp_path):
    jsonl = tmp_path / "declarations.jsonl"
    jsonl.write_text("".join(d.model_dump_json() + "\n" for d in declarations), encoding="utf-8")
    csv = tmp_path / "declarations.csv"
    pd.read_parquet(parquet_input).to_csv(csv, index=False)
    for source in (jsonl, csv):
        out = tmp_path / f"{source.suffix[1:]}.parquet"
        run_batch(source, out, settings=demo_world.settings, chunk_lines=500)
        _assert_same(online, pd.read_parquet(out), pd.read_parquet(out)["model_version"].iloc[0])


def test_batch_reserves_nothing_and_records_nothing(demo_world, parquet_input, tmp_path):
    from sqlalchemy import func, select

    from riskengine.store.db import Database
    from riskengine.store.tables import Assessment, AuditRecord, PermitLineRow

    database = Database(demo_world.settings.database.url)

    def state():
        with database.session() as session:
            return (session.execute(select(func.count()).select_from(Assessment)).scalar_one(),
                    session.execute(select(func.count()).select_from(AuditRecord)).scalar_one(),
                    session.execute(select(func.sum(PermitLineRow.quantity_reserved + PermitLineRow.quantity_used))).scalar_one())

    before = state()
    run_batch(parquet_input, tmp_path / "out.parquet", settings=demo_world.settings)
    assert state() == before
    database.dispose()


def test_an_invalid_cites_declaration_gets_an_error_row_not_a_decision(demo_world):
    stages = build_stages(demo_world.settings)
    d = next(e.declaration for e in demo_world.world.history if any(i.permits for i in e.declaration.items))
    rows = declaration_rows(d)
    rows[0]["country_of_export"] = "??"
    decisions = assess_lines(stages, pd.DataFrame(rows))
    assert decisions.loc[0, "decision"] is None
    assert "invalid declaration" in decisions.loc[0, "error"]
