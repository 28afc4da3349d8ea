"""`riskengine demo`: a synthetic year of CITES trade, a trained model and a handful of live decisions."""
from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

import riskengine
from riskengine.config import load_settings
from riskengine.store.audit import Actor

__all__ = ["run_demo", "shipped_rules_dir"]

LANE_STYLE = {"red": "bold red", "yellow": "yellow", "blue": "blue", "green": "green"}


def shipped_rules_dir() -> Path:
    return Path(riskengine.__file__).resolve().parents[1] / "rules"


def demo_settings(directory: Path, *, seed: int):
    directory = directory.resolve()
    return load_settings(
        None,
        database={"url": f"sqlite:///{directory / 'riskengine.db'}"},
        model={"path": str(directory / "model")},
        rules={"dir": str(shipped_rules_dir())},
        reference={"imported_dir": str(directory / "reference")},
        decision={"random_salt": f"demo-salt-{seed}"},
    )


def run_demo(*, seed: int, directory: Path, days: int = 365, console: Console | None = None) -> list[dict]:
    """Build the world in `directory` (replacing an earlier demo there) and print what the engine decided."""
    from riskengine.engine import Engine
    from riskengine.model import train
    from riskengine.permits.service import put_one
    from riskengine.setup import initialise
    from riskengine.store.history import import_history
    from riskengine.synth import generate_world, history_frame

    console = console or Console()
    if directory.exists():
        for name in ("riskengine.db", "riskengine.db-wal", "riskengine.db-shm"):
            (directory / name).unlink(missing_ok=True)
        shutil.rmtree(directory / "model", ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(directory, seed=seed)
    actor = Actor("demo", "admin")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        step = progress.add_task("generating a synthetic year of trade", total=1)
        world = generate_world(seed=seed, days=days)
        progress.update(step, completed=1)

        step = progress.add_task("creating the database", total=1)
        initialise(settings)
        progress.update(step, completed=1)

        engine = Engine.from_settings(settings)
        try:
            step = progress.add_task("loading Management Authority permits", total=len(world.permits))
            for permit in world.permits:
                put_one(engine, permit, actor=actor)
                progress.advance(step)

            step = progress.add_task("loading declaration history", total=len(world.history))
            with engine.database.session() as session:
                import_history(session, (entry.declaration for entry in world.history))
            progress.update(step, completed=len(world.history))

            step = progress.add_task("training the model on inspection outcomes", total=1)
            frame = history_frame(world)
            card = train(frame, labels="fraud", out_dir=settings.resolve(settings.model.path), progress=False)
            progress.update(step, completed=1)
        finally:
            engine.close()

        engine = Engine.from_settings(settings)  # a fresh engine loads the model just trained, as the server would
        results = []
        try:
            step = progress.add_task("assessing sample declarations", total=len(world.samples))
            for label, declaration in world.samples:
                decision = engine.assess(declaration, actor=Actor("demo-single-window", "single_window"))
                results.append({"label": label, "decision": decision})
                progress.advance(step)
        finally:
            engine.close()

    _print_summary(console, world, card, results, directory)
    return results


def _reason_text(reason) -> str:
    if reason.source == "permit":
        return f"{reason.code}: {reason.message}"
    if reason.source == "rule":
        return f"rule {reason.rule_id}: {reason.message}"
    if reason.source == "model":
        features = ", ".join(reason.top_features or [])
        return f"model {reason.score:.2f}" + (f" ({features})" if features else "")
    return f"{reason.code}: {reason.message}"


def _print_summary(console: Console, world, card, results: list[dict], directory: Path) -> None:
    history = Table(title="The synthetic world", show_header=False)
    history.add_row("permits issued", str(len(world.permits)))
    history.add_row("declarations in history", str(len(world.history)))
    history.add_row("with a planted violation", str(sum(1 for e in world.history if e.violation)))
    history.add_row("inspected", str(sum(1 for e in world.history if e.inspected)))
    history.add_row("model", f"{getattr(card, 'version', card)} ({getattr(card, 'mode', '')})")
    console.print(history)

    table = Table(title="Decisions on sample declarations", show_lines=True)
    table.add_column("sample")
    table.add_column("lane")
    table.add_column("score", justify="right")
    table.add_column("reasons")
    for result in results:
        decision = result["decision"]
        reasons = [_reason_text(r) for r in decision.reasons if r.source != "model"]
        model = next((r for r in decision.reasons if r.source == "model"), None)
        if model is not None:
            reasons.append(_reason_text(model))
        lane = f"[{LANE_STYLE[decision.lane]}]{decision.lane}[/] ({decision.decision})"
        table.add_row(result["label"], lane, f"{decision.score:.1f}", "\n".join(reasons[:6]) or "-")
    console.print(table)
    home = directory.resolve()
    console.print(f"The database and the model are in {directory}/; serve them with\n"
                  f"  RISKENGINE_DATABASE__URL=sqlite:///{home / 'riskengine.db'} "
                  f"RISKENGINE_MODEL__PATH={home / 'model'} RISKENGINE_RULES__DIR={shipped_rules_dir()} riskengine serve")
