"""Simulated kiosk cameras, organised as the device is: the face scene a camera sees
(`scene`), code cards held up to it (`code_cards`), document scenes (`document_scene`), the
MJPEG-over-HTTP server that is the far side of the camera's wire (`mjpeg`), and the control
routes that change what it sees (`control`)."""

from simulator.camera.code_cards import CodeKind, paste_card, render_code_card
from simulator.camera.mjpeg import CameraServer, FrameSource
from simulator.camera.scene import FaceScene, SceneComposer

__all__ = [
    "CameraServer",
    "CodeKind",
    "FaceScene",
    "FrameSource",
    "SceneComposer",
    "paste_card",
    "render_code_card",
]
