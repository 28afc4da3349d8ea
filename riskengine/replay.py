"""Replay: recompute a stored decision from what its stages read, with the ruleset and model it used."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskengine.engine import Engine, refusal_findings, registry_from_inputs
from riskengine.errors import AssessmentNotFound, NotFoundError
from riskengine.rulelang import OnlineEvaluator, load_rules
from riskengine.schemas import Decision, Declaration
from riskengine.store.tables import Assessment, DeclarationRow, RulesetVersion

__all__ = ["ReplayResult", "replay"]

COMPARED = ("decision", "lane", "score", "random_selection", "reasons", "ruleset_version", "model_version")


@dataclass
class ReplayResult:
    stored: Decision
    recomputed: dict[str, Any]
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


def _model_for(engine: Engine, version: str | None, model_dir: Path | None):
    if version is None:
        return None
    if engine.model is not None and engine.model.version == version:
        return engine.model
    if model_dir is not None:
        from riskengine.model import load_model

        model = load_model(model_dir)
        if model.version == version:
            return model
    raise NotFoundError(f"model {version} is needed to replay this decision; pass --model with its folder")


def replay(engine: Engine, assessment_id: str, *, model_dir: Path | None = None) -> ReplayResult:
    """Recompute the decision of `assessment_id` and list every field that differs from the stored one."""
    with engine.database.session() as session:
        assessment = session.get(Assessment, assessment_id)
        if assessment is None:
            raise AssessmentNotFound(f"no assessment {assessment_id}")
        body = session.get(DeclarationRow, assessment.declaration_pk).body
        stored_rules = session.get(RulesetVersion, assessment.ruleset_version)
        inputs = assessment.inputs or {}
        stored = Decision.model_validate(assessment.response)
    if stored_rules is None:
        raise NotFoundError(f"ruleset {assessment.ruleset_version} is not recorded")
    declaration = Declaration.model_validate(body)
    model = _model_for(engine, stored.model_version, model_dir)
    with tempfile.TemporaryDirectory() as folder:
        for name, text in stored_rules.files.items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        ruleset = load_rules(Path(folder), today=_version_day(stored.ruleset_version))
    evaluator = OnlineEvaluator(ruleset)
    try:
        history = {int(k): v for k, v in inputs.get("history", {}).items()}
        prepared = engine.compute(declaration, registry=registry_from_inputs(inputs), history=history,
                                  quotas=inputs.get("quotas", {}), model=model, ruleset_version=stored.ruleset_version)
        if model is None and stored.model_version is None:
            prepared.notes = [n for n in prepared.notes if n.code not in ("MODEL_UNAVAILABLE", "MODEL_FAILED")]
            prepared.notes += [n for n in _stored_notes(stored)]
        prepared.findings.extend(refusal_findings(inputs.get("refused", [])))
        prepared.topup = inputs.get("topup", {})
        outcome = engine.evaluate(prepared, rules=_Locked(evaluator))
    finally:
        evaluator.close()
    recomputed = {
        "decision": outcome.decision, "lane": outcome.lane, "score": outcome.score,
        "random_selection": outcome.random_selection,
        "reasons": [r.model_dump(mode="json") for r in Decision.model_validate(
            stored.model_dump() | {"reasons": outcome.reasons}).reasons],
        "ruleset_version": ruleset.version,
        "model_version": model.version if model is not None else None,
    }
    before = stored.model_dump(mode="json")
    differences = [f"{key}: stored {before[key]!r}, recomputed {recomputed[key]!r}" for key in COMPARED if before[key] != recomputed[key]]
    return ReplayResult(stored=stored, recomputed=recomputed, differences=differences)


def _version_day(version: str | None):
    """The load day a ruleset version carries ("2026.11.27-ab12cd"), so the same files give the same version."""
    import datetime as dt

    try:
        return dt.datetime.strptime((version or "").split("-")[0], "%Y.%m.%d").date()
    except ValueError:
        return None


def _stored_notes(stored: Decision):
    from riskengine.decision.lanes import StageNote

    return [StageNote(r.code, r.message, r.lane) for r in stored.reasons if r.source == "engine" and r.code in ("MODEL_UNAVAILABLE", "MODEL_FAILED")]


class _Locked:
    """Adapter giving a bare evaluator the RulesHolder's `evaluate` signature."""

    def __init__(self, evaluator: OnlineEvaluator) -> None:
        self.evaluator = evaluator

    def evaluate(self, facts, *, on=None):
        return self.evaluator.evaluate(facts, on=on)
