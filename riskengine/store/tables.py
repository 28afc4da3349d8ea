"""The database tables (SQLAlchemy 2 declarative); Alembic migrations follow these."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ApiKey",
    "Assessment",
    "AuditHead",
    "AuditRecord",
    "Base",
    "DeclarationLineRow",
    "DeclarationPermitRef",
    "DeclarationRow",
    "EngineState",
    "OutcomeRow",
    "PermitLineRow",
    "PermitRow",
    "ReasonRow",
    "Reservation",
    "RulesetVersion",
]

UTCDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class PermitRow(Base):
    __tablename__ = "permits"
    __table_args__ = (UniqueConstraint("issuing_country", "number", name="uq_permit_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuing_country: Mapped[str] = mapped_column(String(2))
    number: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(30))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)  # declared, or derived from the type
    valid_until_declared: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="valid")
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    lines: Mapped[list[PermitLineRow]] = relationship(
        back_populates="permit", cascade="all, delete-orphan", order_by="PermitLineRow.line"
    )


class PermitLineRow(Base):
    __tablename__ = "permit_lines"
    __table_args__ = (UniqueConstraint("permit_id", "line", name="uq_permit_line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permits.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    taxon: Mapped[str] = mapped_column(String(200))
    appendix: Mapped[str | None] = mapped_column(String(3), nullable=True)
    term: Mapped[str | None] = mapped_column(String(3), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(1), nullable=True)
    source: Mapped[str | None] = mapped_column(String(1), nullable=True)
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(3), nullable=True)
    country_of_origin: Mapped[str | None] = mapped_column(String(2), nullable=True)
    origin_permit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    quantity_reserved: Mapped[float] = mapped_column(Float, default=0.0)
    quantity_used: Mapped[float] = mapped_column(Float, default=0.0)

    permit: Mapped[PermitRow] = relationship(back_populates="lines")


class DeclarationRow(Base):
    __tablename__ = "declarations"
    __table_args__ = (UniqueConstraint("declaration_id", "version", name="uq_declaration_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    declaration_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    body_hash: Mapped[str] = mapped_column(String(64))
    lodged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DeclarationLineRow(Base):
    """One row per declaration line, indexed for the history aggregates that rules use."""

    __tablename__ = "declaration_lines"
    __table_args__ = (
        Index("ix_declaration_lines_exporter", "exporter_id", "lodged_at"),
        Index("ix_declaration_lines_importer", "importer_id", "lodged_at"),
        Index("ix_declaration_lines_route", "country_of_export", "country_of_destination", "hs4", "lodged_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    declaration_pk: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"), index=True)
    declaration_id: Mapped[str] = mapped_column(String(100))
    line: Mapped[int] = mapped_column(Integer)
    lodged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    importer_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    exporter_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    country_of_export: Mapped[str] = mapped_column(String(2))
    country_of_destination: Mapped[str] = mapped_column(String(2))
    hs4: Mapped[str] = mapped_column(String(4))
    permits: Mapped[str] = mapped_column(String(2000), default="", index=True)  # ';'-joined CC:NUMBER


class DeclarationPermitRef(Base):
    """One row per permit a declaration line cites, indexed so citations of a permit are counted fast:
    the index holds the declaration ids, so counting the first hundred distinct ones stops there."""

    __tablename__ = "declaration_permit_refs"
    __table_args__ = (Index("ix_declaration_permit_refs_citing", "issuing_country", "number", "declaration_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    declaration_pk: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"), index=True)
    declaration_id: Mapped[str] = mapped_column(String(100))
    line: Mapped[int] = mapped_column(Integer)
    issuing_country: Mapped[str] = mapped_column(String(2))
    number: Mapped[str] = mapped_column(String(100))
    lodged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Assessment(Base):
    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    declaration_pk: Mapped[int] = mapped_column(ForeignKey("declarations.id"), unique=True)
    declaration_id: Mapped[str] = mapped_column(String(100), index=True)
    declaration_version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(10))
    lane: Mapped[str] = mapped_column(String(10), index=True)
    score: Mapped[float] = mapped_column(Float)
    random_selection: Mapped[bool] = mapped_column(Boolean, default=False)
    ruleset_version: Mapped[str | None] = mapped_column(String(60), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(80), nullable=True)
    customs_office: Mapped[str] = mapped_column(String(20), index=True)
    assessed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the stages read (registry snapshot, history aggregates, reservation refusals), for replay.
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(100))

    reasons: Mapped[list[ReasonRow]] = relationship(cascade="all, delete-orphan", order_by="ReasonRow.position")


class ReasonRow(Base):
    __tablename__ = "reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(60), nullable=True, index=True)
    rule_id: Mapped[str | None] = mapped_column(String(60), nullable=True, index=True)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    permit: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lane: Mapped[str | None] = mapped_column(String(10), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class Reservation(Base):
    """Quantity of a permit line claimed by one assessed declaration line."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    permit_line_id: Mapped[int] = mapped_column(ForeignKey("permit_lines.id"), index=True)
    declaration_line: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[float] = mapped_column(Float)  # in the permit line's unit
    state: Mapped[str] = mapped_column(String(10))  # reserved, used, freed


class OutcomeRow(Base):
    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), unique=True)
    result: Mapped[str] = mapped_column(String(20))
    officer: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    lane_override: Mapped[str | None] = mapped_column(String(10), nullable=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(40))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditRecord(Base):
    """Append-only, hash-chained log of every write: who, what, when, before and after."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(200), index=True)
    before_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    after_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row: the last sequence number and hash, locked by each writer so the chain stays linear."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class RulesetVersion(Base):
    """The exact rule files behind a ruleset version, so any decision can be replayed."""

    __tablename__ = "ruleset_versions"

    version: Mapped[str] = mapped_column(String(60), primary_key=True)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class EngineState(Base):
    """Small key-value facts of this installation (the generated random-selection salt)."""

    __tablename__ = "engine_state"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
