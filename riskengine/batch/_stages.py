"""The stages of DESIGN.md over a frame of declaration lines: screening, permit checks, rules, model, lane.

Per distinct value (taxon, HS code, unit) rather than per row wherever the answer depends on the
value alone; permit checks call `riskengine.permits.checks` for the CITES-relevant declarations
only (the others have no permit findings by definition); the lane is `decision.lanes.decide`
itself for declarations with engine notes, and its column-wise equivalent (`_lanes`, tested
against it) for the others, so batch and online agree.
"""
from __future__ import annotations

import datetime as dt
import gc
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from riskengine.config import Settings
from riskengine.decision.lanes import ModelOutcome, StageNote, decide
from riskengine.permits.checks import LineContext
from riskengine.rulelang import FIELDS, RuleHit, RuleSet, normalise_fact, rule_hit_rows

from ._frame import declaration_bounds, normalise_lines
from ._history import history_facts
from ._lanes import HitCombos, fast_decisions
from ._model import score_declarations
from ._permits import permit_findings
from ._snapshot import StoreSnapshot

__all__ = ["DECISION_COLUMNS", "Stages", "assess_lines"]

log = logging.getLogger("riskengine.batch")

DECISION_COLUMNS = ["declaration_id", "version", "decision", "lane", "score", "random_selection", "reasons",
                    "ruleset_version", "model_version", "error"]


@dataclass
class Stages:
    """What every partition needs, built once per worker process."""

    settings: Settings
    reference: Any
    ruleset: RuleSet
    model: Any  # LoadedModel or None
    model_error: str | None
    snapshot: StoreSnapshot


class _Screen:
    """Screening answers cached per distinct taxon/country and HS code (as `Engine.screen`)."""

    def __init__(self, reference) -> None:
        self.reference = reference
        self.taxon = lru_cache(maxsize=None)(self._taxon)
        self.hs = lru_cache(maxsize=None)(self._hs)

    def _taxon(self, name: str | None, country: str | None):
        if not name:
            return None, None
        info = self.reference.lookup(name)
        if info is None:
            return None, None
        return info, self.reference.appendix_for(info.accepted_name, country)

    def _hs(self, code: str) -> tuple[bool, bool]:
        return self.reference.is_cites_relevant_hs(code), self.reference.hs_presumes_cites(code)

    def contexts(self, declaration) -> list[LineContext]:
        out = []
        for item in declaration.items:
            info, appendix = self.taxon(item.taxon, item.country_of_origin or declaration.country_of_export)
            sensitive, presumed = self.hs(item.hs_code)
            out.append(LineContext(item=item, taxon=info, appendix=appendix, hs_sensitive=sensitive, hs_presumed=presumed))
        return out


def _factorize(col: pd.Series) -> tuple[np.ndarray, list]:
    """Codes (-1: missing) and distinct values (as Python objects) of a column, factorised as it is stored
    (an Arrow-backed text column costs a third of its object copy)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return codes, uniques.tolist()


def _screen_columns(screen: _Screen, lines: pd.DataFrame) -> dict[str, np.ndarray]:
    taxon_codes, taxa = _factorize(lines["taxon"])
    country_codes, countries = _factorize(lines["country_of_origin"].fillna(lines["country_of_export"]))
    # one code per (taxon, country) pair; 0 stands for a missing value in either
    width = len(countries) + 1
    codes, pairs = pd.factorize((taxon_codes.astype(np.int64) + 1) * width + (country_codes + 1))
    taxa, countries = [None, *taxa], [None, *countries]
    answers = [screen.taxon(taxa[p // width], countries[p % width]) for p in pairs.tolist()]
    infos = [a[0] for a in answers]
    info = np.array(infos, dtype=object)[codes]
    appendix = np.array([a[1] for a in answers], dtype=object)[codes]
    hs_codes, hs_uniques = _factorize(lines["hs_code"])
    hs_answers = [screen.hs(h) for h in hs_uniques]
    sensitive = np.array([a[0] for a in hs_answers] + [False])[hs_codes]
    presumed = np.array([a[1] for a in hs_answers] + [False])[hs_codes]
    has_permit = (lines["permits"] != "").to_numpy(dtype=bool)  # never missing in normalised lines
    no_taxon = lines["taxon"].isna().to_numpy()
    relevant = np.not_equal(appendix, None) | has_permit | (presumed & no_taxon)
    return {"info": info, "appendix": appendix, "sensitive": sensitive, "relevant": relevant,
            "taxon_codes": codes, "taxon_infos": infos, "taxon_appendices": [a[1] for a in answers]}


def _spread(codes: np.ndarray, values: list) -> pd.Series:
    """values[codes] (code -1 and a None value: missing) as a categorical column: the rules factorise it
    for nothing (an object column of 50,000 short texts costs them ~1.5 ms)."""
    value_codes, categories = pd.factorize(np.array(values, dtype=object), use_na_sentinel=True)
    return pd.Series(pd.Categorical.from_codes(np.append(value_codes, -1)[codes], categories=categories))


def _attr(screened: dict, name: str) -> pd.Series:
    """An attribute of each line's taxon info, read once per distinct (taxon, country) key."""
    return _spread(screened["taxon_codes"], [getattr(info, name, None) for info in screened["taxon_infos"]])


