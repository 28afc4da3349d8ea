"""The HTTP API: `create_app(settings)` builds it; nothing is built at import time."""
from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from riskengine.api.routes import assessments, health, permits, reference, reports, rules, stats
from riskengine.config import Settings
from riskengine.errors import ConflictError, NotFoundError, UnavailableError
from riskengine.security import ApiKeys
from riskengine.store.db import StoreUnavailable
from riskengine.store.permits import PermitNotFound

__all__ = ["create_app"]

log = logging.getLogger("riskengine.api")


class RateLimiter:
    """A token bucket per API key name, refilled continuously at `per_minute`."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 6.0)  # bursts of up to ten seconds' worth
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413 before they reach a route (pure ASGI)."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = b'{"detail":"request body too large"}'
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class Observe:
    """Per request: latency and lane metrics of assessments, 5xx counts, one structured log line (pure ASGI).

    Starlette's `@app.middleware("http")` wraps every request in a task group and memory streams;
    this middleware only watches the response start go by.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def watched_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            elapsed = time.perf_counter() - started
            state = scope.get("state") or {}
            decision = state.get("decision")
            engine = getattr(scope["app"].state, "engine", None) if "app" in scope else None
            if engine is not None:
                metrics = engine.metrics
                if decision is not None:
                    metrics.observe(decision, elapsed)
                if status >= 500:
                    metrics.errors.labels(str(status)).inc()
            if log.isEnabledFor(logging.INFO):
                actor = state.get("actor")
                log.info(
                    "request",
                    extra={"method": scope["method"], "path": scope["path"], "status": status, "ms": round(elapsed * 1000, 2),
                           "assessment_id": getattr(decision, "assessment_id", None), "actor": getattr(actor, "name", None)},
                )


def create_app(settings: Settings, *, engine=None) -> FastAPI:
    """Build the app; the engine is made at start-up from `settings` unless one is passed in."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from riskengine.engine import Engine

        owned = engine is None
        app.state.engine = engine or Engine.from_settings(settings)
        app.state.engine.database.checkpoint_in_background()  # SQLite: no 30 ms checkpoint inside a commit
        app.state.api_keys = ApiKeys(app.state.engine.database)
        # What start-up loaded (reference data, rules, model: some 200,000 objects) lives as long as
        # the process. Out of the collector's sight, it no longer makes each full collection a pause
        # of 100-200 ms in the middle of the requests it happened to fall on.
        gc.collect()
        gc.freeze()
        watcher = None
        if settings.rules.watch:
            from riskengine.watch import RulesWatcher

            watcher = RulesWatcher(app.state.engine, interval=settings.rules.watch_interval_seconds)
            watcher.start()
        try:
            yield
        finally:
            if watcher is not None:
                watcher.stop()
            app.state.api_keys.close()
            app.state.engine.database.stop_checkpointing()
            if owned:
                app.state.engine.close()

    app = FastAPI(
        title="riskengine",
        version="0.1.0",
        description="Customs risk-management engine for CITES controls: permits, analyst rules, anomaly model, lanes.",
        lifespan=lifespan,
    )
    app.state.rate_limiter = RateLimiter(settings.server.rate_limit_per_minute) if settings.server.rate_limit_per_minute else None
    for router in (assessments.router, permits.router, reference.router, rules.router, stats.router, reports.router, health.router):
        app.include_router(router)
    _install_handlers(app)

    app.add_middleware(Observe)
    app.add_middleware(BodyLimit, limit=settings.server.max_body_bytes)
    return app


def _install_handlers(app: FastAPI) -> None:
    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"detail": message, "code": code}, status_code=status)

    @app.exception_handler(NotFoundError)
    @app.exception_handler(PermitNotFound)
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return error(404, exc.code, str(exc))

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return error(409, exc.code, str(exc))

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(UnavailableError)
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("unavailable: %s", exc)
        return JSONResponse({"detail": "service unavailable: nothing was decided or recorded; retry", "code": exc.code},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return error(422, getattr(exc, "code", "INVALID"), str(exc))
