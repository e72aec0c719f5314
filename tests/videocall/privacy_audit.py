"""Run under a display (tests/videocall/test_screen_privacy.py does): every kiosk screen with a
marker in every personal field of the view (kiosk.viewmodel.PERSONAL_FIELDS), then what the hall's
agent would be sent of it. Prints one JSON object: per screen, the texts showing a marker outside
a widget marked personal, the marker pixels left in the agent's copy, and the masked boxes."""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np

MARK = "MARK0042"
MAGENTA = (255, 0, 255)   # the "camera preview": a colour no screen draws


class NoIntents:
    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


async def audit(app, view) -> dict:
    from kivy.uix.label import Label

    from kiosk.viewmodel import PERSONAL_FIELDS, CallPhase, OptionTile, ScreenId
    from screens.screen_share import MASK_RGB, is_personal, personal_boxes, render_masked

    reason = OptionTile("too_slow", {"zh": "办理时间长", "en": "Too slow"})
    preview = np.zeros((240, 320, 3), np.uint8)
    preview[:] = MAGENTA
    markers = {
        "entry": MARK,
        "confirm_lines": (({"zh": "户名", "en": "Name"}, MARK),),
        "result_lines": ({"zh": MARK, "en": MARK},),
        "preview": preview,
        "rating_comment": MARK,
        "rating_composing": MARK,
        "rating_words": (MARK,),
    }
    assert set(markers) == set(PERSONAL_FIELDS), "a new personal field needs a marker here"
    results = {}
    for screen in ScreenId:
        # A low rating's reasons are up, so the rating screen shows the comment being typed.
        view.update(screen=screen, faces=1, rating_tags=(reason,), **markers)
        view.update(call_phase=CallPhase.IN_CALL, call_agent="wang", call_recording=True)
        await asyncio.sleep(0.5)        # laid out, textures made
        root = app.root
        leaks = []
        for widget in root.walk(restrict=True):
            if not isinstance(widget, Label) or MARK not in widget.text:
                continue
            node, covered = widget, False
            while node is not None and node is not root:
                covered = covered or is_personal(node)
                node = node.parent
            if not covered:
                leaks.append(widget.text)
        frame = render_masked(root, 540, 960)
        magenta = int((np.abs(frame.astype(int) - MAGENTA).max(axis=2) < 40).sum())
        mask = np.array(MASK_RGB) * 255
        boxes = personal_boxes(root)
        masked = []
        for x, y, w, h in boxes:
            if w < 4 or h < 4:
                continue
            top, bottom = int(frame.shape[0] - y - h) + 1, int(frame.shape[0] - y) - 1
            region = frame[max(0, top):bottom, int(x) + 1:int(x + w) - 1].astype(int)
            masked.append(bool(region.size) and float(np.abs(region - mask).max()) <= 2)
        results[screen.value] = {"leaks": leaks, "magenta_pixels": magenta,
                                 "boxes": len(boxes), "masked": masked}
    return results


def main() -> int:
    from screens.bootstrap import configure_kivy

    configure_kivy(540, 960, False, "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    from kiosk.viewmodel import SessionView
    from screens.app import KioskApp

    view = SessionView()
    app = KioskApp(view, NoIntents())
    out: dict = {}

    async def run() -> None:
        async def driver() -> None:
            while app.root is None:
                await asyncio.sleep(0.05)
            try:
                out.update(await audit(app, view))
            finally:
                app.stop()

        task = asyncio.get_running_loop().create_task(driver())
        await app.async_run(async_lib="asyncio")
        await task

    asyncio.run(run())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
