"""The trainer notebooks run top to bottom on the small data the project ships or generates."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_all_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_explore_history.ipynb", "02_train_and_evaluate.ipynb",
                                           "03_rule_performance.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path):
    notebook = nbformat.read(path, as_version=4)
    # kernel "python3" is the venv's ipykernel (share/jupyter/kernels/python3 under sys.prefix)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
