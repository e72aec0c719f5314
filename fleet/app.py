"""The fleet server's aiohttp application: APIs, dashboard, metrics, and the offline sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from fleet import (
    admin_api,
    kiosk_api,
    metrics,
    operator_api,
    report_api,
    rollout_api,
    sign_in,
    signalling,
    village_agent_api,
)
from fleet.auth import PasswordPool, RequestVerifier
from fleet.config import FleetConfig
from fleet.db import open_database
from fleet.leader import Leadership
from fleet.notify import Notifier, configured_channels
from fleet.openapi import openapi_document
from fleet.services import SERVICES, FleetServices
from fleet.store import FleetStore
from fleet.throttle import LoginThrottle

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


async def open_store(config: FleetConfig) -> FleetStore:
    """The fleet's store on `config`'s database, migrated, with the settings its own decisions
    use (thresholds, notification channels)."""
    store = FleetStore(
        await open_database(config.database_url, config.data_dir, config.database_pool_size),
        thresholds=config.thresholds,
        notify_channels=configured_channels(config.notify),
    )
    await store.migrate()
    return store


async def sweep_once(services: FleetServices, now: float | None = None) -> int:
    """Raise offline alerts for kiosks gone silent, fail commands whose effect never showed,
    and drop nonces and sign-in counters too old to matter. The leader's job."""
    now = time.time() if now is None else now
    raised = await services.store.raise_offline_alerts(now, services.config.thresholds)
    await services.store.expire_unseen(now, services.config.command_effect_window_s)
    await services.store.forget_nonces(now - 2 * services.config.signature_window_s)
    await services.throttle.sweep(now)
    return raised


async def _sweeper(services: FleetServices, leadership: Leadership) -> None:
    while True:
        await asyncio.sleep(services.config.sweep_interval_s)
        try:
            # Every process adds its counts to the shared counters; only the leader sweeps.
            await services.counters.flush(services.store.db)
            if await leadership.is_leader():
                await sweep_once(services)
        except Exception:  # a failed sweep must not end the sweeper; the next one retries
            log.exception("offline sweep failed")


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/dashboard/")


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/dashboard"):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
        )
    return response


def create_app(config: FleetConfig, store: FleetStore | None = None) -> web.Application:
    """The fleet server. With `store` given, the caller owns it (tests); otherwise it is opened
    from `config` on start-up and closed on clean-up."""
    app = web.Application(
        client_max_size=config.max_log_upload_bytes + 65536,
        middlewares=[_security_headers, operator_api.refusals],
    )
    app.add_routes(kiosk_api.routes)
    app.add_routes(operator_api.routes)
    app.add_routes(report_api.routes)  # statistics, e-supervision, fleet health
    app.add_routes(rollout_api.routes)  # bundles and software rollouts
    app.add_routes(sign_in.routes)
    app.add_routes(admin_api.routes)
    app.add_routes(village_agent_api.routes)
    app.add_routes(metrics.routes)
    app.router.add_get("/api/v1/openapi.json", _openapi)
    app.router.add_get("/", _root)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/dashboard/", _index)
    app.router.add_static("/dashboard/static/", STATIC_DIR)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        own = store is None
        the_store = await open_store(config) if own else store
        # A store given (tests, the benches) keeps the thresholds and notification channels
        # of the config it was opened with (open_store).
        assert the_store is not None
        services = FleetServices(
            config=config,
            store=the_store,
            verifier=RequestVerifier(the_store, window_s=config.signature_window_s),
            throttle=LoginThrottle(the_store.db, config.login_limits),
            passwords=PasswordPool(threads=config.password_threads),
        )
        app[SERVICES] = services
        leadership = Leadership(config.database_url, config.data_dir)
        tasks = [asyncio.create_task(_sweeper(services, leadership))]
        if the_store.notify_channels:
            tasks.append(asyncio.create_task(Notifier(the_store, config.notify).run()))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):  # the last few seconds' counts, if the db is there
            await services.counters.flush(the_store.db)
        await leadership.close()
        services.passwords.close()
        if own:
            await the_store.close()

    app.cleanup_ctx.append(lifecycle)
    signalling.install(app)  # video help from the hall: its routes and its call relay
    return app
