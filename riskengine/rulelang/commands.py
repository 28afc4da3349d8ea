"""The analysts' commands as plain functions: check, test (run the examples), backtest.

The CLI wires these to `riskengine rules check|test|backtest`; `render_*` give rich Tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from ._batch import evaluate_frame
from ._durable import OnlineEvaluator, durable_problems
from ._errors import Problem, RuleLoadError
from ._fields import FIELDS
from ._loader import load_rules
from ._model import Rule, RuleSet

__all__ = ["check", "run_examples", "backtest", "ExampleResult", "facts_from_history",
           "render_problems", "render_examples", "render_backtest"]


def check(directory: Path) -> list[Problem]:
    """Every problem in a rules directory, including the durable_rules limits; empty when valid."""
    try:
        ruleset = load_rules(Path(directory), in_force=True)
    except RuleLoadError as exc:
        return exc.problems
    return durable_problems(ruleset)


@dataclass(frozen=True)
class ExampleResult:
    """One example of one rule, run through both backends."""

    rule_id: str
    file: str
    line: int
    kind: str
    online_hit: bool
    batch_hit: bool

    @property
    def passed(self) -> bool:
        expected = self.kind == "hit"
        return self.online_hit == expected and self.batch_hit == expected

    @property
    def message(self) -> str:
        if self.passed:
            return "ok"
        return f"expected {self.kind}, online {'hit' if self.online_hit else 'miss'}, " \
               f"batch {'hit' if self.batch_hit else 'miss'}"


def _example_day(rule: Rule) -> date:
    today = date.today()
    if rule.is_active(today):
        return today
    return rule.valid_from if rule.valid_from and rule.valid_from > today else rule.valid_to


def run_examples(directory: Path | RuleSet) -> list[ExampleResult]:
    """Run every rule's examples through the online and the batch backend."""
    ruleset = directory if isinstance(directory, RuleSet) else load_rules(Path(directory))
    cases = [(rule, ex) for rule in ruleset.rules for ex in rule.examples]
    if not cases:
        return []
    evaluator = OnlineEvaluator(ruleset)
    try:
        online = [any(h.rule_id == rule.id for h in evaluator.evaluate([ex.facts], on=_example_day(rule)))
                  for rule, ex in cases]
    finally:
        evaluator.close()
    frame = pd.DataFrame([ex.facts for _, ex in cases], columns=list(FIELDS))
    batch = np.zeros(len(cases), dtype=bool)
    days = pd.Series([_example_day(rule) for rule, _ in cases])
    for day in days.unique():
        hits = evaluate_frame(ruleset, frame, on=day)
        for i in np.flatnonzero(days == day):
            batch[i] = bool(((hits["row"] == i) & (hits["rule_id"] == cases[i][0].id)).any())
    return [ExampleResult(rule.id, rule.file, ex.line, ex.kind, bool(o), bool(b))
            for (rule, ex), o, b in zip(cases, online, batch)]


_HISTORY_TO_FACTS = {
    "declaration_id": "declaration.declaration_id", "direction": "declaration.direction",
    "customs_office": "declaration.customs_office", "transport_mode": "declaration.transport_mode",
    "declarant_id": "declaration.declarant_id", "importer_id": "declaration.importer_id",
    "importer_name": "declaration.importer_name", "importer_country": "declaration.importer_country",
    "exporter_id": "declaration.exporter_id", "exporter_name": "declaration.exporter_name",
    "exporter_country": "declaration.exporter_country", "country_of_export": "declaration.country_of_export",
    "country_of_destination": "declaration.country_of_destination",
    "transit_countries": "declaration.transit_countries", "line": "item.line", "hs_code": "item.hs_code",
    "description": "item.description", "taxon": "item.taxon", "country_of_origin": "item.country_of_origin",
    "quantity": "item.quantity", "unit": "item.unit", "net_mass_kg": "item.net_mass_kg", "value": "item.value",
    "currency": "item.currency", "term": "item.term", "purpose": "item.purpose", "source": "item.source",
}


