"""The engine: runs the stages of DESIGN.md for one declaration and records the decision.

Stages are plain functions; this module only wires them, reads what they need from the store
before the write transaction, and writes the decision, reservations and audit record in one
transaction at the end. A decision is returned only once it is committed.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import threading
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from riskengine.config import Settings
from riskengine.decision.capacity import topup_thresholds
from riskengine.decision.lanes import LaneDecision, ModelOutcome, StageNote, decide
from riskengine.errors import AssessmentNotFound, ConflictError, OutcomeAlreadyRecorded
from riskengine.facts import line_facts
from riskengine.history import declaration_rows
from riskengine.permits.checks import Finding, LineContext, check_declaration
from riskengine.permits.quotas import quota_key, quota_usage
from riskengine.metrics import Metrics
from riskengine.ruleset import ReloadResult, RulesHolder, rule_files
from riskengine.schemas import Declaration, Decision, Outcome, declaration_hash
from riskengine.store.audit import Actor, AuditEntry, append_audit, append_audit_many
from riskengine.store.db import Database, StoreUnavailable
from riskengine.store.history import aggregates, aggregates_many, line_rows, permit_ref_rows
from riskengine.store.permits import (
    RegisteredLine,
    RegisteredPermit,
    load_cited,
    origin_keys,
    reserve_many,
    settle_reservations,
    use_reserved,
)
from riskengine.store.tables import (
    Assessment,
    RulesetVersion,
    Base,
    DeclarationRow,
    EngineState,
    OutcomeRow,
    PermitLineRow,
    PermitRow,
    Reservation,
)

__all__ = ["Engine", "Prepared"]

_TABLES = Base.metadata.tables
# Statements of the per-declaration path, built once: a statement object memoises its cache key, so
# executing a prebuilt one skips generating the key that finds the compiled SQL (one per execute).
_INSERT_DECLARATIONS = _TABLES["declarations"].insert().returning(_TABLES["declarations"].c.id, sort_by_parameter_order=True)
_INSERT_ASSESSMENT = _TABLES["assessments"].insert()
_INSERT_REASONS = _TABLES["reasons"].insert()
_INSERT_RESERVATIONS = _TABLES["reservations"].insert()
_INSERT_LINES = _TABLES["declaration_lines"].insert()
_INSERT_PERMIT_REFS = _TABLES["declaration_permit_refs"].insert()
_D, _A = _TABLES["declarations"].c, _TABLES["assessments"].c
_STORED_MANY = (
    select(_D.declaration_id, _D.version, _D.body_hash, _A.response, _A.inputs)
    .select_from(_TABLES["declarations"].join(_TABLES["assessments"], _A.declaration_pk == _D.id))
    .where(_D.declaration_id.in_(bindparam("ids", expanding=True)))
)
_READ = object()  # "read it from the store"

log = logging.getLogger("riskengine.engine")


@dataclass
class Prepared:
    """Everything the stages computed for a declaration, before anything is written."""

    declaration: Declaration
    body: dict[str, Any]
    body_hash: str
    lines: list[LineContext]
    findings: list[Finding]
    claims: list[Any]
    model: ModelOutcome | None
    notes: list[StageNote]
    history: dict[int, dict[str, Any]]
    ruleset_version: str | None
    registry: dict | None = None
    quotas: dict[str, float] = field(default_factory=dict)
    refused: list[dict[str, Any]] = field(default_factory=list)
    confidential: list[str] = field(default_factory=list)
    topup: dict[str, float] = field(default_factory=dict)


class Engine:
    """One per process: holds the reference data, the rules evaluator and the model."""

    def __init__(self, *, settings: Settings, database: Database, reference, rules: RulesHolder, model=None, model_error: str | None = None) -> None:
        self.settings = settings
        self.database = database
        self.reference = reference
        self.rules = rules
        self.model = model
        self.model_error = model_error
        self._salt: str | None = settings.decision.random_salt or None
        self._salt_lock = threading.Lock()
        self._topup: dict[str, float] | None = None
        self._since_topup = 0
        self._topup_lock = threading.Lock()
        self.metrics = Metrics(database, rules)
        self.metrics.model_mode.set(1 if model is not None else 0)
        self.remember_ruleset()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Settings, *, database: Database | None = None) -> Engine:
        from riskengine.setup import load_reference

        database = database or Database(settings.database.url, echo=settings.database.echo)
        database.refresh_statistics()
        reference = load_reference(settings)
        rules = RulesHolder(settings.resolve(settings.rules.dir), database=database)
        model, error = load_model_or_reason(settings.resolve(settings.model.path))
        return cls(settings=settings, database=database, reference=reference, rules=rules, model=model, model_error=error)

    @functools.cached_property
    def reference_summary(self) -> dict[str, Any]:
        """What reference data this engine screens with (counts and sources); it never changes in a process."""
        return self.reference.summary()

    def close(self) -> None:
        self.rules.close()
        self.database.dispose()

    def remember_ruleset(self) -> None:
        """Keep the exact files of the ruleset in force, so any decision can be replayed with them."""
        version = self.rules.version
        try:
            with self.database.session() as session:
                if session.get(RulesetVersion, version) is None:
                    session.add(RulesetVersion(version=version, files=rule_files(self.rules.directory),
                                               loaded_at=dt.datetime.now(dt.timezone.utc)))
        except StoreUnavailable:
            log.warning("ruleset %s not recorded: database unavailable", version)
        except Exception:  # the table is missing before `riskengine init`; nothing to remember then
            log.warning("ruleset %s not recorded (run `riskengine init`)", version)

    def reload_rules(self, *, actor: Actor) -> ReloadResult:
        """Reload rules/ in place; a broken file keeps the rules in force. Audited either way."""
        before = self.rules.version
        result = self.rules.reload()
        if result.ok:
            self.remember_ruleset()
        with self.database.session() as session:
            append_audit(session, actor=actor, action="rules.reload", entity="ruleset", entity_id=result.version or "",
                         before={"version": before}, after={"version": result.version, "ok": result.ok},
                         detail={"ok": result.ok, "problems": result.problems[:50]})
        return result

    def capacity_thresholds(self) -> dict[str, float]:
        """Top-up thresholds from the last decisions, recomputed every `capacity_refresh` assessments."""
        decision = self.settings.decision
        if not any(decision.capacity.values()):
            return {}
        with self._topup_lock:
            if self._topup is None or self._since_topup >= decision.capacity_refresh:
                with self.database.read() as session:
                    rows = session.execute(
                        select(Assessment.lane, Assessment.score).order_by(Assessment.assessed_at.desc()).limit(decision.capacity_window)
                    ).all()
                self._topup = topup_thresholds([r.lane for r in rows], [r.score for r in rows], decision.capacity)
                self._since_topup = 0
            self._since_topup += 1
            return dict(self._topup)

    @property
    def salt(self) -> str:
        if self._salt is None:
            with self._salt_lock, self.database.session() as session:
                row = session.get(EngineState, "random_salt")
                if row is None:
                    raise StoreUnavailable("no random-selection salt: run `riskengine init` or set RISKENGINE_DECISION__RANDOM_SALT")
                self._salt = row.value
        return self._salt

    # -- stages -------------------------------------------------------------------------------
    def screen(self, declaration: Declaration) -> list[LineContext]:
        """Normalise each line against the reference data: accepted taxon, appendix, sensitive HS heading."""
        contexts = []
        for item in declaration.items:
            taxon = self.reference.lookup(item.taxon) if item.taxon else None
            appendix = None
            if taxon is not None:
                country = item.country_of_origin or declaration.country_of_export
                appendix = self.reference.appendix_for(taxon.accepted_name, country)
            contexts.append(LineContext(item=item, taxon=taxon, appendix=appendix, hs_sensitive=self.reference.is_cites_relevant_hs(item.hs_code),
                                        hs_presumed=self.reference.hs_presumes_cites(item.hs_code)))
        return contexts

    def _registry(self, session, declaration: Declaration) -> dict[tuple[str, str], RegisteredPermit] | None:
        return self._registries(session, [declaration])[0]

    def _registries(self, session, declarations: list[Declaration]) -> list[dict[tuple[str, str], RegisteredPermit] | None]:
        """Each declaration's cited permits and the origin permits of its re-export certificates, from
        one read of all of them; None for each if the registry cannot be read."""
        keys = {(p.issuing_country, p.number) for d in declarations for item in d.items for p in item.permits}
        if not keys:
            return [{} for _ in declarations]
        try:
            # A savepoint, so a failed registry read leaves the rest of the snapshot usable on PostgreSQL.
            # SQLite keeps a transaction usable after a failed statement: no SAVEPOINT and RELEASE there.
            with contextlib.nullcontext() if self.database.is_sqlite else session.begin_nested():
                everything = load_cited(session, keys)
        except StoreUnavailable:
            raise
        except Exception:  # the registry, not the database, failed: never release on that
            log.exception("permit registry unreadable")
            return [None for _ in declarations]
        registries = []
        for declaration in declarations:
            cited = {key: everything[key] for item in declaration.items for p in item.permits
                     if (key := (p.issuing_country, p.number)) in everything}
            cited.update({key: everything[key] for key in origin_keys(cited.values()) - set(cited) if key in everything})
            registries.append(cited)
        return registries

    def score(self, declaration: Declaration, model=None) -> tuple[ModelOutcome | None, list[StageNote]]:
        model = model or self.model
        if model is None:
            return None, [StageNote("MODEL_UNAVAILABLE", f"model unavailable ({self.model_error}); decided on rules and permits alone")]
        try:
            result = model.score_declaration(declaration_rows(declaration))
            return ModelOutcome(float(result.score), tuple(result.top_features), model.version), []
        except Exception as exc:
            log.exception("model scoring failed")
            return None, [StageNote("MODEL_FAILED", f"model scoring failed ({type(exc).__name__}); decided on rules and permits alone")]

    def prepare(self, declaration: Declaration) -> Prepared:
        """Read what the stages need from the store, then run every stage up to the rules; writes nothing."""
        with self.database.read() as session:
            return self._prepare(session, declaration)

    def _prepare(self, session, declaration: Declaration, *, registry: Any = _READ, history: Any = _READ) -> Prepared:
        lines = self.screen(declaration)
        registry = self._registry(session, declaration) if registry is _READ else registry
        history = aggregates(session, declaration) if history is _READ else history
        quotas = self._quota_usage(session, declaration, lines)
        return self.compute(declaration, registry=registry, history=history, quotas=quotas, lines=lines)

    def _quota_usage(self, session, declaration: Declaration, lines: list[LineContext]) -> dict[str, float]:
        """Quota taken so far for every quota that could apply to a line (read before the pure checks)."""
        usage = {}
        year = declaration.lodged_at.year
        for ctx in lines:
            if ctx.taxon is None:
                continue
            country = ctx.item.country_of_origin or declaration.country_of_export
            for quota in self.reference.quotas(ctx.taxon, country, year):
                key = quota_key(quota, country, year)
                if key not in usage:
                    usage[key] = quota_usage(session, quota, country, year, reference=self.reference)
        return usage

    def compute(self, declaration: Declaration, *, registry, history, quotas: dict[str, float] | None = None,
                model=None, ruleset_version: str | None = None, lines: list[LineContext] | None = None) -> Prepared:
        """Screening, permit checks and model score from given registry, history and quota usage: pure, so replayable."""
        body = declaration.model_dump(mode="json")
        notes: list[StageNote] = []
        lines = lines if lines is not None else self.screen(declaration)
        quotas = quotas or {}
        try:
            checks = check_declaration(
                declaration,
                lines,
                registry,
                reference=self.reference,
                quota_used=lambda quota, country, year: quotas.get(quota_key(quota, country, year), 0.0),
                tolerance=self.settings.permits.quantity_tolerance,
            )
            findings, claims = checks.findings, checks.claims
        except Exception as exc:
            log.exception("permit checks failed")
            findings, claims = [], []
            if any(ctx.cites_relevant for ctx in lines):
                notes.append(StageNote("PERMIT_CHECKS_FAILED", f"permit checks failed ({type(exc).__name__}); not released", "yellow"))
        model_outcome, model_notes = self.score(declaration, model)
        return Prepared(
            declaration=declaration,
            body=body,
            body_hash=declaration_hash(body),
            lines=lines,
            findings=findings,
            claims=claims,
            model=model_outcome,
            notes=notes + model_notes,
            history=history,
            ruleset_version=ruleset_version or self.rules.version,
            registry=registry,
            quotas=quotas,
        )

    def evaluate(self, prepared: Prepared, *, rules=None) -> LaneDecision:
        """Rules and the lane decision over what `prepare` computed (and any findings added since)."""
        declaration = prepared.declaration
        notes = list(prepared.notes)
        facts = line_facts(
            declaration,
            prepared.lines,
            findings=prepared.findings,
            history=prepared.history,
            model_score=prepared.model.score if prepared.model else None,
            hs_median_unit_value=getattr(self.model, "hs_median_unit_value", None) if self.model else None,
        )
        try:
            hits = (rules or self.rules).evaluate(facts, on=declaration.lodged_at.date())
            prepared.confidential = sorted({hit.rule_id for hit in hits if hit.confidential})
        except Exception as exc:
            log.exception("rule evaluation failed")
            hits = []
            notes.append(StageNote("RULES_FAILED", f"rule evaluation failed ({type(exc).__name__}); not released", "yellow"))
        return decide(
            topup=prepared.topup,
            declaration_id=declaration.declaration_id,
            findings=prepared.findings,
            hits=hits,
            model=prepared.model,
            notes=notes,
            settings=self.settings.decision,
            model_weight=self.settings.model.weight,
            salt=self.salt,
        )

    # -- the one write ------------------------------------------------------------------------
    def assess(self, declaration: Declaration, *, actor: Actor) -> Decision:
        """Assess a declaration and record the decision; a retry of the same version replays it."""
        body = declaration.model_dump(mode="json")
        body_hash = declaration_hash(body)
        _ = self.salt  # read before the write transaction, which must not wait on a second connection
        with self.database.read() as session:
            stored = self._stored(session, declaration, body_hash)
            if stored is not None:
                return stored
            prepared = self._prepare(session, declaration)
        prepared.topup = self.capacity_thresholds()
        try:
            return self._record(prepared, actor=actor)
        except IntegrityError:
            # Another worker recorded the same declaration version first: answer with its decision.
            with self.database.read() as session:
                stored = self._stored(session, declaration, body_hash)
            if stored is None:
                raise
            return stored

    def assess_many(self, requests: list[tuple[Declaration, Actor]]) -> list[Decision | Exception]:
        """Assess declarations received together: one read snapshot and one write transaction for all.

        Each answer is what `assess` would answer for that declaration had they all arrived at once
        on concurrent workers: every declaration reads the registry and history as committed before
        the batch, and reservations are taken in order in the write, so a later declaration is
        refused what an earlier one took. A failure answers that declaration alone (the exception
        takes its place in the list); if the write fails, for instance because another worker
        recorded one of the declarations first, every declaration of the batch is assessed alone.
        A database that cannot be reached raises for the whole batch.
        """
        results: list[Decision | Exception | None] = [None] * len(requests)
        if len(requests) == 1:  # nothing to share: `assess` itself
            return self._each_alone(requests, [0], results)
        alone: list[int] = []  # assessed on their own after the batch: repeats within it, failures
        batch: list[tuple[int, Prepared, Actor]] = []
        seen: set[tuple[str, int]] = set()
        _ = self.salt
        with self.database.read() as session:
            try:
                fresh = [declaration for declaration, _ in requests]  # a few are replays or repeats: asked for all the same
                stored = self._stored_rows(session, fresh)
                registries = self._registries(session, fresh)
                histories = aggregates_many(session, fresh)
            except StoreUnavailable:
                raise
            except Exception:
                log.exception("reading for a batch of %d failed; assessing each alone", len(requests))
                return self._each_alone(requests, range(len(requests)), results)
            for i, (declaration, actor) in enumerate(requests):
                key = (declaration.declaration_id, declaration.version)
                if key in seen:  # a retry inside the batch replays the first once it is recorded
                    alone.append(i)
                    continue
                seen.add(key)
                try:
                    if key in stored:
                        results[i] = self._replay(stored[key], declaration, declaration_hash(declaration.model_dump(mode="json")))
                        continue
                    batch.append((i, self._prepare(session, declaration, registry=registries[i], history=histories[i]), actor))
                except StoreUnavailable:
                    raise
                except ConflictError as exc:
                    results[i] = exc
                except Exception:  # on PostgreSQL the snapshot is unusable after a failed statement
                    log.exception("assessing %s with its batch failed; assessing it alone", declaration.declaration_id)
                    alone.append(i)
        for _, prepared, _ in batch:
            prepared.topup = self.capacity_thresholds()
        if batch:
            try:
                for (i, _, _), decision in zip(batch, self._record_many([(p, a) for _, p, a in batch])):
                    results[i] = decision
            except StoreUnavailable:
                raise
            except Exception as exc:
                log.log(logging.INFO if isinstance(exc, IntegrityError) else logging.ERROR,
                        "batch of %d not recorded (%s); assessing each alone", len(batch), type(exc).__name__,
                        exc_info=not isinstance(exc, IntegrityError))
                alone.extend(i for i, _, _ in batch)
        return self._each_alone(requests, sorted(alone), results)

    def _each_alone(self, requests: list[tuple[Declaration, Actor]], indices, results: list) -> list[Decision | Exception]:
        """`assess` each of `indices` on its own, its answer or its error in its place in `results`."""
        for i in indices:
            declaration, actor = requests[i]
            try:
                results[i] = self.assess(declaration, actor=actor)
            except StoreUnavailable:
                raise
            except Exception as exc:
                results[i] = exc
        return results

    def _stored(self, session, declaration: Declaration, body_hash: str) -> Decision | None:
        row = self._stored_rows(session, [declaration]).get((declaration.declaration_id, declaration.version))
        return None if row is None else self._replay(row, declaration, body_hash)

    @staticmethod
    def _stored_rows(session, declarations: list[Declaration]) -> dict[tuple[str, int], Any]:
        """The stored body hash, response and inputs of every version of these declarations' ids."""
        ids = sorted({declaration.declaration_id for declaration in declarations})
        return {(row.declaration_id, row.version): row for row in session.connection().execute(_STORED_MANY, {"ids": ids})}

    @staticmethod
    def _replay(row, declaration: Declaration, body_hash: str) -> Decision:
        """The stored decision of a declaration version, answered again; a different body is a conflict."""
        if row.body_hash != body_hash:
            raise ConflictError(
                f"declaration {declaration.declaration_id} version {declaration.version} was already assessed with a different body"
            )
        return _decision(row.response | {"replayed": True}, row.inputs)

    def _record(self, prepared: Prepared, *, actor: Actor) -> Decision:
        return self._record_many([(prepared, actor)])[0]

    def _record_many(self, batch: list[tuple[Prepared, Actor]]) -> list[Decision]:
        """The one write: declarations, reservations, decisions, reasons, history rows and audit records.

        One transaction for the whole batch, in the batch's order. Core statements rather than ORM
        objects, each table written by one statement: this runs for every declaration, and the unit of
        work's bookkeeping and a statement per row cost more than the rows themselves.
        """
        now = dt.datetime.now(dt.timezone.utc)
        tolerance = self.settings.permits.quantity_tolerance
        decisions = []
        assessments, reasons, reservations, used, lines, refs, audits = [], [], [], [], [], [], []
        with self.database.session() as session:
            db = session.connection()
            # the unique (id, version) constraint decides races between workers here
            rows = [{"declaration_id": p.declaration.declaration_id, "version": p.declaration.version, "body": p.body,
                     "body_hash": p.body_hash, "lodged_at": p.declaration.lodged_at, "received_at": now} for p, _ in batch]
            # Inserted in key order, so two workers holding some of the same declarations wait for each
            # other in one direction only (then the unique key sends the later one down the one-by-one
            # path) and never deadlock; permit lines are locked in id order and the audit head last.
            # One row as a plain execute: the many-rows RETURNING path costs more for a single row.
            order = sorted(range(len(rows)), key=lambda i: (rows[i]["declaration_id"], rows[i]["version"]))
            inserted = db.execute(_INSERT_DECLARATIONS, rows[0] if len(rows) == 1 else [rows[i] for i in order]).scalars().all()
            pks = [0] * len(rows)
            for i, pk in zip(order, inserted):
                pks[i] = pk
            # in the batch's order, so a later declaration is refused what an earlier one took
            granted = iter(reserve_many(session, [(c.permit_line_id, c.quantity) for p, _ in batch for c in p.claims],
                                        tolerance=tolerance))
            for (prepared, actor), pk in zip(batch, pks):
                declaration = prepared.declaration
                assessment_id = str(uuid.uuid4())
                reserved = []
                for claim in prepared.claims:
                    if next(granted):
                        reserved.append(claim)
                    else:
                        prepared.refused.append({"line": claim.line, "permit": claim.permit[1], "quantity": claim.quantity})
                prepared.findings.extend(refusal_findings(prepared.refused))
                outcome = self.evaluate(prepared)
                decision = Decision(
                    assessment_id=assessment_id,
                    declaration_id=declaration.declaration_id,
                    declaration_version=declaration.version,
                    decision=outcome.decision,
                    lane=outcome.lane,
                    score=outcome.score,
                    random_selection=outcome.random_selection,
                    reasons=outcome.reasons,
                    ruleset_version=prepared.ruleset_version,
                    model_version=prepared.model.version if prepared.model else None,
                    assessed_at=now,
                )
                response = decision.model_dump(mode="json")
                assessments.append({
                    "id": assessment_id, "declaration_pk": pk, "declaration_id": declaration.declaration_id,
                    "declaration_version": declaration.version, "decision": decision.decision, "lane": decision.lane,
                    "score": decision.score, "random_selection": decision.random_selection,
                    "ruleset_version": decision.ruleset_version, "model_version": decision.model_version,
                    "customs_office": declaration.customs_office, "assessed_at": now, "response": response,
                    "inputs": stage_inputs(prepared), "actor": actor.name,
                })
                reasons.extend(
                    {"assessment_id": assessment_id, "position": i, "source": r.source, "code": r.code, "rule_id": r.rule_id,
                     "line": r.line, "permit": r.permit, "lane": r.lane, "score": r.score, "message": r.message}
                    for i, r in enumerate(decision.reasons)
                )
                # A release uses the quantities at once; an inspection keeps them reserved until the outcome.
                state = "used" if decision.decision == "release" else "reserved"
                reservations.extend(
                    {"assessment_id": assessment_id, "permit_line_id": c.permit_line_id, "declaration_line": c.line,
                     "quantity": c.quantity, "state": state}
                    for c in reserved
                )
                if state == "used":
                    used.extend(reserved)
                lines.extend(line_rows(declaration, pk))
                refs.extend(permit_ref_rows(declaration, pk))
                audits.append(AuditEntry(
                    actor, "assessment.create", "assessment", assessment_id, after=response,
                    detail={"declaration_id": declaration.declaration_id, "version": declaration.version,
                            "lane": decision.lane, "body_hash": prepared.body_hash},
                    at=now,
                ))
                decision._confidential_rules = frozenset(prepared.confidential)
                decisions.append(decision)
            db.execute(_INSERT_ASSESSMENT, assessments)
            for rows, statement in ((reasons, _INSERT_REASONS), (reservations, _INSERT_RESERVATIONS),
                                    (lines, _INSERT_LINES), (refs, _INSERT_PERMIT_REFS)):
                if rows:
                    db.execute(statement, rows)
            # moving reserved to used keeps reserved + used, which is all a later reservation checks
            if used:
                use_reserved(session, [{"line_id": c.permit_line_id, "wanted": c.quantity} for c in used])
            append_audit_many(session, audits)
        return decisions

    # -- reads and outcomes -------------------------------------------------------------------
    def get_assessment(self, assessment_id: str) -> Decision:
        with self.database.read() as session:
            row = session.get(Assessment, assessment_id)
            if row is None:
                raise AssessmentNotFound(f"no assessment {assessment_id}")
            return _decision(row.response, row.inputs)

    def record_outcome(self, assessment_id: str, outcome: Outcome, *, actor: Actor) -> dict[str, Any]:
        """Record an inspection result; it turns reserved permit quantities into used or frees them."""
        now = dt.datetime.now(dt.timezone.utc)
        with self.database.session() as session:
            assessment = session.get(Assessment, assessment_id)
            if assessment is None:
                raise AssessmentNotFound(f"no assessment {assessment_id}")
            if session.execute(select(OutcomeRow.id).where(OutcomeRow.assessment_id == assessment_id)).first():
                raise OutcomeAlreadyRecorded(f"an outcome for assessment {assessment_id} is already recorded")
            body = outcome.model_dump(mode="json")
            endorsed = self._endorsed_in_permit_units(session, assessment, outcome)
            settle_reservations(session, assessment_id, use=outcome.result != "seizure", endorsed=endorsed)
            session.add(OutcomeRow(assessment_id=assessment_id, result=outcome.result, officer=outcome.officer, body=body,
                                   lane_override=outcome.lane_override, recorded_at=now, actor=actor.name))
            append_audit(session, actor=actor, action="outcome.create", entity="assessment", entity_id=assessment_id,
                         after=body, detail={"result": outcome.result, "officer": outcome.officer,
                                             "lane_override": outcome.lane_override}, at=now)
        return {"assessment_id": assessment_id, "recorded_at": now.isoformat()} | body

    def _endorsed_in_permit_units(self, session, assessment: Assessment, outcome: Outcome) -> dict[tuple[int, str], float]:
        if not outcome.quantity_endorsed:
            return {}
        declaration = Declaration.model_validate(session.get(DeclarationRow, assessment.declaration_pk).body)
        units = {item.line: item.unit for item in declaration.items}
        permit_units = {
            (row.declaration_line, row.number): row.unit
            for row in session.execute(
                select(Reservation.declaration_line, PermitRow.number, PermitLineRow.unit)
                .join(PermitLineRow, PermitLineRow.id == Reservation.permit_line_id)
                .join(PermitRow, PermitRow.id == PermitLineRow.permit_id)
                .where(Reservation.assessment_id == assessment.id)
            )
        }
        endorsed = {}
        for entry in outcome.quantity_endorsed:
            key = (entry.line, entry.permit)
            if key not in permit_units:
                continue
            converted = self.reference.convert(entry.quantity, units.get(entry.line), permit_units[key])
            endorsed[key] = converted if converted is not None else entry.quantity
        return endorsed


