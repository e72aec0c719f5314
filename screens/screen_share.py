"""The kiosk's screen as the hall's agent sees it during a call: the window rendered again into
an offscreen buffer, smaller, with every widget that shows the citizen's own data masked.

A widget that renders one of kiosk.viewmodel.PERSONAL_FIELDS is marked with `mark_personal`.
For the agent's copy such a widget is drawn invisible (opacity 0, so text that overflows its box
is gone too) and a grey block is drawn over its box: the agent sees that something is there,
never what. The masking happens in the render itself, so no unmasked pixel of the screen ever
leaves this module. Rendering runs on the UI's clock a few times a second, only during a call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import (
    ClearBuffers,
    ClearColor,
    Color,
    Fbo,
    InstructionGroup,
    Rectangle,
    Scale,
    Translate,
)
from kivy.uix.screenmanager import ScreenManager
from kivy.uix.widget import Widget

MASK_RGB = (0.62, 0.64, 0.67)   # the block the agent sees over personal data


def mark_personal(widget: Widget) -> Widget:
    """Marks a widget that shows the citizen's own data (kiosk.viewmodel.PERSONAL_FIELDS)."""
    widget.personal = True  # type: ignore[attr-defined]
    return widget


def is_personal(widget: Widget) -> bool:
    return bool(getattr(widget, "personal", False))


def personal_widgets(root: Widget) -> list[Widget]:
    """The marked widgets on screen now (those of screens not shown are not in the tree)."""
    return [w for w in root.walk(restrict=True) if is_personal(w) and w.get_root_window()]


def personal_boxes(root: Widget) -> list[tuple[float, float, float, float]]:
    """Window boxes (x, y, w, h) of the personal widgets shown now."""
    boxes = []
    for widget in personal_widgets(root):
        x, y = widget.to_window(widget.x, widget.y)
        boxes.append((x, y, widget.width, widget.height))
    return boxes


def render_masked(root: Widget, width: int, height: int,
                  fbo_cache: dict[str, Any] | None = None) -> np.ndarray:
    """The window's picture (RGB, top row first), scaled to fit width x height, personal widgets
    masked. On the UI's thread."""
    from kivy.core.window import Window  # not at import: screens.bootstrap configures it first

    win_w, win_h = Window.size
    scale = min(width / win_w, height / win_h, 1.0)
    size = (max(2, int(win_w * scale) // 2 * 2), max(2, int(win_h * scale) // 2 * 2))
    cache = fbo_cache if fbo_cache is not None else {}
    fbo = cache.get("fbo")
    if fbo is None or tuple(fbo.size) != size:
        fbo = Fbo(size=size, with_stencilbuffer=True)
        cache["fbo"] = fbo
    fbo.clear()
    with fbo:
        ClearColor(1, 1, 1, 1)
        ClearBuffers()
        # Flipped, so the rows read back come top first; the window's coordinates throughout.
        Scale(scale, -scale, 1)
        Translate(0, -win_h, 0)
    hidden = [(w, w.opacity) for w in personal_widgets(root)]
    masks = InstructionGroup()
    masks.add(Color(*MASK_RGB, 1))
    for widget, _ in hidden:
        x, y = widget.to_window(widget.x, widget.y)
        masks.add(Rectangle(pos=(x, y), size=widget.size))
    # As Widget.export_as_image does: the root's canvas moves into the buffer and back.
    parent = root.parent.canvas if root.parent is not None else None
    index = parent.indexof(root.canvas) if parent is not None else -1
    try:
        for widget, _ in hidden:
            widget.opacity = 0
        if index > -1:
            parent.remove(root.canvas)
        fbo.add(root.canvas)
        fbo.add(masks)
        fbo.draw()
        pixels = fbo.pixels
    finally:
        fbo.remove(masks)
        fbo.remove(root.canvas)
        if index > -1:
            parent.insert(index, root.canvas)
        for widget, opacity in hidden:
            widget.opacity = opacity
    rgba = np.frombuffer(pixels, np.uint8).reshape(size[1], size[0], 4)
    return np.ascontiguousarray(rgba[:, :, :3])


class ScreenShare:
    """kiosk.videocall.ScreenFeed for the running app: masked renders at most at the call's rate,
    when the view changed (the agent's own video aside), else once a second for animations."""

    KEEPALIVE_S = 1.0

    def __init__(self, app: App, width: int = 540, height: int = 960) -> None:
        self.app = app
        self.width = width
        self.height = height
        self._slot: Any = None
        self._fps: Callable[[], float] = lambda: 0.0
        self._event: Any = None
        self._cache: dict[str, Any] = {}
        self._dirty = True
        self._last = 0.0
        self.rendered = 0
        self.render_s = 0.0   # time spent rendering on the UI's thread, in total
        app.view.subscribe(self._on_view)

    def _on_view(self, changed: set[str]) -> None:
        if changed - {"call_video"}:   # the agent's own picture is masked in the copy anyway
            self._dirty = True

    def start(self, slot: Any, fps: Callable[[], float]) -> None:
        self.stop()
        self._slot, self._fps = slot, fps
        self._dirty = True
        self._event = Clock.schedule_once(self._render, 0)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self._slot = None

    def _render(self, _dt: float) -> None:
        slot = self._slot
        if slot is None:
            return
        fps = self._fps()
        root = self.app.root
        # Mid-transition the screens are drawn from the transition's own buffers, which the
        # masking cannot reach: the agent keeps the last frame for those 0.15 s.
        fading = root is not None and any(
            isinstance(w, ScreenManager) and w.transition.is_active for w in root.walk())
        due = self._dirty or time.monotonic() - self._last >= self.KEEPALIVE_S
        if fps > 0 and root is not None and not fading and due:
            started = time.perf_counter()
            self._dirty = False
            slot.put(render_masked(root, self.width, self.height, self._cache))
            self.render_s += time.perf_counter() - started
            self.rendered += 1
            self._last = time.monotonic()
        self._event = Clock.schedule_once(self._render, 1.0 / fps if fps > 0 else 1.0)
