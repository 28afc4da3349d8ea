"""The documents riskengine exchanges: declaration, permit, decision and inspection outcome.

They follow the contracts in DESIGN.md to the field. Every model forbids unknown fields, so a
misspelt key is a 422 that names it rather than a silently ignored value.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from riskengine.reference.codes import PURPOSE_CODES, SOURCE_CODES, TERM_CODES, canonical_unit

__all__ = [
    "COUNTRY_CODES",
    "CitesAttributes",
    "CountryCode",
    "Decision",
    "Declaration",
    "DeclarationItem",
    "Outcome",
    "OutcomeFinding",
    "Party",
    "Permit",
    "PermitLine",
    "PermitParty",
    "PermitRef",
    "PermitStatusChange",
    "QuantityEndorsed",
    "Reason",
]

Direction = Literal["import", "export", "re-export", "transit"]
PermitType = Literal["export", "re-export", "import", "certificate_of_origin", "other"]
PermitStatus = Literal["valid", "cancelled", "lost", "stolen"]
Lane = Literal["red", "yellow", "blue", "green"]

# Assigned codes, plus the ranges ISO 3166 leaves to users (AA, QM-QZ, XA-XZ, ZZ): EPIX test permits
# use XA-XC for fictional Parties, and XK stands for Kosovo in customs practice.
_USER_ASSIGNED = {"AA", "ZZ"} | {f"Q{c}" for c in "MNOPQRSTUVWXYZ"} | {f"X{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_ISO2 = frozenset(c.alpha_2 for c in pycountry.countries) | _USER_ASSIGNED
COUNTRY_CODES = _ISO2  # what `CountryCode` accepts (batch checks columns against it)


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in _ISO2:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _unit(value: str | None) -> str | None:
    return canonical_unit(value)


def _code_in(allowed: frozenset[str], what: str):
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in allowed:
            raise ValueError(f"{value!r} is not a CITES {what} code")
        return code

    return check


CountryCode = Annotated[str, AfterValidator(_country)]
UnitCode = Annotated[str | None, AfterValidator(_unit)]
PurposeCode = Annotated[str | None, AfterValidator(_code_in(PURPOSE_CODES, "purpose"))]
SourceCode = Annotated[str | None, AfterValidator(_code_in(SOURCE_CODES, "source"))]
TermCode = Annotated[str | None, AfterValidator(_code_in(TERM_CODES, "term"))]
Quantity = Annotated[float, Field(ge=0, allow_inf_nan=False)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=2000)]
PermitNumber = Annotated[str, Field(min_length=1, max_length=100)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Party(_Document):
    """An importer or exporter as named on a declaration."""

    id: ShortText | None = None
    name: ShortText | None = None
    country: CountryCode


class PermitRef(_Document):
    """A CITES document cited by a declaration line."""

    number: PermitNumber
    issuing_country: CountryCode


class CitesAttributes(_Document):
    """The CITES codes declared for a line: term (description of specimens), purpose and source."""

    term: TermCode = None
    purpose: PurposeCode = None
    source: SourceCode = None


class DeclarationItem(_Document):
    """One line of a customs declaration."""

    line: int = Field(ge=1, le=9999)
    hs_code: str = Field(pattern=r"^\d{4,10}$")
    description: LongText = ""
    taxon: ShortText | None = None
    country_of_origin: CountryCode | None = None
    quantity: Quantity
    unit: UnitCode = None
    net_mass_kg: Quantity | None = None
    value: Quantity | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    cites: CitesAttributes | None = None
    permits: list[PermitRef] = Field(default_factory=list, max_length=20)

    @property
    def hs6(self) -> str:
        return self.hs_code[:6]


class Declaration(_Document):
    """A customs declaration as the single window posts it."""

    declaration_id: str = Field(min_length=1, max_length=100, pattern=r"^[\w./:-]+$")
    version: int = Field(ge=1)
    direction: Direction
    lodged_at: dt.datetime
    customs_office: str = Field(min_length=1, max_length=20)
    transport_mode: Literal["air", "sea", "road", "rail", "post", "pipeline", "other"] | None = None
    declarant_id: ShortText | None = None
    importer: Party
    exporter: Party
    country_of_export: CountryCode
    country_of_destination: CountryCode
    transit_countries: list[CountryCode] = Field(default_factory=list, max_length=20)
    items: list[DeclarationItem] = Field(min_length=1, max_length=999)

    @field_validator("lodged_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("lodged_at needs a time zone (e.g. 2026-11-27T10:00:00Z)")
        return value.astimezone(dt.timezone.utc)

    @model_validator(mode="after")
    def _unique_lines(self) -> Declaration:
        seen: set[int] = set()
        for item in self.items:
            if item.line in seen:
                raise ValueError(f"line number {item.line} appears twice in items")
            seen.add(item.line)
        return self


class PermitParty(_Document):
    """Exporter or importer as written on a permit (box 2 / box 1)."""

    name: ShortText | None = None
    address: LongText | None = None
    country: CountryCode


class PermitLine(_Document):
    """One specimen line of a CITES permit (boxes 7-15)."""

    line: int = Field(ge=1, le=9999)
    taxon: ShortText
    appendix: Literal["I", "II", "III"] | None = None
    term: TermCode = None
    purpose: PurposeCode = None
    source: SourceCode = None
    quantity: Quantity
    unit: UnitCode = None
    country_of_origin: CountryCode | None = None
    origin_permit: PermitNumber | None = None
    # Only on GET: what declarations have reserved and used against this line, in its unit.
    quantity_reserved: Quantity | None = None
    quantity_used: Quantity | None = None


class Permit(_Document):
    """A CITES permit or certificate as the Management Authority issued it."""

    number: PermitNumber
    issuing_country: CountryCode
    type: PermitType
    issued_on: dt.date
    valid_until: dt.date | None = None
    status: PermitStatus = "valid"
    exporter: PermitParty | None = None
    importer: PermitParty | None = None
    lines: list[PermitLine] = Field(min_length=1, max_length=999)

    @model_validator(mode="after")
    def _consistent(self) -> Permit:
        if self.valid_until is not None and self.valid_until < self.issued_on:
            raise ValueError("valid_until is before issued_on")
        numbers = [line.line for line in self.lines]
        if len(numbers) != len(set(numbers)):
            raise ValueError("permit line numbers must be unique")
        return self


class PermitStatusChange(_Document):
    """A Management Authority's report that a permit is cancelled, lost or stolen (or valid again)."""

    status: PermitStatus
    reason: str = Field(min_length=1, max_length=2000)


