"""Errors raised while reading reference data.

    ReferenceDataError(ValueError)   a shipped or imported reference file is malformed
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["ReferenceDataError"]


class ReferenceDataError(ValueError):
    """A reference data file is missing, lacks a column or holds a value that cannot be used."""

    code = "REFERENCE_DATA_INVALID"

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None, field: str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.field = field
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}" if line is not None else str(self.path)
            where += f" [{field}]" if field else ""
            where += ": "
        super().__init__(where + message)
