"""The kiosk's video-call desk composed from its context (kiosk.app.build_session calls this)."""

from __future__ import annotations

from pathlib import Path

from kiosk.catalog_cache import CatalogCache
from kiosk.flow import FlowContext
from kiosk.service_guide import guide_for
from kiosk.videocall.call_media import ScreenFeed
from kiosk.videocall.camera_feed import CameraFeed
from kiosk.videocall.desk import VideoCallDesk
from kiosk.videocall.signalling import SignallingLink
from wire.videocall import ItemRef


def build_video_calls(ctx: FlowContext, catalogs: CatalogCache,
                      screen: ScreenFeed | None) -> VideoCallDesk | None:
    """Video help from the hall (kiosk.videocall), when provisioning enrolled this kiosk with a
    fleet (else None): the desk behind the session's call intents, asking the site's policy,
    sharing `screen` (the UI's, when there is a window). The session takes it at construction;
    it talks to nobody until `start()`."""
    config = ctx.config
    if not config.fleet.enrolled:
        return None
    key = Path(config.fleet.device_key_path).read_bytes()
    link = SignallingLink(config.fleet.server_url, config.kiosk_id, key)
    camera = ctx.devices.face_camera
    view = ctx.view

    def menu() -> tuple[ItemRef, ...]:
        return tuple(ItemRef(t.code, dict(t.title)) for t in view.services if t.available)

    def guide(code: str) -> tuple[str, ...]:
        catalog = catalogs.in_force
        if catalog is None:
            return ()
        try:
            shown = guide_for(catalog.item(code), view.language)
        except KeyError:
            return ()
        return (shown.title, *(f"{s.heading}: " + "; ".join(s.lines) for s in shown.sections))

    return VideoCallDesk(config.call, view, link, CameraFeed(camera) if camera else None,
                         menu, guide, ctx.tasks, screen)
