"""The package's public surface is what __all__ says, and importing it builds nothing heavy."""
from __future__ import annotations

import subprocess
import sys

import riskengine


def test_every_public_name_resolves():
    for name in riskengine.__all__:
        assert getattr(riskengine, name) is not None, name


def test_import_is_cheap_and_loads_no_engine():
    code = "import sys, riskengine; print('durable' in sys.modules, 'sklearn' in sys.modules, 'fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]
