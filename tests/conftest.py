"""Fixtures shared by the whole suite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RISKENGINE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The checkout's root (where rules/, data/ and config.yaml live)."""
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real reference data beside the checkout (../shared/data); tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (set RISKENGINE_SHARED_DATA)")
    return SHARED_DATA