def _decision(response: dict[str, Any], inputs: dict[str, Any] | None) -> Decision:
    decision = Decision.model_validate(response)
    decision._confidential_rules = frozenset((inputs or {}).get("confidential_rules", ()))
    return decision


def refusal_findings(refused: list[dict[str, Any]]) -> list[Finding]:
    """Findings for quantities the database refused to reserve (taken meanwhile by other declarations)."""
    return [
        Finding("PERMIT_QUANTITY_EXCEEDED", r["line"], r["permit"],
                f"permit {r['permit']} has less than {r['quantity']:g} left (taken by concurrent declarations)")
        for r in refused
    ]


_PERMIT_FIELDS = tuple(f.name for f in fields(RegisteredPermit))
_LINE_FIELDS = tuple(f.name for f in fields(RegisteredLine))


def _permit_input(permit: RegisteredPermit) -> dict[str, Any]:
    """`asdict(permit)` with ISO dates, built directly: asdict deep-copies every value, on every assessment."""
    document = {name: getattr(permit, name) for name in _PERMIT_FIELDS}
    document["issued_on"] = permit.issued_on.isoformat()
    document["valid_until"] = permit.valid_until.isoformat()
    document["lines"] = [{name: getattr(line, name) for name in _LINE_FIELDS} for line in permit.lines]
    return document


