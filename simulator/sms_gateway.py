"""The SMS gateway the government backends send through, and the simulated clock they share.

The gateway records every message it accepted (tests read them through the control API); with
its faults switched on it refuses, and the backends keep the message and try again later, as
a real backend's outbox does. No message is ever lost to a refusal.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from simulator.backend_faults import BackendFaults

PHONE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number


class SmsRefused(Exception):
    """The gateway did not take the message (down, failing, or not a mobile number)."""


@dataclass
class SimClock:
    """Real time plus an offset the control API can move forward, so an application's history
    (days of review) can be watched in a test that lasts seconds."""

    offset_s: float = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> float:
        self.offset_s += max(0.0, seconds)
        return self.now()


@dataclass
class SmsGateway:
    clock: SimClock
    faults: BackendFaults = field(default_factory=BackendFaults)
    messages: list[dict] = field(default_factory=list)

    def send(self, to: str, text: str, template: str) -> dict:
        if self.faults.down:
            raise SmsRefused("gateway down")
        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            raise SmsRefused("gateway error")
        if not PHONE.match(to):
            raise SmsRefused("not a mobile number")
        message = {"id": f"SMS{len(self.messages) + 1:06d}", "to": to, "text": text,
                   "template": template, "sent_at": self.clock.now()}
        self.messages.append(message)
        return message
