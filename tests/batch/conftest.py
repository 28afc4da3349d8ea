"""A small demo world on SQLite, with the shipped rules and a model trained on its history."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from riskengine.config import Settings


@dataclass
class DemoWorld:
    settings: Settings
    world: object
    directory: Path


@pytest.fixture(scope="package")
def demo_world(tmp_path_factory) -> DemoWorld:
    from riskengine.demo import demo_settings
    from riskengine.engine import Engine
    from riskengine.model import train
    from riskengine.permits.service import put_one
    from riskengine.setup import initialise
    from riskengine.store.audit import Actor
    from riskengine.store.history import import_history
    from riskengine.synth import generate_world, history_frame

    directory = tmp_path_factory.mktemp("batch-world")
    settings = demo_settings(directory, seed=3)
    world = generate_world(seed=3, days=40)
    initialise(settings)
    engine = Engine.from_settings(settings)
    try:
        for permit in world.permits:
            put_one(engine, permit, actor=Actor("test", "admin"))
        with engine.database.session() as session:
            import_history(session, (entry.declaration for entry in world.history))
    finally:
        engine.close()
    train(history_frame(world), labels="fraud", out_dir=settings.resolve(settings.model.path), progress=False)
    return DemoWorld(settings=settings, world=world, directory=directory)
