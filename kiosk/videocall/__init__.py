"""Video help from the hall (远程视频帮办): the kiosk's end of a WebRTC call to a hall agent."""

from kiosk.videocall.call_media import ScreenFeed
from kiosk.videocall.camera_feed import CameraFeed
from kiosk.videocall.desk import CallFigures, VideoCallDesk
from kiosk.videocall.signalling import CallLinkError, SignallingLink

__all__ = [
    "CallFigures",
    "CallLinkError",
    "CameraFeed",
    "ScreenFeed",
    "SignallingLink",
    "VideoCallDesk",
]
