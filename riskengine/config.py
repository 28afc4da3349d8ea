"""Settings: one validated object built from config.yaml and RISKENGINE_<SECTION>__<KEY> variables."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = ["Settings", "load_settings", "DEFAULT_CONFIG"]

DEFAULT_CONFIG = Path("config.yaml")
Lane = Literal["red", "yellow", "blue", "green"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = "sqlite:///riskengine.db"
    echo: bool = False


class RulesSettings(_Section):
    dir: Path = Path("rules")
    watch: bool = False
    watch_interval_seconds: float = Field(default=2.0, gt=0)


class ModelSettings(_Section):
    path: Path = Path("models/current")
    weight: float = Field(default=60.0, ge=0, le=100)


class ReferenceSettings(_Section):
    data_dir: Path | None = None
    imported_dir: Path = Path("var/reference")

    @field_validator("data_dir", mode="before")
    @classmethod
    def _empty_is_shipped(cls, value: Any) -> Any:
        return None if value in ("", None) else value


class DecisionSettings(_Section):
    blue_threshold: float = Field(default=30.0, ge=0, le=100)
    yellow_threshold: float = Field(default=50.0, ge=0, le=100)
    red_threshold: float = Field(default=75.0, ge=0, le=100)
    random_rate: float = Field(default=0.02, ge=0, le=1)
    random_lane: Lane = "yellow"
    random_salt: str = ""
    registry_unavailable_lane: Lane = "yellow"
    finding_lanes: dict[str, Lane] = Field(default_factory=dict)
    # Expected share of declarations per inspection lane; a lane below it is topped up from the
    # highest-scored released declarations (None: no top-up).
    capacity: dict[Literal["red", "yellow"], float | None] = Field(default_factory=dict)
    capacity_window: int = Field(default=5000, ge=10)
    capacity_refresh: int = Field(default=200, ge=1)

    @field_validator("red_threshold")
    @classmethod
    def _ordered(cls, red: float, info: Any) -> float:
        yellow = info.data.get("yellow_threshold", 0)
        blue = info.data.get("blue_threshold", 0)
        if not blue <= yellow <= red:
            raise ValueError("thresholds must satisfy blue_threshold <= yellow_threshold <= red_threshold")
        return red


class PermitSettings(_Section):
    export_validity_months: int = Field(default=6, ge=1)
    import_validity_months: int = Field(default=12, ge=1)
    quantity_tolerance: float = Field(default=0.001, ge=0, lt=1)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1000)
    rate_limit_per_minute: int = Field(default=30000, ge=0)
    # Declarations that arrive while the engine is busy are assessed together, in one read snapshot
    # and one write transaction (group commit), at most this many at a time; 1 assesses one by one.
    assessment_batch: int = Field(default=64, ge=1, le=1000)


class RetentionSettings(_Section):
    # Years records are kept after the permit's expiry (and after lodging, assessment and outcome)
    # before `riskengine retention purge` may archive and remove them; never fewer than 5.
    years: int = Field(default=5, ge=5)


class Settings(BaseSettings):
    """Every setting of riskengine; environment variables win over the YAML file."""

    model_config = SettingsConfigDict(
        env_prefix="RISKENGINE_", env_nested_delimiter="__", extra="forbid", nested_model_default_partial_update=True
    )

    database: DatabaseSettings = DatabaseSettings()
    rules: RulesSettings = RulesSettings()
    model: ModelSettings = ModelSettings()
    reference: ReferenceSettings = ReferenceSettings()
    decision: DecisionSettings = DecisionSettings()
    permits: PermitSettings = PermitSettings()
    server: ServerSettings = ServerSettings()
    retention: RetentionSettings = RetentionSettings()
    config_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    def resolve(self, path: Path) -> Path:
        """A configured path made absolute against the config file's folder (or the working directory)."""
        if path.is_absolute():
            return path
        base = self.config_file.parent if self.config_file else Path.cwd()
        return (base / path).resolve()


class ConfigError(ValueError):
    """The configuration file cannot be read or does not validate."""


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Settings from `path` (default ./config.yaml when present), environment, then `overrides` sections."""
    data: dict[str, Any] = {}
    explicit = path is not None
    file = Path(path) if path is not None else DEFAULT_CONFIG
    if file.exists():
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: the top level must be a mapping of sections")
        data = loaded
        data["config_file"] = file.resolve()
    elif explicit:
        raise ConfigError(f"{file}: configuration file not found")
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings(**data)
    except Exception as exc:  # pydantic.ValidationError: keep the field paths in the message
        raise ConfigError(f"{file}: {exc}") from exc
