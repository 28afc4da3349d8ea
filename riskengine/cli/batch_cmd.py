"""`riskengine batch IN --out OUT`: bulk scoring and backtests over a file of declarations."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from riskengine.cli._common import ConfigOption, console, err, require_rules, settings_from

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the `batch` command to the main CLI."""
    app.command("batch")(batch)


def batch(
    source: Annotated[Path, typer.Argument(help="declarations: .parquet or .csv (one row per line, history columns) or .jsonl (one declaration per line)")],
    out: Annotated[Path, typer.Option(help="decisions Parquet file (one row per declaration)")],
    workers: Annotated[int, typer.Option(help="local worker processes")] = 1,
    dask: Annotated[Optional[str], typer.Option(help="address of an existing Dask scheduler (tcp://host:8786)")] = None,
    chunk_lines: Annotated[int, typer.Option(help="lines per chunk handed to a worker")] = 50_000,
    config: ConfigOption = None,
) -> None:
    """Assess every declaration of SOURCE as the server would, without reserving or recording anything.

    Permit quantities and history aggregates are those of the database when the run starts.
    """
    from riskengine.batch import run_batch

    if not source.is_file():
        err.print(f"[red]error:[/red] {source}: no such file")
        raise typer.Exit(2)
    if dask and workers > 1:
        err.print("[red]error:[/red] give --workers or --dask, not both")
        raise typer.Exit(2)
    settings = settings_from(config)
    require_rules(settings)
    try:
        summary = run_batch(source, out, settings=settings, workers=workers, dask=dask, chunk_lines=chunk_lines)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    rate = summary.lines / summary.seconds if summary.seconds else 0.0
    console.print(f"{summary.declarations} declarations ({summary.lines} lines) in {summary.seconds:.1f} s, "
                  f"{rate:,.0f} lines/s -> {out}")
    console.print("lanes: " + ", ".join(f"{lane} {n}" for lane, n in sorted(summary.lanes.items())))
    if summary.errors:
        console.print(f"[yellow]{summary.errors} declarations could not be validated (see the error column)[/yellow]")
    console.print(f"ruleset {summary.ruleset_version}, model {summary.model_version or 'unavailable'}")
