"""The `riskengine` command line."""
from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from riskengine.cli._common import ConfigOption, console, database_of, engine_from, err, require_rules, settings_from
from riskengine.cli.batch_cmd import register as register_batch_command
from riskengine.cli.report_cmds import register as register_report_commands
from riskengine.config import Settings
from riskengine.store.audit import Actor

app = typer.Typer(help="riskengine: customs risk management for CITES controls.", no_args_is_help=True, pretty_exceptions_enable=False)
apikey_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
permits_app = typer.Typer(help="The permit registry.", no_args_is_help=True)
reference_app = typer.Typer(help="CITES reference data.", no_args_is_help=True)
rules_app = typer.Typer(help="Analyst rules: check, test, backtest.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
retention_app = typer.Typer(help="Records past the retention period: archive, then remove.", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(permits_app, name="permits")
app.add_typer(reference_app, name="reference")
app.add_typer(rules_app, name="rules")
app.add_typer(audit_app, name="audit")
app.add_typer(retention_app, name="retention")
app.add_typer(report_app, name="report")
register_report_commands(report_app)
register_batch_command(app)

def cli_actor() -> Actor:
    return Actor(f"cli:{getpass.getuser()}", "admin")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@app.command()
def init(config: ConfigOption = None) -> None:
    """Create or upgrade the database and check the reference data."""
    from riskengine.setup import initialise

    settings = settings_from(config)
    summary = initialise(settings)
    for key, value in summary.items():
        console.print(f"{key}: {value}")


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[Optional[str], typer.Option(help="address to listen on")] = None,
    port: Annotated[Optional[int], typer.Option(help="port")] = None,
    workers: Annotated[Optional[int], typer.Option(help="worker processes (PostgreSQL for more than one)")] = None,
) -> None:
    """Serve the HTTP API with uvicorn."""
    import uvicorn

    settings = settings_from(config)
    workers = workers or settings.server.workers
    if workers > 1 and settings.database.url.startswith("sqlite"):
        raise fail("several workers need a shared server database (PostgreSQL); SQLite serves one worker")
    require_rules(settings)  # here, not as a traceback from each worker's start-up
    if config is not None:
        os.environ["RISKENGINE_CONFIG"] = str(config.resolve())
    uvicorn.run(
        "riskengine.api.server:app_from_environment",
        factory=True,
        host=host or settings.server.host,
        port=port if port is not None else settings.server.port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command()
def assess(file: Annotated[Path, typer.Argument(help="declaration JSON file")], config: ConfigOption = None) -> None:
    """Assess one declaration in-process and print the decision JSON."""
    from pydantic import ValidationError

    from riskengine.schemas import Declaration

    settings = settings_from(config)
    try:
        declaration = Declaration.model_validate_json(file.read_bytes())
    except FileNotFoundError as exc:
        raise fail(f"{file}: no such file") from exc
    except ValidationError as exc:
        raise fail(f"{file}: invalid declaration\n{exc}", 2) from exc
    engine = engine_from(settings)
    try:
        decision = engine.assess(declaration, actor=cli_actor())
    finally:
        engine.close()
    print(decision.model_dump_json(indent=2))


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same world")] = 7,
    directory: Annotated[Path, typer.Option("--dir", help="where the demo keeps its database and model")] = Path("demo"),
    days: Annotated[int, typer.Option(help="days of declaration history")] = 365,
) -> None:
    """Generate a synthetic world, train the model and assess sample declarations."""
    from riskengine.demo import run_demo

    run_demo(seed=seed, directory=directory, days=days, console=console)


@apikey_app.command("create")
def apikey_create(
    name: str,
    role: Annotated[str, typer.Option(help="single_window, officer, analyst, management_authority or admin")],
    config: ConfigOption = None,
) -> None:
    """Create an API key; the key is printed on the last line and never shown again."""
    from riskengine.security import KeyExists, create_key

    try:
        with database_of(settings_from(config)) as database, database.session() as session:
            key = create_key(session, name, role, actor=cli_actor())
    except (ValueError, KeyExists) as exc:
        raise fail(str(exc)) from exc
    console.print(f"API key for {name} ({role}); store it now, it is not shown again:")
    print(key)


@apikey_app.command("revoke")
def apikey_revoke(name: str, config: ConfigOption = None) -> None:
    """Revoke an API key at once."""
    from riskengine.security import revoke_key

    try:
        with database_of(settings_from(config)) as database, database.session() as session:
            revoke_key(session, name, actor=cli_actor())
    except LookupError as exc:
        raise fail(str(exc)) from exc
    console.print(f"revoked {name}")


@permits_app.command("import")
def permits_import(file: Path, config: ConfigOption = None) -> None:
    """Load permits from CSV, JSON lines or CITES e-permit XML (all or nothing)."""
    from riskengine.permits.service import import_permits

    engine = engine_from(settings_from(config))
    try:
        summary = import_permits(engine, file, actor=cli_actor())
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.close()
    console.print(f"{summary['imported']} permits imported ({summary['created']} new, {summary['replaced']} replaced)")


@reference_app.command("lookup")
def reference_lookup(name: str, config: ConfigOption = None) -> None:
    """Print what the reference data says of a taxon (JSON)."""
    from riskengine.setup import load_reference

    reference = load_reference(settings_from(config))
    info = reference.lookup(name)
    if info is None:
        raise fail(f"{name!r} is not a CITES-listed taxon or a known synonym")
    print(json.dumps(info.to_dict(), indent=2, ensure_ascii=False))


@reference_app.command("import")
def reference_import(source: Path, config: ConfigOption = None) -> None:
    """Import UNEP-WCMC exports (listings, suspensions, quotas, code lists) from a folder."""
    from riskengine.reference.wcmc import import_wcmc

    settings = settings_from(config)
    out = settings.resolve(settings.reference.imported_dir)
    report = import_wcmc(source, out)
    console.print(report)
    console.print(f"written to {out}")


def history_or_database(history: Path | None, mapping: str | None, settings: Settings):
    """The history table of a file (through a column mapping), or else the engine's own decisions and outcomes."""
    if history is not None:
        from riskengine.model import read_history

        return read_history(history, mapping)
    from riskengine.outcomes import history_from_database

    with database_of(settings) as database:
        frame = history_from_database(database)
    if frame.empty:
        raise fail("no assessed declarations in the database; pass --history FILE")
    return frame


def _rules_dir(directory: Path | None, config: Path | None) -> Path:
    if directory is not None:
        return directory
    settings = settings_from(config)
    return settings.resolve(settings.rules.dir)


@rules_app.command("check")
def rules_check(directory: Annotated[Optional[Path], typer.Argument(help="rules folder (default: rules.dir)")] = None, config: ConfigOption = None) -> None:
    """Validate every rule file; exit 1 listing every problem (file:line:column)."""
    from riskengine.rulelang.commands import check

    folder = _rules_dir(directory, config)
    problems = check(folder)
    for problem in problems:
        err.print(str(problem), markup=False, highlight=False)
    if problems:
        raise fail(f"{len(problems)} problem(s) in {folder}")
    console.print(f"{folder}: all rule files are valid")


@rules_app.command("test")
def rules_test(directory: Annotated[Optional[Path], typer.Argument(help="rules folder (default: rules.dir)")] = None, config: ConfigOption = None) -> None:
    """Run every rule's hit and miss examples; exit 1 when any fails."""
    from riskengine.rulelang.commands import render_examples, run_examples

    folder = _rules_dir(directory, config)
    results = run_examples(folder)
    console.print(render_examples(results))
    failed = [r for r in results if not r.passed]
    if failed:
        raise fail(f"{len(failed)} of {len(results)} examples failed")
    console.print(f"{len(results)} examples passed")


@rules_app.command("backtest")
def rules_backtest(
    directory: Annotated[Optional[Path], typer.Argument(help="rules folder (default: rules.dir)")] = None,
    history: Annotated[Optional[Path], typer.Option(help="history file (Parquet or CSV); default: the assessed declarations in the database")] = None,
    baseline: Annotated[Optional[Path], typer.Option(help="rules folder to compare against")] = None,
    mapping: Annotated[Optional[str], typer.Option(help="column mapping name or YAML file")] = None,
    out: Annotated[Path, typer.Option(help="CSV file for the table")] = Path("backtest.csv"),
    config: ConfigOption = None,
) -> None:
    """Replay history through the rules: hits, share, hit rate against outcomes, change vs a baseline."""
    from riskengine.backtest import enrich_history, with_history_aggregates
    from riskengine.rulelang import load_rules
    from riskengine.rulelang.commands import backtest, render_backtest
    from riskengine.setup import load_reference

    settings = settings_from(config)
    folder = directory or settings.resolve(settings.rules.dir)
    frame = history_or_database(history, mapping, settings)
    frame = with_history_aggregates(enrich_history(frame, load_reference(settings)))
    table = backtest(load_rules(folder), frame, load_rules(baseline) if baseline else None)
    table.to_csv(out, index=False)
    console.print(render_backtest(table))
    console.print(f"{frame['declaration_id'].nunique()} declarations replayed; table written to {out}")


@app.command()
def train(
    history: Annotated[Optional[Path], typer.Option(help="history file (Parquet or CSV); default: outcomes in the database")] = None,
    out: Annotated[Optional[Path], typer.Option(help="model folder (default: model.path)")] = None,
    mapping: Annotated[Optional[str], typer.Option(help="column mapping name (e.g. kcs) or YAML file")] = None,
    labels: Annotated[Optional[str], typer.Option(help="label column (fraud); 'none' for an unsupervised model")] = "fraud",
    explain_min_score: Annotated[float, typer.Option(min=0.0, max=1.0, help="declarations scored under this get no top features")] = 0.05,
    config: ConfigOption = None,
) -> None:
    """Train the model on a history table, or on assessed declarations and their recorded outcomes."""
    from riskengine.model import train as train_model

    settings = settings_from(config)
    frame = history_or_database(history, mapping, settings)
    target = out or settings.resolve(settings.model.path)
    card = train_model(frame, labels=None if (labels or "").lower() == "none" else labels, out_dir=target,
                       explain_min_score=explain_min_score)
    console.print(f"model {card.version} ({card.mode}) written to {target}")
    for key, value in (getattr(card, "metrics", None) or {}).items():
        console.print(f"  {key}: {value}")


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option(help="model folder written by train")],
    history: Annotated[Path, typer.Option(help="history file to evaluate on (a later period)")],
    mapping: Annotated[Optional[str], typer.Option(help="column mapping name or YAML file")] = None,
    labels: Annotated[str, typer.Option(help="label column")] = "fraud",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Precision, recall and value share at inspection rates of 1, 2, 5 and 10 %, and ROC AUC."""
    from riskengine.model import evaluate as evaluate_model
    from riskengine.model import load_model, read_history

    metrics = evaluate_model(load_model(model), read_history(history, mapping), labels=labels)
    if as_json:
        print(json.dumps(metrics))
        return
    from rich.table import Table

    table = Table(title=f"{model} on {history.name}")
    table.add_column("inspection rate")
    for name in ("precision", "recall", "value_share"):
        table.add_column(name, justify="right")
    for rate in ("1%", "2%", "5%", "10%"):
        cells = [metrics.get(f"{name}@{rate}") for name in ("precision", "recall", "value_share")]
        table.add_row(rate, *("-" if c is None else f"{c:.3f}" for c in cells))
    console.print(table)
    console.print(f"ROC AUC {metrics['auc']:.3f} on {metrics.get('n', '?')} lines")


@app.command()
def replay(
    assessment_id: str,
    model: Annotated[Optional[Path], typer.Option(help="folder of the model version the decision used, if not the current one")] = None,
    config: ConfigOption = None,
) -> None:
    """Recompute a stored decision with its recorded inputs, ruleset and model; exit 1 if it differs."""
    from riskengine.errors import NotFoundError
    from riskengine.replay import replay as replay_decision

    engine = engine_from(settings_from(config))
    try:
        result = replay_decision(engine, assessment_id, model_dir=model)
    except NotFoundError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.close()
    stored = result.stored
    console.print(f"assessment {assessment_id}: stored {stored.decision}/{stored.lane} score {stored.score}, "
                  f"recomputed {result.recomputed['decision']}/{result.recomputed['lane']} score {result.recomputed['score']}")
    if not result.identical:
        for difference in result.differences:
            err.print(difference, markup=False)
        raise fail("the recomputed decision differs from the stored one")
    console.print("identical")


@report_app.command("rules")
def report_rules(
    start: Annotated[Optional[str], typer.Option("--from", help="first day (YYYY-MM-DD)")] = None,
    end: Annotated[Optional[str], typer.Option("--to", help="last day (YYYY-MM-DD), inclusive")] = None,
    office: Annotated[Optional[str], typer.Option(help="one customs office")] = None,
    min_selections: Annotated[int, typer.Option(help="selections from which a rule without hits is flagged")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Inspection rate per lane, hit rate per rule and lane, targeted against random selection."""
    import datetime as dt

    from rich.table import Table

    from riskengine.stats import compute_stats

    first = dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc) if start else None
    last = dt.datetime.fromisoformat(end).replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1) if end else None
    with database_of(settings_from(config)) as database:
        figures = compute_stats(database, start=first, end=last, office=office, min_selections=min_selections)
    if as_json:
        print(json.dumps(figures, default=str))
        return

    def pct(value) -> str:
        return "-" if value is None else f"{100 * value:.1f} %"

    lanes = Table(title=f"{figures['assessments']} assessments, {pct(figures['inspection_rate'])} inspected")
    for column in ("lane", "assessments", "share", "outcomes", "hit rate"):
        lanes.add_column(column, justify="right" if column != "lane" else "left")
    for lane, row in figures["lanes"].items():
        lanes.add_row(lane, str(row["assessments"]), pct(row["share"]), str(row["outcomes"]), pct(row["hit_rate"]))
    for name, row in figures["selection"].items():
        lanes.add_row(f"({name})", "", "", str(row["outcomes"]), pct(row["hit_rate"]))
    console.print(lanes)
    rules = Table(title="Rules")
    for column in ("rule", "selections", "outcomes", "hits", "hit rate", "review"):
        rules.add_column(column, justify="left" if column == "rule" else "right")
    for row in figures["rules"]:
        rules.add_row(row["rule_id"], str(row["selections"]), str(row["outcomes"]), str(row["hits"]), pct(row["hit_rate"]),
                      "[red]review[/red]" if row["review"] else "")
    console.print(rules)
    if figures["overrides"]:
        console.print(f"{len(figures['overrides'])} lane override(s) by officers:")
        for row in figures["overrides"]:
            console.print(f"  {row['assessment_id']}: {row['lane']} -> {row['override']} ({row['reason']})")


