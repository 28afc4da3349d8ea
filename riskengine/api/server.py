"""Entry point for uvicorn workers: builds the app from the config file named in RISKENGINE_CONFIG."""
from __future__ import annotations

import os

from riskengine.api.app import create_app
from riskengine.config import load_settings
from riskengine.logs import configure_logging


def app_from_environment():
    """Factory for `uvicorn --factory`, so every worker process builds its own engine."""
    configure_logging(os.environ.get("RISKENGINE_LOG_LEVEL", "INFO"))
    return create_app(load_settings(os.environ.get("RISKENGINE_CONFIG") or None))
