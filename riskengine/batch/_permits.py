"""The permit checks of a chunk's CITES-relevant declarations, against the registry snapshot.

Most relevant declarations validate for certain and cite only permits the snapshot does not hold,
on lines no export quota covers. Their findings are those of `check_line` (the same function
online runs), one `unknown_permit` per cited permit and the import-permit check; `check_line`
reads no line number, permit or quantity, so it runs once per distinct rest of the line and its
findings are re-issued with each line's number. Every other declaration (uncertain validation,
a registered permit cited, a quota to count, no registry) goes through `check_declaration` whole.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from riskengine.decision.lanes import StageNote
from riskengine.permits.checks import (Finding, LineContext, check_declaration, check_document_types,
                                       check_import_permit, check_line, check_quotas, check_suspensions,
                                       unknown_permit)
from riskengine.reference.loader import Reference

from ._frame import CitesView, PermitRefView, certain_declarations, clean_records, declaration_view, to_declaration
from ._snapshot import quota_usage_in

__all__ = ["ChunkReference", "permit_findings"]

log = logging.getLogger("riskengine.batch")


class ChunkReference:
    """The reference data as the permit checks of one chunk see it: code, suspension and quota answers
    remembered per distinct question (the reference does not change while a chunk is checked)."""

    def __init__(self, reference) -> None:
        self._reference = reference
        self.convert, self.lookup = reference.convert, reference.lookup
        self._answers: dict[tuple, Any] = {}
        controls = getattr(reference, "controls", None)  # Reference.suspensions asks its controls alone
        # with none recorded, check_suspensions finds nothing on any day: the per-day question is skipped
        self.suspends_nothing = controls is not None and type(reference).suspensions is Reference.suspensions \
            and controls.counts()["suspensions"] == 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reference, name)

    def is_valid_code(self, kind: str, code: str | None) -> bool:
        key = ("code", kind, code)
        if key not in self._answers:
            self._answers[key] = self._reference.is_valid_code(kind, code)
        return self._answers[key]

    def term_unit_allowed(self, term: str, unit: str | None) -> bool:
        key = ("term-unit", term, unit)
        if key not in self._answers:
            self._answers[key] = self._reference.term_unit_allowed(term, unit)
        return self._answers[key]

    def suspensions(self, taxon, country: str, *, source=None, purpose=None, on=None) -> list:
        key = ("suspensions", id(taxon), country, source, purpose, on)
        pinned = self._answers.get(key)
        if pinned is None or pinned[0] is not taxon:  # the taxon is kept with its answer, so its id stays its own
            pinned = self._answers[key] = (taxon, self._reference.suspensions(taxon, country, source=source,
                                                                             purpose=purpose, on=on))
        return list(pinned[1])

    def quotas(self, taxon, country: str, year: int, term=None, source=None) -> list:
        key = ("quotas", id(taxon), country, year, term, source)
        pinned = self._answers.get(key)
        if pinned is None or pinned[0] is not taxon:
            pinned = self._answers[key] = (taxon, self._reference.quotas(taxon, country, year, term=term, source=source))
        return list(pinned[1])


class _Item:
    """A declaration line as the line checks read it; `line`, `quantity` and `permits` are those of the
    line only where a quota is counted (elsewhere the findings are re-issued with each line's number)."""

    __slots__ = ("line", "hs_code", "taxon", "country_of_origin", "unit", "quantity", "cites", "permits")

    def __init__(self, line, hs_code, taxon, country_of_origin, unit, quantity, cites, permits) -> None:
        self.line, self.hs_code, self.taxon, self.country_of_origin = line, hs_code, taxon, country_of_origin
        self.unit, self.quantity, self.cites, self.permits = unit, quantity, cites, permits


class _Head:
    """The declaration fields the line checks read."""

    __slots__ = ("direction", "country_of_export")

    def __init__(self, direction, country_of_export) -> None:
        self.direction, self.country_of_export = direction, country_of_export


class _Probe:
    """What the checks say of one distinct line (without its number, quantity and permit numbers)."""

    __slots__ = ("head", "ctx", "before", "after", "suspended", "quota_years", "lined")

    def __init__(self, head: _Head, ctx: LineContext, reference) -> None:
        self.head, self.ctx = head, ctx
        self.before = check_line(ctx, reference)
        self.after = check_document_types(head, ctx, set()) + check_import_permit(head, ctx, set())
        self.suspended: dict = {}  # by lodging day: check_suspensions' findings
        self.quota_years: dict = {}  # by lodging year: whether a quota is to be counted
        self.lined: dict = {}  # by line number: `before` and `after` relined (findings are immutable, so shared)


def _relined(findings: list[Finding], line: int) -> list[Finding]:
    return [Finding(f.code, line, f.permit, f.message) for f in findings]


def _refs(text: str | None) -> list[PermitRefView]:
    return [PermitRefView(number, country) for country, _, number in (t.partition(":") for t in text.split(";") if t)] \
        if text else []


def _codes(col: pd.Series) -> tuple[np.ndarray, list]:
    """Codes of a column factorised as stored, and each code's value (the last one, code -1, is None: missing)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return codes.astype(np.int64), [*uniques.tolist(), None]


def _paired(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One code per distinct pair of codes (each from -1 up)."""
    return pd.factorize((a + 1) * (int(b.max(initial=-1)) + 2) + (b + 1))[0].astype(np.int64)


def _fast_findings(screen, registry, records: pd.DataFrame, heads: np.ndarray, decl_of_row: np.ndarray,
                   fast: np.ndarray, *, checked: ChunkReference, quota_used) -> dict[int, list[Finding]]:
    """Findings of the declarations `fast` marks (k: the declaration whose first line is records' row heads[k]);
    clears `fast` for those that need `check_declaration` after all (a registered permit cited, a check
    that raised).

    The lines' distinct probes (what `_Probe` reads: taxon, HS code, unit, CITES codes, whether a permit is
    cited, direction and countries) are numbered column-wise; the loop over lines reads a probe number."""
    rows = np.flatnonzero(fast[decl_of_row])
    take = records.iloc[rows]
    decls = decl_of_row[rows]
    head = records.iloc[heads]  # what the declaration says is its first line's (declaration_view)
    dates = head["lodged_at"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").tolist()
    permits_codes, permits_texts = pd.factorize(take["permits"].astype(object))
    refs_of = [_refs(t) for t in permits_texts]
    registered = [any((r.issuing_country, r.number) in registry for r in refs) for refs in refs_of] if registry \
        else [False] * len(refs_of)  # an empty registry holds none of them
    cited = np.array([bool(refs) for refs in refs_of], dtype=np.int64)[permits_codes]
    columns = {name: _codes(take[name]) for name in ("taxon", "hs_code", "unit", "term", "purpose", "source",
                                                     "country_of_origin")}
    columns.update({name: (codes[decls], values) for name, (codes, values) in
                    ((name, _codes(head[name])) for name in ("direction", "country_of_export"))})
    probe_codes = cited
    for codes, _ in columns.values():
        probe_codes = _paired(probe_codes, codes)
    _, first = np.unique(probe_codes, return_index=True)  # probe numbers count up from 0 in order of first sight
    values = {name: [v[c] for c in codes[first].tolist()] for name, (codes, v) in columns.items()}
    probe_of: list = [None] * len(first)  # a _Probe, False (not CITES-relevant) or an exception raised making it
    unknown: dict[tuple, list[Finding]] = {}  # by (permits text, line number): one per cited permit, shared
    suspensions = not checked.suspends_nothing
    out: dict[int, list[Finding]] = {}
    still = fast.tolist()  # read per line: a list reads faster than the array
    for d, line, quantity, p_code, k in zip(
            decls.tolist(), take["line"].to_numpy(dtype=object, na_value=None).tolist(),
            take["quantity"].to_numpy(dtype=object, na_value=None).tolist(), permits_codes.tolist(),
            probe_codes.tolist()):
        found = out.setdefault(d, [])
        if not still[d]:
            continue
        probe = probe_of[k]
        if probe is None:
            probe = probe_of[k] = _probe(screen, checked, **{name: v[k] for name, v in values.items()},
                                         cited=refs_of[p_code])
        if probe is False:
            continue  # not CITES-relevant: check_declaration skips it too
        refs = refs_of[p_code]
        if registered[p_code] or type(probe) is not _Probe:
            still[d] = False  # a registered permit, or a check that raised: check_declaration raises it again
            continue
        line = int(line)
        try:
            lined = probe.lined.get(line)
            if lined is None:
                lined = probe.lined[line] = (_relined(probe.before, line), _relined(probe.after, line))
            if lined[0]:
                found += lined[0]
            ctx = probe.ctx
            if ctx.taxon is not None:
                on = dates[d]
                if suspensions:
                    suspended = probe.suspended.get(on)
                    if suspended is None:
                        suspended = probe.suspended[on] = check_suspensions(probe.head, ctx, checked, on)
                    if suspended:
                        found += _relined(suspended, line)
                counted = probe.quota_years.get(on.year)
                if counted is None:
                    cites = ctx.item.cites
                    counted = probe.quota_years[on.year] = probe.head.direction != "transit" and bool(checked.quotas(
                        ctx.taxon, ctx.item.country_of_origin or probe.head.country_of_export, on.year,
                        term=cites.term if cites else None, source=cites.source if cites else None))
                if counted:
                    item = _Item(line, ctx.item.hs_code, ctx.item.taxon, ctx.item.country_of_origin, ctx.item.unit,
                                 float(quantity), ctx.item.cites, refs)
                    found += check_quotas(probe.head, LineContext(item, ctx.taxon, ctx.appendix, ctx.hs_sensitive,
                                                                  ctx.hs_presumed), checked, on, quota_used)
        except Exception:  # check_declaration raises it again, and notes it
            still[d] = False
            continue
        if refs:
            made = unknown.get((p_code, line))
            if made is None:
                made = unknown[p_code, line] = [unknown_permit(line, ref) for ref in refs]
            found += made
        if lined[1]:
            found += lined[1]
    fast[:] = still
    return {d: found for d, found in out.items() if still[d]}


def _probe(screen, checked: ChunkReference, *, taxon, hs_code, unit, term, purpose, source, country_of_origin,
           direction, country_of_export, cited: list):
    """The probe of a distinct line; False when the line is not CITES-relevant, the exception when its checks raised."""
    info, appendix = screen.taxon(taxon, country_of_origin or country_of_export)
    sensitive, presumed = screen.hs(hs_code)
    if not (appendix is not None or cited or (presumed and not taxon)):
        return False
    try:
        citing = None if term is None and purpose is None and source is None else CitesView(term, purpose, source)
        ctx = LineContext(item=_Item(None, hs_code, taxon, country_of_origin, unit, None, citing, cited[:1]),
                          taxon=info, appendix=appendix, hs_sensitive=sensitive, hs_presumed=presumed)
        return _Probe(_Head(direction, country_of_export), ctx, checked)
    except Exception as exc:
        return exc


def permit_findings(stages, screen, lines: pd.DataFrame, starts: np.ndarray, relevant_decl: np.ndarray) -> tuple[dict[int, list[Finding]], dict[int, list[StageNote]], dict[int, str]]:
    """Findings of the CITES-relevant declarations (`relevant_decl`, declaration k from starts[k]), the notes
    of those whose checks failed and the validation errors of those that do not validate."""
    snapshot, reference = stages.snapshot, stages.reference
    checked = ChunkReference(reference)
    quota_cache: dict[tuple, float] = {}

    def quota_used(quota, country, year):
        key = (id(quota), country, year)
        if key not in quota_cache:
            quota_cache[key] = quota_usage_in(snapshot, quota, country, year, reference=reference)
        return quota_cache[key]

    ends = np.append(starts[1:], len(lines))
    member = np.zeros(len(starts), dtype=bool)
    member[relevant_decl] = True
    positions = np.flatnonzero(np.repeat(member, ends - starts))  # their lines, in order
    records = lines.iloc[positions]
    sizes = ends[relevant_decl] - starts[relevant_decl]
    decl_of_row = np.repeat(np.arange(len(relevant_decl)), sizes)
    local_starts = np.cumsum(sizes) - sizes
    certain = certain_declarations(records, local_starts)
    fast = certain & (snapshot.registry is not None)
    findings: dict[int, list[Finding]] = {}
    if fast.any():
        found = _fast_findings(screen, snapshot.registry, records, local_starts, decl_of_row, fast, checked=checked,
                               quota_used=quota_used)
        relevant = relevant_decl.tolist()
        findings = {relevant[k]: f for k, f in found.items()}
    slow = np.flatnonzero(~fast)
    if not len(slow):
        return findings, {}, {}
    slow_rows = np.flatnonzero(np.isin(decl_of_row, slow))
    more, notes, errors = _one_by_one(stages, screen, clean_records(records.iloc[slow_rows]), relevant_decl[slow],
                                      sizes[slow], certain[slow], checked=checked, quota_used=quota_used)
    findings.update(more)
    return findings, notes, errors


def _one_by_one(stages, screen, rows: list[dict], decls: np.ndarray, sizes: np.ndarray, certain: np.ndarray, *,
                checked: ChunkReference, quota_used) -> tuple[dict[int, list[Finding]], dict[int, list[StageNote]],
                                                              dict[int, str]]:
    """`check_declaration` per declaration, each validated as online would (or read as a view when certain)."""
    findings: dict[int, list[Finding]] = {}
    notes: dict[int, list[StageNote]] = {}
    errors: dict[int, str] = {}
    offset = 0
    for d, size, sure in zip(decls.tolist(), sizes.tolist(), certain.tolist()):
        chunk, offset = rows[offset: offset + size], offset + size
        try:
            declaration = declaration_view(chunk) if sure else to_declaration(chunk, clean=True)
        except Exception as exc:  # pydantic.ValidationError: online this is a 422
            problems = exc.errors() if hasattr(exc, "errors") else [{"loc": (), "msg": str(exc)}]
            errors[d] = "invalid declaration: " + "; ".join(
                f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems)[:500]
            continue
        contexts = screen.contexts(declaration)
        try:
            result = check_declaration(declaration, contexts, stages.snapshot.registry, reference=checked, quota_used=quota_used,
                                       tolerance=stages.settings.permits.quantity_tolerance)
            findings[d] = result.findings
        except Exception as exc:
            log.exception("permit checks failed")
            notes[d] = [StageNote("PERMIT_CHECKS_FAILED", f"permit checks failed ({type(exc).__name__}); not released", "yellow")]
    return findings, notes, errors
