"""`riskengine report annual` and `riskengine report trade`: the CITES annual report and briefing statistics."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from riskengine.cli._common import ConfigOption, console, err, settings_from

__all__ = ["register"]


def register(report_app: typer.Typer) -> None:
    """Add the report commands to the `report` sub-command."""
    report_app.command("annual")(annual)
    report_app.command("trade")(trade)


def annual(
    year: Annotated[int, typer.Option(help="calendar year of the report (by declaration date, UTC)")],
    out: Annotated[Path, typer.Option(help="FILE.xlsx (four sheets) or FILE.csv (writes FILE_exports.csv, FILE_imports.csv, FILE_seizures.csv, FILE_problems.csv)")],
    party: Annotated[Optional[str], typer.Option(help="ISO code of the reporting Party (default: the country most of the data imports to or exports from)")] = None,
    strict: Annotated[bool, typer.Option(help="exit with status 1 when validation finds problems (files are written anyway)")] = False,
    config: ConfigOption = None,
) -> None:
    """Write the CITES annual trade report (e-upload layout) of what customs cleared in YEAR."""
    from riskengine.reports import build_annual_report, write_annual_report

    if out.suffix.lower() not in (".csv", ".xlsx"):
        err.print(f"[red]error:[/red] {out}: --out must end in .csv or .xlsx")
        raise typer.Exit(2)
    database, reference = _store(config)
    try:
        report = build_annual_report(database, reference, year=year, party=party)
    finally:
        database.dispose()
    written = write_annual_report(report, out)
    console.print(f"annual report {year} of {report.party or '(no Party: no declarations that year)'}: "
                  f"{len(report.exports)} export records, {len(report.imports)} import records, {len(report.seizures)} seized lines")
    _print_problems(report.problems)
    for path in written:
        console.print(f"wrote {path}")
    if strict and len(report.problems):
        raise typer.Exit(1)


def trade(
    year: Annotated[Optional[int], typer.Option(help="calendar year (default: every year in the database)")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="folder to write PNG charts into")] = None,
    party: Annotated[Optional[str], typer.Option(help="Party named in the chart titles (default: from the data)")] = None,
    config: ConfigOption = None,
) -> None:
    """Print trade and control statistics of CITES declarations; with --plot, write PNG charts."""
    from riskengine.reports import plot_trade, summarise_trade, trade_lines

    database, reference = _store(config)
    try:
        lines = trade_lines(database, reference, year=year)
        if party is None:
            party = _party_of(database, year)
    finally:
        database.dispose()
    summary = summarise_trade(lines, year=year)
    for title, frame in summary.tables().items():
        console.print(_rich_table(frame, title=f"CITES trade {title}" + (f", {year}" if year else "")))
    if plot is not None:
        for path in plot_trade(summary, plot, party=party):
            console.print(f"wrote {path}")


def _party_of(database, year: int | None) -> str | None:
    import datetime as dt

    from sqlalchemy import select

    from riskengine.reports.annual import default_party
    from riskengine.store.tables import DeclarationRow

    with database.session() as session:
        query = select(DeclarationRow.body)
        if year is not None:
            start = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc)
            query = query.where(DeclarationRow.lodged_at >= start, DeclarationRow.lodged_at < start.replace(year=year + 1))
        return default_party(list(session.execute(query).scalars()))


def _store(config: Path | None):
    from riskengine.setup import load_reference
    from riskengine.store.db import Database

    settings = settings_from(config)
    return Database(settings.database.url), load_reference(settings)


def _print_problems(problems) -> None:
    if not len(problems):
        console.print("[green]validation: no problems[/green]")
        return
    console.print(_rich_table(problems, title=f"validation: {len(problems)} problem(s) to correct before upload"))


def _rich_table(frame, *, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        numeric = frame[column].map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all() and len(frame)
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*("" if value is None else str(value) for value in row))
    return table
