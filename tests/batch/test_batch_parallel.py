"""The same partitions on local worker processes and on a Dask cluster give the single-process result."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest

from riskengine.batch import build_stages, run_batch
from riskengine.history import declaration_rows


@pytest.fixture(scope="module")
def source(demo_world, tmp_path_factory):
    path = tmp_path_factory.mktemp("batch-parallel") / "declarations.parquet"
    rows = [row for entry in demo_world.world.history for row in declaration_rows(entry.declaration)]
    pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def serial(demo_world, source, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch-serial") / "decisions.parquet"
    run_batch(source, out, settings=demo_world.settings, chunk_lines=300)
    return pd.read_parquet(out)


def _spools() -> set[Path]:
    places = [Path("/dev/shm"), Path(tempfile.gettempdir())]
    return {p for place in places if place.is_dir() for p in place.glob("riskengine-batch-*")}


def test_local_worker_processes_give_the_single_process_decisions(demo_world, source, serial, tmp_path):
    before = _spools()
    out = tmp_path / "decisions.parquet"
    summary = run_batch(source, out, settings=demo_world.settings, workers=2, chunk_lines=300)
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial)
    assert summary.declarations == len(serial)
    assert _spools() == before  # the chunks and decisions spooled to the workers are gone


def test_a_failed_local_run_leaves_no_spooled_chunks(demo_world, source, tmp_path, monkeypatch):
    import riskengine.batch._run as run

    def broken(stages, frame):
        raise RuntimeError("stage failed")

    monkeypatch.setattr(run, "assess_lines", broken)  # the forked workers inherit it
    before = _spools()
    with pytest.raises(RuntimeError, match="stage failed"):
        run_batch(source, tmp_path / "decisions.parquet", settings=demo_world.settings, workers=2, chunk_lines=300)
    assert _spools() == before


def test_a_dask_cluster_runs_the_same_partitions(demo_world, source, serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    stages = build_stages(demo_world.settings)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out = tmp_path / "decisions.parquet"
        summary = run_batch(source, out, settings=demo_world.settings, dask=cluster.scheduler_address,
                            chunk_lines=300, stages=stages)
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial)
    assert summary.declarations == len(serial)


def test_the_cli_writes_decisions_and_prints_the_rate(demo_world, source, serial, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from riskengine.cli.main import app

    import yaml

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(demo_world.settings.model_dump(mode="json", exclude={"config_file"})), encoding="utf-8")
    out = tmp_path / "cli.parquet"
    result = CliRunner().invoke(app, ["batch", str(source), "--out", str(out), "--config", str(config), "--chunk-lines", "300"])
    assert result.exit_code == 0, result.output
    assert "lines/s" in result.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial)
