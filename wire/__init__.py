"""The kiosk-fleet wire: the schema of every message (`wire.fleet`, `wire.reports`, the video
call's signalling in `wire.videocall`) and the request signing, imported by both the kiosk and
the fleet server (which imports nothing of `kiosk/`)."""