def _permit_numbers(permits: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The permit numbers of each line's ';'-joined `country:number` tokens, split once per distinct text
    (as tuples, shared between equal texts: the rules read list fields as tuples), and how many there are."""
    codes, uniques = _factorize(permits)
    table = np.empty(len(uniques) + 1, dtype=object)
    for k, text in enumerate(uniques):  # element by element: numpy would read equal-length tuples as a 2-d array
        table[k] = tuple(t.partition(":")[2] for t in text.split(";") if t) if text else ()
    table[-1] = ()
    counts = np.array([len(numbers) for numbers in table], dtype="float64")
    return pd.Series(table[codes], dtype=object), counts[codes]


def _facts(lines: pd.DataFrame, screened: dict, starts: np.ndarray, history: pd.DataFrame, *,
           model_scores: np.ndarray | None, medians: dict | None) -> pd.DataFrame:
    """One fact row per line with exactly the keys of `riskengine.facts.line_facts`."""
    n = len(lines)
    sizes = np.diff(np.append(starts, n))
    decl = np.repeat(np.arange(len(starts)), sizes)
    position = np.arange(n) - np.repeat(starts, sizes)
    value = lines["value"].to_numpy(dtype="float64", na_value=np.nan)
    total = np.zeros(len(starts))
    zero_filled = np.where(np.isnan(value), 0.0, value)
    for k in range(int(sizes.max()) if n else 0):  # left to right, as Python's sum()
        at = position == k
        total[decl[at]] += zero_filled[at]
    mass = lines["net_mass_kg"].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(all="ignore"):
        unit_value = np.where(~np.isnan(value) & ~np.isnan(mass) & (mass != 0), value / np.where(mass == 0, 1, mass), np.nan)
    hs_codes, hs_uniques = _factorize(lines["hs_code"])

    def prefix(k: int) -> pd.Series:  # once per distinct code
        return _spread(hs_codes, [u[:k] for u in hs_uniques])
    if medians:  # looked up once per distinct code (a missing code has no median)
        median = np.array([medians.get(u[:6], np.nan) for u in hs_uniques] + [np.nan], dtype="float64")[hs_codes]
        with np.errstate(all="ignore"):
            ratio = np.where(~np.isnan(unit_value) & ~np.isnan(median) & (median != 0), unit_value / median, np.nan)
    else:
        ratio = np.full(n, np.nan)
    lodged = lines["lodged_at"]
    numbers, counts = _permit_numbers(lines["permits"])
    facts = pd.DataFrame({
        "declaration.declaration_id": lines["declaration_id"],
        "declaration.direction": lines["direction"],
        "declaration.customs_office": lines["customs_office"],
        "declaration.transport_mode": lines["transport_mode"],
        "declaration.declarant_id": lines["declarant_id"],
        "declaration.importer_id": lines["importer_id"],
        "declaration.importer_name": lines["importer_name"],
        "declaration.importer_country": lines["importer_country"],
        "declaration.exporter_id": lines["exporter_id"],
        "declaration.exporter_name": lines["exporter_name"],
        "declaration.exporter_country": lines["exporter_country"],
        "declaration.country_of_export": lines["country_of_export"],
        "declaration.country_of_destination": lines["country_of_destination"],
        "declaration.transit_countries": lines["transit_countries"],
        "declaration.line_count": sizes[decl].astype("float64"),
        "declaration.total_value": total[decl],
        "declaration.lodged_hour": lodged.dt.hour.to_numpy(dtype="float64"),
        "declaration.lodged_weekday": lodged.dt.day_of_week.to_numpy(dtype="float64"),
        "item.line": lines["line"].to_numpy(dtype="float64", na_value=np.nan),
        "item.hs_code": _spread(hs_codes, hs_uniques),
        "item.hs4": prefix(4),
        "item.hs2": prefix(2),
        "item.description": lines["description"],
        "item.taxon": lines["taxon"],
        "item.accepted_name": _attr(screened, "accepted_name"),
        "item.appendix": _spread(screened["taxon_codes"], screened["taxon_appendices"]),
        "item.kingdom": _attr(screened, "kingdom"),
        "item.class": _attr(screened, "class_"),
        "item.order": _attr(screened, "order"),
        "item.family": _attr(screened, "family"),
        "item.genus": _attr(screened, "genus"),
        "item.cites_relevant": screened["relevant"],
        "item.hs_sensitive": screened["sensitive"].astype(bool),
        "item.country_of_origin": lines["country_of_origin"],
        "item.quantity": lines["quantity"].to_numpy(dtype="float64", na_value=np.nan),
        "item.unit": lines["unit"],
        "item.net_mass_kg": mass,
        "item.value": value,
        "item.currency": lines["currency"],
        "item.unit_value": unit_value,
        "item.unit_value_ratio": ratio,
        "item.term": lines["term"],
        "item.purpose": lines["purpose"],
        "item.source": lines["source"],
        "item.permit_numbers": numbers,
        "item.permit_count": counts,
        "model_score": np.full(n, np.nan) if model_scores is None else model_scores[decl],
        **{name: history[name].to_numpy() for name in history.columns},
    })
    return facts


def _active_groups(ruleset: RuleSet, days: np.ndarray) -> dict[tuple, np.ndarray]:
    """Rows grouped by which rules are in force on their lodging day (usually one group).

    `days` are the UTC lodging days (datetime64[D]); a line without one is in no group (no rule hits),
    as pandas' groupby drops a missing key.
    """
    missing = np.isnat(days)
    codes, uniques = pd.factorize(days.view("int64"))
    groups: dict[tuple, list[int]] = {}
    for k, (day, absent) in enumerate(zip(np.datetime_as_string(uniques.view("datetime64[D]"), unit="D").tolist(),
                                           np.isnat(uniques.view("datetime64[D]")).tolist())):
        if absent:
            continue
        on = dt.date.fromisoformat(day)
        active = tuple(rule.is_active(on) for rule in ruleset.rules)
        groups.setdefault((active, on), []).append(k)
    merged: dict[tuple, list[int]] = {}
    for (active, on), ks in groups.items():
        key = next((k for k in merged if k[0] == active), (active, on))
        merged.setdefault(key, []).extend(ks)
    if len(merged) == 1 and not missing.any():
        return {key: np.arange(len(days)) for key in merged}
    return {key: np.flatnonzero(np.isin(codes, ks)) for key, ks in merged.items()}


def _rule_hits(ruleset: RuleSet, facts: pd.DataFrame, days: np.ndarray, decl: np.ndarray,
               n_decl: int) -> HitCombos:
    """Every declaration's hits in line order, then rule order (the online evaluator's order).

    A message is rendered once per rule and distinct values of the fields it names (`render_message`
    reads only those keys of the normalised fact, and each key's normalised value depends on its raw
    value alone); equal hits share one RuleHit, and declarations with equal sequences of hits one tuple.
    """
    rule_index = {rule.id: i for i, rule in enumerate(ruleset.rules)}
    rows, ranks = [], []
    groups = _active_groups(ruleset, days)
    for (_, on), positions in groups.items():
        part = facts if len(groups) == 1 else facts.iloc[positions]
        labels = part.index.to_numpy()  # the facts frame has a RangeIndex: labels are positions
        for rule, hit_rows in rule_hit_rows(ruleset, part, on=on):
            rows.append(labels[hit_rows])
            ranks.append(np.full(len(hit_rows), rule_index[rule.id], dtype=np.int64))
    if not rows or not sum(map(len, rows)):
        return HitCombos([()], np.zeros(n_decl, dtype=np.int64))
    row, rank = np.concatenate(rows).astype(np.int64), np.concatenate(ranks)
    order = np.lexsort((rank, row))
    row, rank = row[order], rank[order]
    # each hit's message, as an index into `texts`: a rule's title, or a rendered message
    texts = [rule.title for rule in ruleset.rules]
    message = rank.copy()
    for r in np.unique(rank).tolist():
        rule = ruleset.rules[r]
        if rule.message:
            message[rank == r] = _messages(rule, facts, row[rank == r], texts)
    line = facts["item.line"].to_numpy(dtype="float64")[row]
    line_codes, line_values = pd.factorize(line, use_na_sentinel=True)  # NaN: -1
    pair_codes, _ = pd.factorize(rank * (len(line_values) + 1) + line_codes + 1)
    hit_codes, _ = pd.factorize(pair_codes.astype(np.int64) * len(texts) + message)
    _, first = np.unique(hit_codes, return_index=True)  # codes count up from 0 in order of first sight
    made = []
    for k in first.tolist():
        rule, number = ruleset.rules[rank[k]], line[k]
        made.append(RuleHit(rule.id, rule.version, None if number != number else int(number), rule.title,
                            texts[message[k]], rule.lane, rule.score, rule.confidential))
    # each declaration's hits are a run of the sorted hits: equal runs, equal sequences
    hit_decl = decl[row]
    bounds = np.flatnonzero(hit_decl[1:] != hit_decl[:-1]) + 1
    run_starts, run_ends = np.append(0, bounds) * 8, np.append(bounds, len(row)) * 8
    raw = hit_codes.astype(np.int64).tobytes()
    index: dict[bytes, int] = {}
    combos: list[tuple] = [()]
    run_combo = []
    for a, b in zip(run_starts.tolist(), run_ends.tolist()):
        key = raw[a:b]
        code = index.get(key)
        if code is None:
            code = index[key] = len(combos)
            combos.append(tuple(made[c] for c in hit_codes[a // 8: b // 8].tolist()))
        run_combo.append(code)
    of = np.zeros(n_decl, dtype=np.int64)
    of[hit_decl[run_starts // 8]] = run_combo
    return HitCombos(combos, of)


def _messages(rule, facts: pd.DataFrame, rows: np.ndarray, texts: list[str]) -> list[int]:
    """The rendered message of a rule at each of its hit rows, as indices into `texts` (extended as needed)."""
    names = [n for n in rule.message_fields if n in FIELDS]
    columns = [facts[name].to_numpy()[rows] for name in names]
    known: dict[tuple, int] = {}
    out = []
    for values in zip(*columns) if names else ((),) * len(rows):
        fact = normalise_fact(dict(zip(names, values)))
        key = tuple(tuple(fact[n]) if isinstance(fact[n], list) else fact[n] for n in names)
        at = known.get(key)
        if at is None:
            at = known[key] = len(texts)
            texts.append(rule.render_message(fact))
        out.append(at)
    return out


def assess_lines(stages: Stages, frame: pd.DataFrame) -> pd.DataFrame:
    """Decisions (DECISION_COLUMNS) for a frame of lines whose declarations are complete and adjacent."""
    # A chunk allocates hundreds of thousands of small acyclic objects; the cyclic collector would
    # walk the whole heap (model included) many times over for them (~0.4 s CPU of ~2.5 s per
    # 50,000 lines). It runs again once the chunk is done.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _assess_lines(stages, frame)
    finally:
        if enabled:
            gc.enable()


def _assess_lines(stages: Stages, frame: pd.DataFrame) -> pd.DataFrame:
    lines = normalise_lines(frame)
    if lines.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DECISION_COLUMNS})
    starts = declaration_bounds(lines)
    n_decl = len(starts)
    sizes = np.diff(np.append(starts, len(lines)))
    decl = np.repeat(np.arange(n_decl), sizes)
    screen = _screen_cache(stages)
    screened = _screen_columns(screen, lines)
    relevant_decl = np.unique(decl[screened["relevant"]])
    findings, notes, errors = permit_findings(stages, screen, lines, starts, relevant_decl)

    model_notes: list[StageNote] = []
    scores = features = None
    if stages.model is None:
        model_notes = [StageNote("MODEL_UNAVAILABLE", f"model unavailable ({stages.model_error}); decided on rules and permits alone")]
    else:
        try:
            result = score_declarations(stages.model, lines, starts)
            scores, features = result.scores, result.features
        except Exception as exc:
            log.exception("model scoring failed")
            model_notes = [StageNote("MODEL_FAILED", f"model scoring failed ({type(exc).__name__}); decided on rules and permits alone")]

    history = history_facts(stages.snapshot.history, lines)
    facts = _facts(lines, screened, starts, history, model_scores=scores,
                   medians=getattr(stages.model, "hs_median_unit_value", None) if stages.model else None)
    line_numbers = lines["line"].to_numpy(dtype="int64", na_value=0).tolist()
    codes = np.empty(len(lines), dtype=object)
    codes.fill(())  # no findings (the rules read list fields as tuples)
    first_rows, counts = starts.tolist(), sizes.tolist()
    for d, fs in findings.items():
        if not fs:
            continue
        whole = [f.code for f in fs if f.line is None]
        start = first_rows[d]
        if counts[d] == 1:  # most declarations: one line, whose findings are those of its number
            line = line_numbers[start]
            codes[start] = tuple(whole + [f.code for f in fs if f.line is not None and f.line == line])
            continue
        by_line: dict = {}
        for f in fs:
            if f.line is not None:
                by_line.setdefault(f.line, []).append(f.code)
        for row in range(start, start + counts[d]):
            codes[row] = tuple(whole + by_line.get(line_numbers[row], []))
    facts["findings"] = pd.Series(codes, dtype=object)
    days = lines["lodged_at"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    rules_note: list[StageNote] = []
    try:
        hits = _rule_hits(stages.ruleset, facts, days, decl, n_decl)
    except Exception as exc:
        log.exception("rule evaluation failed")
        hits = HitCombos([()], np.zeros(n_decl, dtype=np.int64))
        rules_note = [StageNote("RULES_FAILED", f"rule evaluation failed ({type(exc).__name__}); not released", "yellow")]

    settings, salt = stages.settings, stages.snapshot.salt
    model_version = stages.model.version if stages.model is not None and scores is not None else None
    ids = lines["declaration_id"].take(starts).to_numpy(dtype=object)
    versions = lines["version"].to_numpy(dtype="int64", na_value=1)[starts]
    eligible = np.zeros(n_decl, dtype=bool)
    if scores is not None and not rules_note:  # scores present: no model note either
        eligible[:] = True
        eligible[[*notes, *errors]] = False
    cols = fast_decisions(ids, scores, features, hits, eligible, settings=settings.decision,
                          model_weight=settings.model.weight, salt=salt, findings=findings)
    for d in np.flatnonzero(~cols.done).tolist():
        if d in errors:
            continue
        model = None if scores is None else ModelOutcome(float(scores[d]), features[d], stages.model.version)
        outcome = decide(declaration_id=ids[d], findings=findings.get(d, ()), hits=hits[d], model=model,
                         notes=notes.get(d, []) + model_notes + rules_note, settings=settings.decision,
                         model_weight=settings.model.weight, salt=salt)
        cols.decision[d], cols.lane[d], cols.score[d] = outcome.decision, outcome.lane, outcome.score
        cols.random_selection[d] = outcome.random_selection
        cols.reasons[d] = json.dumps(outcome.reasons, separators=(",", ":"))
    model_versions, error = [model_version] * n_decl, [None] * n_decl
    for d, message in errors.items():
        model_versions[d], error[d] = None, message
    out = {"declaration_id": _text_series(ids.tolist()), "version": versions, "decision": _text_series(cols.decision),
           "lane": _text_series(cols.lane), "score": cols.score, "random_selection": cols.random_selection,
           "reasons": _text_series(cols.reasons), "ruleset_version": _text_series([stages.ruleset.version] * n_decl),
           "model_version": _text_series(model_versions), "error": _text_series(error)}
    return pd.DataFrame(out)


_INFERRED_TEXT = pd.Series(["x"]).dtype  # what pandas makes of a list of str: Arrow-backed "str" since pandas 3


def _text_series(values: list) -> pd.Series:
    """pd.Series(values) of a list of str and None, built through Arrow directly where pandas would store it
    there (its type inference costs as much again: ~4 ms for the reasons of 28,000 declarations)."""
    if isinstance(_INFERRED_TEXT, pd.StringDtype) and _INFERRED_TEXT.storage == "pyarrow":
        try:
            array = pa.array(values, type=pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pd.Series(values)
        if array.null_count < len(array):  # pandas makes an object column of None alone
            return pd.Series(pd.array(array, dtype=_INFERRED_TEXT))
    return pd.Series(values)


_SCREENS: dict[int, _Screen] = {}


def _screen_cache(stages: Stages) -> _Screen:
    screen = _SCREENS.get(id(stages.reference))
    if screen is None:
        screen = _SCREENS[id(stages.reference)] = _Screen(stages.reference)
    return screen