def facts_from_history(history: pd.DataFrame) -> pd.DataFrame:
    """Fact columns for a history table in the plain `riskengine.history` shape (no enrichment).

    Columns already named as facts are kept; plain history names are renamed, HS4/HS2 and the
    unit value derived. Taxonomy, findings and history aggregates need the engine's enrichment.
    """
    frame = history.rename(columns={k: v for k, v in _HISTORY_TO_FACTS.items()
                                    if k in history and v not in history})
    if "item.hs_code" in frame:
        codes = frame["item.hs_code"].astype("string")
        frame["item.hs4"] = frame.get("item.hs4", codes.str[:4])
        frame["item.hs2"] = frame.get("item.hs2", codes.str[:2])
    if "item.unit_value" not in frame and {"item.value", "item.net_mass_kg"} <= set(frame):
        mass = pd.to_numeric(frame["item.net_mass_kg"], errors="coerce")
        frame["item.unit_value"] = pd.to_numeric(frame["item.value"], errors="coerce") / mass.where(mass > 0)
    if "permits" in frame and "item.permit_numbers" not in frame:
        frame["item.permit_numbers"] = frame["permits"]
    return frame


def _per_rule(ruleset: RuleSet, facts: pd.DataFrame, declarations: pd.Series, fraud: pd.Series | None,
              on: date | None) -> pd.DataFrame:
    hits = evaluate_frame(ruleset, facts, on=on)
    hits = hits.assign(declaration=declarations.loc[hits["row"]].to_numpy())
    total = max(declarations.nunique(), 1)
    rows = []
    for rule in ruleset.rules:
        hit_decls = pd.unique(hits.loc[hits["rule_id"] == rule.id, "declaration"])
        row = {"rule_id": rule.id, "title": rule.title, "hits": len(hit_decls), "share": len(hit_decls) / total}
        if fraud is not None:
            known = fraud.reindex(hit_decls).dropna()
            row["with_outcome"] = len(known)
            row["hit_rate"] = float(known.mean()) if len(known) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def backtest(ruleset: RuleSet, history: pd.DataFrame, baseline: RuleSet | None = None, *,
             on: date | None = None) -> pd.DataFrame:
    """Per rule: declarations hit, share of declarations, hit rate against `fraud`, change vs baseline.

    `history` has one row per declaration line with fact columns (or plain history names, see
    `facts_from_history`); an optional `fraud` column holds 1/0/NA per line or declaration.
    Rules are judged as valid on `on` (default today).
    """
    facts = facts_from_history(history).reset_index(drop=True)
    if "declaration.declaration_id" in facts:
        declarations = facts["declaration.declaration_id"].astype(object).where(
            facts["declaration.declaration_id"].notna(), pd.Series(facts.index.astype(str), dtype=object))
    else:
        declarations = pd.Series(facts.index.astype(str), dtype=object)
    fraud = None
    if "fraud" in facts:
        fraud = pd.to_numeric(facts["fraud"], errors="coerce").groupby(declarations).max()
    table = _per_rule(ruleset, facts, declarations, fraud, on)
    if baseline is not None:
        base = _per_rule(baseline, facts, declarations, fraud, on).set_index("rule_id")
        table["baseline_hits"] = table["rule_id"].map(base["hits"])
        table["change_hits"] = table["hits"] - table["baseline_hits"]
        table["change_share"] = table["share"] - table["rule_id"].map(base["share"])
        if fraud is not None:
            table["change_hit_rate"] = table["hit_rate"] - table["rule_id"].map(base["hit_rate"])
        gone = base.drop(index=[r for r in table["rule_id"] if r in base.index]).reset_index()
        if len(gone):
            gone = gone.assign(baseline_hits=gone["hits"], change_hits=-gone["hits"], change_share=-gone["share"],
                               hits=0, share=0.0, title=gone["title"] + " (removed)")
            table = pd.concat([table, gone[[c for c in table.columns if c in gone]]], ignore_index=True)
    return table


def render_problems(problems: list[Problem]) -> Table:
    table = Table(title=f"{len(problems)} problem(s)")
    for column in ("where", "code", "message"):
        table.add_column(column)
    for p in problems:
        hint = f" (did you mean '{p.suggestion}'?)" if p.suggestion else ""
        table.add_row(f"{p.file}:{p.line}:{p.column}", p.code, p.message + hint)
    return table


def render_examples(results: list[ExampleResult]) -> Table:
    failed = sum(not r.passed for r in results)
    table = Table(title=f"{len(results)} example(s), {failed} failed")
    for column in ("rule", "where", "expects", "result"):
        table.add_column(column)
    for r in results:
        table.add_row(r.rule_id, f"{r.file}:{r.line}", r.kind,
                      "[green]ok[/green]" if r.passed else f"[red]{r.message}[/red]")
    return table


def render_backtest(frame: pd.DataFrame) -> Table:
    table = Table(title="backtest per rule")
    for column in frame.columns:
        table.add_column(str(column), justify="right" if frame[column].dtype.kind in "fi" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*("" if pd.isna(v) else f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    return table