@audit_app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Walk the hash chain; exit 1 naming the first record altered, removed or out of order."""
    from riskengine.auditing import verify_audit

    with database_of(settings_from(config)) as database:
        count, problem = verify_audit(database)
    if problem is not None:
        raise fail(f"audit chain broken at record {problem.seq}: {problem.message} ({count} records before it are intact)")
    console.print(f"audit chain intact: {count} records")


@audit_app.command("export")
def audit_export(
    start: Annotated[str, typer.Option("--from", help="first day (YYYY-MM-DD), inclusive")],
    end: Annotated[str, typer.Option("--to", help="last day (YYYY-MM-DD), inclusive")],
    out: Annotated[Path, typer.Option(help="JSON lines archive to write")] = Path("audit.jsonl"),
    config: ConfigOption = None,
) -> None:
    """Export the audit records of a period as JSON lines with a sign-off line."""
    import datetime as dt

    from riskengine.auditing import export_audit

    try:
        first = dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc)
        last = dt.datetime.fromisoformat(end).replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
    except ValueError as exc:
        raise fail(f"--from/--to: {exc}", 2) from exc
    with database_of(settings_from(config)) as database:
        signoff = export_audit(database, out, start=first, end=last, signed_by=cli_actor().name)
    console.print(f"{signoff['records']} records written to {out} (sha256 {signoff['sha256'][:16]}...)")


@retention_app.command("purge")
def retention_purge(
    archive: Annotated[Optional[Path], typer.Option(help="JSON lines archive to write what is removed to (required unless --dry-run)")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="day the retention period is counted back from (YYYY-MM-DD, default today; not later)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would go; write and remove nothing")] = False,
    config: ConfigOption = None,
) -> None:
    """Archive, then remove, the declarations and permits past `retention.years` (5 at least).

    A declaration goes when it was lodged, assessed and its outcome recorded, and every permit it
    cites expired, more than that many years ago; a permit when it expired then and nothing that
    stays cites it. Each chunk is on disk in the archive before it is deleted; the audit log stays whole.
    """
    import datetime as dt

    from rich.progress import Progress
    from rich.table import Table

    from riskengine.retention import purge

    today = dt.datetime.now(dt.timezone.utc).date()
    try:
        day = dt.date.fromisoformat(as_of) if as_of else today
    except ValueError as exc:
        raise fail(f"--as-of: {exc}", 2) from exc
    if day > today:
        raise fail(f"--as-of {day} is after today: records are never counted as older than they are", 2)
    if archive is None and not dry_run:
        raise fail("--archive FILE is required: nothing is removed before it is archived (or give --dry-run)", 2)
    settings = settings_from(config)
    with database_of(settings) as database, Progress(console=console, transient=True) as bar:
        task = bar.add_task("archiving and removing", total=None)
        try:
            report = purge(database, years=settings.retention.years, as_of=day, archive=archive, actor=cli_actor(),
                           dry_run=dry_run, progress=lambda n: bar.advance(task, n))
        except FileExistsError as exc:
            raise fail(str(exc), 2) from exc
    verb = "would be removed" if dry_run else "archived and removed"
    table = Table(title=f"records {verb}: retention {report.years} years, horizon {report.horizon}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for year, count in sorted(report.by_year.items()):
        table.add_row(f"declaration versions lodged in {year}", f"{count:,}")
    for label, count in (("declaration versions", report.declarations), ("assessments", report.assessments),
                         ("outcomes", report.outcomes), ("permits", report.permits)):
        table.add_row(label, f"{count:,}")
    console.print(table)
    if report.archive is not None:
        console.print(f"archive {report.archive} (sha256 {report.sha256[:16]}...)")


@retention_app.command("verify")
def retention_verify(archive: Annotated[Path, typer.Argument(help="archive written by `retention purge`")]) -> None:
    """Check an archive on its own (sign-off, SHA-256, counts); exit 1 naming what is wrong."""
    from riskengine.retention import verify_archive

    if not archive.is_file():
        raise fail(f"{archive}: no such file", 2)
    signoff, problems = verify_archive(archive)
    if problems:
        raise fail(f"{archive}: " + "; ".join(problems))
    console.print(f"{archive}: intact, {signoff['declarations']:,} declaration versions and {signoff['permits']:,} permits "
                  f"removed as of {signoff['as_of']} ({signoff['years']} years), signed by {signoff['signed_by']}")


def main() -> None:  # pragma: no cover - console entry for `python -m riskengine`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
