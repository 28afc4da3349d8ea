"""`python -m riskengine`: the same command line as the `riskengine` script."""
from riskengine.cli.main import app

app(prog_name="riskengine")
