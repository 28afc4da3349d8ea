"""Prometheus metrics of one process: assessments by lane, latency, rule hits, errors, model mode, rules in force."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["Metrics"]


class Metrics:
    def __init__(self, database=None, rules=None) -> None:
        self.registry = CollectorRegistry()
        if database is not None:  # its SQLite checkpoint thread, while the server runs one
            self.registry.register(_Checkpoints(database))
        if rules is not None:
            self.registry.register(_Rules(rules))
        self.assessments = Counter("riskengine_assessments_total", "Assessments decided, by lane", ["lane", "replayed"], registry=self.registry)
        self.latency = Histogram(
            "riskengine_assessment_seconds", "Time to assess one declaration",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0), registry=self.registry,
        )
        self.rule_hits = Counter("riskengine_rule_hits_total", "Rule hits", ["rule_id"], registry=self.registry)
        self.findings = Counter("riskengine_permit_findings_total", "Permit findings", ["code"], registry=self.registry)
        self.errors = Counter("riskengine_errors_total", "Requests that failed, by kind", ["kind"], registry=self.registry)
        self.batch_size = Histogram(
            "riskengine_assessment_batch_size", "Declarations assessed together in one write transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=self.registry,
        )
        self.model_mode = Gauge("riskengine_model_loaded", "1 when a model scores declarations, 0 in rules-only mode", registry=self.registry)

    def observe(self, decision, seconds: float) -> None:
        self.assessments.labels(decision.lane, str(decision.replayed).lower()).inc()
        self.latency.observe(seconds)
        if decision.replayed:
            return
        for reason in decision.reasons:
            if reason.source == "rule" and reason.rule_id:
                self.rule_hits.labels(reason.rule_id).inc()
            elif reason.source == "permit" and reason.code:
                self.findings.labels(reason.code).inc()


class _Checkpoints:
    """What the SQLite checkpoint thread (`Database.checkpoint_in_background`) did, read at each scrape;
    nothing while no thread runs. Failures that keep rising mean commits are checkpointing inline again."""

    def __init__(self, database) -> None:
        self.database = database

    def collect(self):
        checkpointer = self.database.checkpointer
        if checkpointer is None:
            return
        yield CounterMetricFamily("riskengine_sqlite_checkpoints", "Background WAL checkpoints run", value=checkpointer.runs)
        yield CounterMetricFamily("riskengine_sqlite_checkpoint_frames",
                                  "WAL frames copied into the database by background checkpoints", value=checkpointer.frames)
        yield CounterMetricFamily("riskengine_sqlite_checkpoint_failures", "Background WAL checkpoints that failed",
                                  value=checkpointer.failures)


class _Rules:
    """The rules in force, read at each scrape. `riskengine_rules_reload_failing` is 1 while the last
    reload was refused (a broken file under rules/): the previous rules still decide, and an
    operator should be told before analysts assume their change is live."""

    def __init__(self, rules) -> None:
        self.rules = rules

    def collect(self):
        yield GaugeMetricFamily("riskengine_rules_loaded", "Rules in force", value=len(self.rules.ruleset.rules))
        yield GaugeMetricFamily("riskengine_rules_loaded_timestamp_seconds", "When the rules in force were loaded (Unix time)",
                                value=self.rules.loaded_at.timestamp())
        yield GaugeMetricFamily("riskengine_rules_reload_failing",
                                "1 while the last reload was refused and the previous rules stay in force",
                                value=1 if self.rules.last_error else 0)
