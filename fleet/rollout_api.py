"""The operators' rollout API (fleet.rollouts) and the bundle downloads kiosks make.

A bundle upload is the raw file as the request body. It is written to DATA/bundles beside its
final name, verified off the event loop as a kiosk would (signature by a release key, every
file's hash) and kept under its manifest digest; a bundle that fails is refused with the reason
code and message a kiosk would give (wire.update.errors), and nothing is kept.
Kiosks download bundles with GET /api/v1/bundles/{digest}.kbundle, unauthenticated like a
release server (the content is signed; the digest names it), with HTTP Range and a strong ETag,
so the kiosk's resumable download (kiosk.update.download) works through the fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
from pathlib import Path

from aiohttp import web

from fleet.operator_api import _error, _json, _Refuse, _user
from fleet.rollouts import RolloutRefused, RolloutState
from fleet.services import SERVICES
from fleet.store import Role
from wire.fields import JsonObject
from wire.fleet import API_PREFIX
from wire.update.bundle import verify_bundle
from wire.update.errors import UpdateRefused
from wire.update.manifest import Manifest

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_DIGEST = re.compile(r"[0-9a-f]{64}")
_PLACE = re.compile(r"[A-Za-z0-9._-]{0,64}")
CHUNK = 256 * 1024


def bundle_dir(data_dir: Path) -> Path:
    return data_dir / "bundles"


def bundle_path(data_dir: Path, digest: str) -> Path:
    return bundle_dir(data_dir) / f"{digest}.kbundle"


# -- bundles ---------------------------------------------------------------------------------


@routes.get(f"{API_PREFIX}/bundles")
async def list_bundles(request: web.Request) -> web.Response:
    await _user(request, Role.VIEWER)
    return web.json_response({"bundles": await request.app[SERVICES].store.list_bundles()})


@routes.post(f"{API_PREFIX}/bundles")
async def upload_bundle(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await _user(request, Role.OPERATOR)
    config = services.config
    if not config.release_keys:
        return _error(409, "no_release_keys",
                      message="this fleet server trusts no release key (kiosk-fleet serve"
                      " --release-key): it cannot check a bundle")
    folder = bundle_dir(config.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"upload-{secrets.token_hex(8)}.part"
    try:
        size = await _receive(request, part, config.max_bundle_bytes)
        if size is None:
            return _error(413, "too_large", most_bytes=config.max_bundle_bytes)
        try:
            manifest = await asyncio.to_thread(verify_bundle, part, config.release_keys)
        except UpdateRefused as refused:
            await services.store.audit(user["username"], "bundle_upload", "", refused.reason.value,
                                       {"size": size})
            log.warning("bundle refused", extra={"reason": refused.reason.value})
            return _error(422, "bundle_refused", reason=refused.reason.value,
                          message=str(refused))
        digest = manifest.digest()
        await asyncio.to_thread(os.replace, part, bundle_path(config.data_dir, digest))
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    added = await services.store.add_bundle(
        digest, manifest.version, manifest.min_version, manifest.key_id, size,
        manifest.runtime.included, user["username"])
    return web.json_response(_bundle_json(manifest, digest, size, added),
                             status=201 if added else 200)


async def _receive(request: web.Request, part: Path, most: int) -> int | None:
    """The request body into `part`, in chunks off the loop; None when it is larger than `most`."""
    size = 0
    out = await asyncio.to_thread(open, part, "wb")
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > most:
                return None
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    return size


def _bundle_json(manifest: Manifest, digest: str, size: int, added: bool) -> JsonObject:
    return {"digest": digest, "version": manifest.version, "min_version": manifest.min_version,
            "key_id": manifest.key_id, "size": size, "runtime_included": manifest.runtime.included,
            "new": added}


@routes.get(API_PREFIX + "/bundles/{digest}.kbundle")
async def download_bundle(request: web.Request) -> web.StreamResponse:
    digest = request.match_info["digest"]
    services = request.app[SERVICES]
    if not _DIGEST.fullmatch(digest) or await services.store.get_bundle(digest) is None:
        return _error(404, "no_such_bundle")
    # aiohttp's FileResponse answers Range and If-Range, with a strong ETag (mtime and size).
    return web.FileResponse(bundle_path(services.config.data_dir, digest))


# -- rollouts --------------------------------------------------------------------------------


def _percent(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise _Refuse(_error(400, "bad_request", reason="percent: a whole number 1-100"))
    return value


def _place(data: JsonObject, name: str) -> str:
    value = data.get(name) or ""
    if not isinstance(value, str) or not _PLACE.fullmatch(value):
        raise _Refuse(_error(400, "bad_request", reason=f"{name}: an identifier or empty"))
    return value


def _refused(exc: RolloutRefused) -> web.Response:
    status = 404 if exc.reason.startswith("no_such") else 409
    return _error(status, exc.reason, message=str(exc))


@routes.get(f"{API_PREFIX}/rollouts")
async def list_rollouts(request: web.Request) -> web.Response:
    await _user(request, Role.VIEWER)
    return web.json_response({"rollouts": await request.app[SERVICES].store.list_rollouts()})


@routes.post(f"{API_PREFIX}/rollouts")
async def create_rollout(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await _user(request, Role.OPERATOR)
    data = await _json(request)
    digest = data.get("digest")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        return _error(400, "bad_request", reason="digest: a bundle's manifest digest")
    base = services.config.public_url or f"{request.scheme}://{request.host}"
    try:
        rollout_id = await services.store.create_rollout(
            digest, f"{base}{API_PREFIX}/bundles/{digest}.kbundle", _place(data, "region"),
            _place(data, "site"), _place(data, "tag"), _percent(data.get("percent", 100)),
            user["username"])
    except RolloutRefused as exc:
        return _refused(exc)
    return web.json_response(await services.store.get_rollout(rollout_id), status=201)


@routes.get(API_PREFIX + "/rollouts/{rollout_id}")
async def get_rollout(request: web.Request) -> web.Response:
    await _user(request, Role.VIEWER)
    rollout = await request.app[SERVICES].store.get_rollout(request.match_info["rollout_id"][:64])
    if rollout is None:
        return _error(404, "no_such_rollout")
    return web.json_response(rollout)


_STATES = {"pause": RolloutState.PAUSED, "resume": RolloutState.ACTIVE,
           "abort": RolloutState.ABORTED}


async def _rollout_action(request: web.Request, action: str) -> web.Response:
    services = request.app[SERVICES]
    user = await _user(request, Role.OPERATOR)
    rollout_id = request.match_info["rollout_id"][:64]
    try:
        if action == "stage":
            data = await _json(request)
            added = await services.store.set_stage(rollout_id, _percent(data.get("percent")),
                                                   user["username"])
            result: JsonObject = {"added": added}
        else:
            result = await services.store.set_rollout_state(rollout_id, _STATES[action],
                                                            user["username"])
    except RolloutRefused as exc:
        return _refused(exc)
    return web.json_response({**result, "rollout": await services.store.get_rollout(rollout_id)})


def _action_route(action: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return await _rollout_action(request, action)

    routes.post(f"{API_PREFIX}/rollouts/{{rollout_id}}/{action}")(handler)


for _action in ("pause", "resume", "abort", "stage"):
    _action_route(_action)
