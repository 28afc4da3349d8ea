"""What every command module of the CLI shares: the consoles, the --config option and the settings it names."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from riskengine.config import ConfigError, Settings, load_settings

__all__ = ["ConfigOption", "console", "database_of", "engine_from", "err", "require_rules", "settings_from"]

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Optional[Path], typer.Option("--config", "-c", help="config file (default ./config.yaml)")]


def settings_from(config: Path | None) -> Settings:
    """The settings of `config` (and the environment); a bad file exits 2 with the reason."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@contextlib.contextmanager
def database_of(settings: Settings):
    """The configured database for one command, disposed of when the command ends."""
    from riskengine.store.db import Database

    database = Database(settings.database.url)
    try:
        yield database
    finally:
        database.dispose()


def _rules_refused(exc) -> typer.Exit:
    """Rules that cannot be put in force (a RuleLoadError): every problem printed, exit 2."""
    err.print(f"[red]error:[/red] the rules to put in force cannot be loaded (rules.dir), so nothing was done:\n{exc}")
    return typer.Exit(2)


def require_rules(settings: Settings) -> None:
    """Exit 2 before starting anything that decides if the configured rules cannot be put in force."""
    from riskengine.rulelang import RuleLoadError, load_rules

    try:
        load_rules(settings.resolve(settings.rules.dir), in_force=True)
    except RuleLoadError as exc:
        raise _rules_refused(exc) from exc


def engine_from(settings: Settings):
    """The engine for one command; rules that cannot be put in force exit 2 with every problem."""
    from riskengine.engine import Engine
    from riskengine.rulelang import RuleLoadError

    try:
        return Engine.from_settings(settings)
    except RuleLoadError as exc:
        raise _rules_refused(exc) from exc
