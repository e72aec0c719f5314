"""The video call's part of the gallery: the help panel with the video call offered and every
phase of the call's overlay (consent, ringing, connecting, in call, the agent's proposal and
guide, ended), in Chinese, English and elder mode, on one panel size, each checked with the
gallery's layout audit (scenarios.gallery.layout_problems). The overlay needs no card in the
reader, so the states are set on the view as kiosk.session and kiosk.videocall's desk set them.
Prints one JSON object: {"problems": [...], "shots": {label: {mode: png}}}; with --out DIR, the
PNGs, an index page and gallery.json beside them (scripts/run.sh puts it next to the gallery).

    python -m tests.videocall.call_gallery --width 1080 --height 1920 [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import numpy as np

AGENT = "王小明"
GUIDE = (
    "城乡居民水费缴纳",
    "办理条件: 本市供水范围内的居民用户; 户号见水费账单左上角",
    "申请材料: 无需材料; 持水费账单或知道户号即可",
    "办理流程: 输入户号; 核对户名与金额; 扫码支付; 打印缴费凭证",
    "收费标准: 按账单金额; 本机不收手续费",
    "办理时限: 即时办结",
)


def states() -> list[tuple[str, dict]]:
    """(label, view fields) as kiosk.session and kiosk.videocall's desk set them."""
    from kiosk.viewmodel import CallPhase, ScreenId

    frame = np.full((480, 640, 3), 90, np.uint8)
    in_call = {"screen": ScreenId.ENTER_ACCOUNT, "entry": "20230815", "help_shown": False,
               "call_phase": CallPhase.IN_CALL, "call_agent": AGENT, "call_recording": True,
               "call_video": frame, "call_note_key": "call.note.audio_only"}
    return [
        ("help-video", {"screen": ScreenId.MENU, "help_shown": True}),
        ("call-consent", {"help_shown": False, "call_phase": CallPhase.CONSENT,
                          "call_recording": True}),
        ("call-ringing", {"call_phase": CallPhase.RINGING, "call_recording": False}),
        ("call-connecting", {**in_call, "call_phase": CallPhase.CONNECTING,
                             "call_note_key": "", "call_video": None}),
        ("call-in-call", in_call),
        # Each note the strip can show (kiosk.videocall's desk: the link, the agent's, quality).
        *((f"call-note-{key.rsplit('.', 1)[1].replace('_', '-')}", {**in_call, "call_note_key": key})
          for key in ("call.note.reduced", "call.note.link_waiting", "call.note.agent_away")),
        ("call-proposal", {**in_call, "call_proposal": {"zh": "城乡居民水费缴纳",
                                                        "en": "Water bill for households"},
                           "call_guide": GUIDE}),
        ("call-ended", {"call_phase": CallPhase.ENDED, "call_end_key": "call.end.no_answer",
                        "call_proposal": {}, "call_guide": (), "call_video": None}),
    ]


async def audit(app, view, out: Path | None) -> dict:
    from kiosk.viewmodel import CallPhase, ScreenId
    from scenarios.gallery import MODES, layout_problems

    problems: list[str] = []
    shots: dict[str, dict[str, str]] = {}
    for mode in MODES:
        view.update(screen=ScreenId.MENU, call_phase=CallPhase.IDLE, help_shown=False,
                    language="en" if mode == "en" else "zh", elder=mode == "elder",
                    call_available=True, hotline="12345")
        await asyncio.sleep(0.3)
        for label, fields in states():
            view.update(**fields)
            await asyncio.sleep(0.4)            # laid out, texts fitted
            problems += layout_problems(app.root, f"{label}/{mode}")
            name = f"{label}-{mode}.png"
            shots.setdefault(label, {})[mode] = name
            if out is not None:
                app.root.export_to_png(str(out / name))
    return {"problems": problems, "shots": shots}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from screens.bootstrap import configure_kivy

    configure_kivy(args.width, args.height, False, "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    from kiosk.viewmodel import SessionView
    from screens.app import KioskApp

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    view = SessionView()
    app = KioskApp(view, _NoIntents())
    result: dict = {}

    async def run() -> None:
        async def driver() -> None:
            while app.root is None:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            try:
                result.update(await audit(app, view, args.out))
            finally:
                app.stop()

        task = asyncio.get_running_loop().create_task(driver())
        await app.async_run(async_lib="asyncio")
        await task

    asyncio.run(run())
    if args.out is not None and result:
        from scenarios.gallery import write_index

        panel = f"{args.width}x{args.height}"
        write_index(args.out, result["shots"], f"{panel}, video call")
        (args.out / "gallery.json").write_text(json.dumps(
            {"panel": f"{panel}, video call", "shots": result["shots"],
             "layout_problems": result["problems"]}, ensure_ascii=False, indent=1))
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result else 1


class _NoIntents:
    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


if __name__ == "__main__":
    sys.exit(main())
