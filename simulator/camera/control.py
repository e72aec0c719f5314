"""The cameras' switches on the simulator's control API: what stands before the face camera,
what lies under the document camera, a code held up to either."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulator.camera.code_cards import CodeKind
from simulator.camera.document_scene import DocumentPose, DocumentScene, DocumentSceneComposer
from simulator.camera.scene import FaceScene, SceneComposer


async def _body_of(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text="body must be JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


def _bad(message: str, accepted: list[str]) -> web.Response:
    return web.json_response({"error": message, "accepted": accepted}, status=400)


def _pose_of(body: dict[str, Any]) -> DocumentPose:
    """The document's pose a request asks for; ValueError or TypeError when it cannot be."""
    pose = DocumentPose()
    x, y = [float(v) for v in body.get("centre", pose.centre)][:2]
    return DocumentPose(
        centre=(x, y),
        angle_deg=float(body.get("angle_deg", pose.angle_deg)),
        tilt=float(body.get("tilt", pose.tilt)),
        shadow=bool(body.get("shadow", pose.shadow)),
        glare=bool(body.get("glare", pose.glare)),
    )


def add_control_routes(
    routes: web.RouteTableDef,
    composer: SceneComposer,
    document_composer: DocumentSceneComposer | None = None,
) -> None:
    """Add the cameras' control endpoints to the simulator's control API.

    - ``POST /face/scene {"scene": name}``: what stands before the face camera
      (a :class:`FaceScene` name).
    - ``POST /document/scene {"scene": name, "angle_deg"?, "centre"?, "tilt"?, "shadow"?,
      "glare"?}``: what lies under the document camera (a ``DocumentScene`` name).
    - ``POST /camera/code {"data": text, "kind": "qr"|"code128", "camera"?: "face"|
      "document"}``: hold a code up to a camera; ``{"data": null}`` takes it away.

    Unknown names and bad bodies answer 400 with the accepted values.
    """
    @routes.post("/face/scene")
    async def face_scene(request: web.Request) -> web.Response:
        body = await _body_of(request)
        try:
            composer.scene = str(body.get("scene"))
        except ValueError:
            return _bad("unknown face scene", [s.value for s in FaceScene])
        return web.json_response({"scene": composer.scene})

    @routes.post("/document/scene")
    async def document_scene(request: web.Request) -> web.Response:
        if document_composer is None:
            return _bad("no document camera in this simulator", [])
        body = await _body_of(request)
        try:
            document_composer.scene = str(body.get("scene"))
        except ValueError:
            return _bad("unknown document scene", [s.value for s in DocumentScene])
        try:
            document_composer.pose = _pose_of(body)
        except (TypeError, ValueError):
            return _bad("bad pose", ["centre", "angle_deg", "tilt", "shadow", "glare"])
        return web.json_response({"scene": document_composer.scene})

    @routes.post("/camera/code")
    async def camera_code(request: web.Request) -> web.Response:
        body = await _body_of(request)
        target: SceneComposer | DocumentSceneComposer | None = (
            document_composer if body.get("camera") == "document" else composer
        )
        if target is None:
            return _bad("no such camera", ["face", "document"])
        data = body.get("data")
        if data is None:
            target.hide_code()
            return web.json_response({"code": None})
        try:
            target.show_code(str(data), str(body.get("kind", CodeKind.QR.value)))
        except ValueError:
            return _bad("cannot show this code", [k.value for k in CodeKind])
        return web.json_response({"code": {"data": str(data), "kind": body.get("kind", "qr")}})
