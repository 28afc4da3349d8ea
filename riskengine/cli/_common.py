"""What every command module of the CLI shares: the consoles, the --config option and the settings it names."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from riskengine.config import ConfigError, Settings, load_settings

__all__ = ["ConfigOption", "console", "database_of", "err", "settings_from"]

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
