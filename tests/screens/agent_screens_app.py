"""Run by tests/screens/test_agent_screens.py in a display of its own: the real Kivy app on a
view-model as the village agent's session sets it, printing what the widgets show (JSON)."""

import asyncio
import json
import sys

from kiosk.config import load_config
from screens.bootstrap import configure_kivy

config = load_config(None, {})
configure_kivy(config.ui.width, config.ui.height, False, config.ui.font_path)

from kivy.clock import Clock  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402

from kiosk.viewmodel import ScreenId, ServiceTile, SessionView  # noqa: E402
from screens.app import KioskApp  # noqa: E402

calls: list[str] = []


class Intents:
    def __getattr__(self, name):
        return lambda *a, **k: calls.append(name)


view = SessionView()
app = KioskApp(view, Intents())
shown: dict[str, object] = {}
TILES = (
    ServiceTile("A", {"zh": "签注", "en": "Endorsement"}, {"zh": "", "en": ""}, False,
                "unavailable.in_person_only"),
    ServiceTile("B", {"zh": "缴费", "en": "Bills"}, {"zh": "", "en": ""}, True),
)


def attract(_dt):
    emblem = app.manager.get_screen("attract").emblem
    x, y = emblem.to_window(*emblem.center)
    touch = UnitTestTouch(x, y)  # a tap on the emblem, through the window like a finger's
    touch.touch_down()
    touch.touch_up()
    view.update(screen=ScreenId.AGENT_SIGN_IN, status_key="agent.sign_in.pin", entry="123",
                entry_error_key="agent.refused.pin_wrong")
    Clock.schedule_once(sign_in, 0.5)


def sign_in(_dt):
    screen = app.manager.get_screen("agent_sign_in")
    shown.update(prompt=screen.prompt.text, entry=screen.entry.text, error=screen.error.text)
    view.update(screen=ScreenId.MENU, agent_id="VA-0001", services=TILES)
    Clock.schedule_once(menu, 0.5)


def menu(_dt):
    screen = app.manager.get_screen("menu")
    shown.update(header=screen.header.title.text, sign_out=screen.agent_out.text,
                 sign_out_height=screen.agent_out.height)
    screen.agent_out.dispatch("on_release")
    view.update(agent_id="")
    Clock.schedule_once(signed_out, 0.5)


def signed_out(_dt):
    screen = app.manager.get_screen("menu")
    shown.update(header_after=screen.header.title.text, sign_out_height_after=screen.agent_out.height)
    app.stop()


app.bind(on_start=lambda *_: Clock.schedule_once(attract, 0.5))
asyncio.run(app.async_run(async_lib="asyncio"))
json.dump({**shown, "calls": calls}, sys.stdout, ensure_ascii=False)