def stage_inputs(prepared: Prepared) -> dict[str, Any]:
    """What the stages read, kept with the assessment so `replay` recomputes from the same facts."""
    registry = None
    if prepared.registry is not None:
        registry = [_permit_input(permit) for permit in prepared.registry.values()]
    return {"registry": registry, "history": {str(k): v for k, v in prepared.history.items()},
            "quotas": prepared.quotas, "refused": prepared.refused, "confidential_rules": prepared.confidential,
            "topup": prepared.topup}


def registry_from_inputs(inputs: dict[str, Any]) -> dict[tuple[str, str], RegisteredPermit] | None:
    if inputs.get("registry") is None:
        return None
    registry = {}
    for document in inputs["registry"]:
        lines = tuple(RegisteredLine(**line) for line in document["lines"])
        permit = RegisteredPermit(**(document | {"lines": lines, "issued_on": dt.date.fromisoformat(document["issued_on"]),
                                                 "valid_until": dt.date.fromisoformat(document["valid_until"])}))
        registry[permit.key] = permit
    return registry


def load_model_or_reason(path: Path):
    """The trained model at `path`, or None and the reason it cannot be used."""
    try:
        from riskengine.model import load_model

        return load_model(path), None
    except Exception as exc:  # ModelUnavailable, or a model the installed code cannot read
        return None, str(exc)