class Reason(_Document):
    """One reason behind a decision: a permit finding, a rule hit, the model score or a selection."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["permit", "rule", "model", "random", "engine", "capacity"]
    code: str | None = None
    rule_id: str | None = None
    rule_version: str | None = None
    line: int | None = None
    permit: str | None = None
    message: str | None = None
    lane: Lane | None = None
    score: float | None = None
    top_features: list[str] | None = None


class Decision(_Document):
    """The engine's answer to a declaration."""

    model_config = ConfigDict(extra="forbid")

    assessment_id: str
    declaration_id: str
    declaration_version: int
    decision: Literal["inspect", "release"]
    lane: Lane
    score: float = Field(ge=0, le=100)
    random_selection: bool = False
    reasons: list[Reason]
    ruleset_version: str | None
    model_version: str | None
    assessed_at: dt.datetime
    replayed: bool = False

    # Ids of confidential rules among the reasons: the single window sees only their codes.
    _confidential_rules: frozenset[str] = PrivateAttr(default_factory=frozenset)

    def for_single_window(self) -> Decision:
        """The decision as the single-window role may see it: confidential rules by id and lane only."""
        if not self._confidential_rules:
            return self
        reasons = [
            Reason(source="rule", rule_id=r.rule_id, rule_version=r.rule_version, line=r.line, lane=r.lane)
            if r.source == "rule" and r.rule_id in self._confidential_rules else r
            for r in self.reasons
        ]
        return self.model_copy(update={"reasons": reasons})


class OutcomeFinding(_Document):
    """What the officer found on one line."""

    line: int | None = Field(default=None, ge=1)
    code: str = Field(min_length=1, max_length=60, pattern=r"^[A-Z0-9_]+$")
    note: LongText | None = None


class QuantityEndorsed(_Document):
    """The quantity an officer endorsed on a permit for one declaration line (what crossed the border)."""

    line: int = Field(ge=1)
    permit: PermitNumber
    quantity: Quantity


class Outcome(_Document):
    """An officer's inspection result for an assessment."""

    result: Literal["no_discrepancy", "discrepancy", "seizure"]
    officer: ShortText
    findings: list[OutcomeFinding] = Field(default_factory=list, max_length=999)
    quantity_endorsed: list[QuantityEndorsed] = Field(default_factory=list, max_length=999)
    lane_override: Lane | None = None
    override_reason: LongText | None = None

    @model_validator(mode="after")
    def _override_needs_reason(self) -> Outcome:
        if self.lane_override is not None and not self.override_reason:
            raise ValueError("a lane_override needs an override_reason")
        return self


def declaration_hash(payload: dict[str, Any]) -> str:
    """Stable SHA-256 of a declaration's JSON (keys sorted), for idempotency and the audit chain."""
    import hashlib
    import json

    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()

