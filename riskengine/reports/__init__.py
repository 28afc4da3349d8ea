"""Reports from what customs cleared: the CITES annual trade report and briefing statistics.

`build_annual_report` reads the store into the e-upload tables (exports, imports) plus seizures
and the validation problems; `write_annual_report` writes them as CSV or Excel. `trade_lines`,
`summarise_trade` and `plot_trade` give the tables and PNG charts of a Management Authority briefing.
"""
from __future__ import annotations

from riskengine.reports.annual import (
    EXPORTER_COLUMNS,
    IMPORTER_COLUMNS,
    SEIZURE_COLUMNS,
    AnnualReport,
    build_annual_report,
    default_party,
    upload_unit,
    write_annual_report,
)
from riskengine.reports.trade import TradeSummary, plot_trade, summarise_trade, trade_lines
from riskengine.reports.validate import PROBLEM_COLUMNS, Problem, validate_records, validate_report

__all__ = [
    "EXPORTER_COLUMNS",
    "IMPORTER_COLUMNS",
    "PROBLEM_COLUMNS",
    "SEIZURE_COLUMNS",
    "AnnualReport",
    "Problem",
    "TradeSummary",
    "build_annual_report",
    "default_party",
    "plot_trade",
    "summarise_trade",
    "trade_lines",
    "upload_unit",
    "validate_records",
    "validate_report",
    "write_annual_report",
]
