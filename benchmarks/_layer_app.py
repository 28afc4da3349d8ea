"""riskengine's HTTP layer with nothing behind it: the engine answers every declaration with one
decision made at start-up, so only what the API itself does per request is left (uvicorn, FastAPI,
authentication and its revocation read, body validation, group-commit queue, logging, metrics).

Not riskengine as it runs: a measuring device. `bench_http.py` starts it as
`uvicorn _layer_app:app` with RISKENGINE_LAYER_CONFIG naming a config.yaml of an initialised
database, to show how far the layer alone would go on this machine.
"""
import json
import os

from riskengine.api.app import create_app
from riskengine.config import load_settings
from riskengine.engine import Engine
from riskengine.schemas import Declaration
from riskengine.store.audit import Actor

from bench_http import declaration_template

settings = load_settings(os.environ["RISKENGINE_LAYER_CONFIG"])
engine = Engine.from_settings(settings)
_declaration = Declaration.model_validate_json(
    json.dumps(declaration_template()).replace("@ID@", "LAYER-0").replace("@IMPORTER@", "CH-IMP-0"))
_decision = engine.assess(_declaration, actor=Actor("bench", "single_window"))
engine.assess = lambda declaration, actor: _decision
engine.assess_many = lambda requests: [_decision for _ in requests]
app = create_app(settings, engine=engine)
