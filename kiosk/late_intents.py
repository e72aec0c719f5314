"""The screens' intents while the kiosk's core comes up behind the attract screen (kiosk.main)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.json_object import JsonObject


class LateIntents:
    """The screens' intents (kiosk.viewmodel.Intents) before the session exists: what the
    citizen does on the attract screen meanwhile is kept, in order, and given to the session
    when it takes over; from then on every intent goes straight to it."""

    def __init__(self, on_attach: Callable[[], None] = lambda: None) -> None:
        # Any: the session (kiosk.session.KioskSession), whose intents are found by name, and
        # their arguments, each of its own type.
        self._session: Any = None
        # Any: as above.
        self._kept: list[tuple[str, tuple[Any, ...], JsonObject]] = []
        self._on_attach = on_attach   # the kiosk serves citizens from then on

    # Any: the session, as above.
    def attach(self, session: Any) -> None:
        self._session = session
        kept, self._kept = self._kept, []
        for name, args, kwargs in kept:
            getattr(session, name)(*args, **kwargs)
        self._on_attach()

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._session is not None:
            return getattr(self._session, name)  # type: ignore[no-any-return]

        # A screen built before the session keeps this very callable (a keyboard bound to
        # `intents.search_key`): it must reach the session once there is one, not keep forever.
        # Any: the intent's own arguments.
        def keep_or_forward(*args: Any, **kwargs: Any) -> None:
            if self._session is not None:
                getattr(self._session, name)(*args, **kwargs)
            else:
                self._kept.append((name, args, kwargs))

        return keep_or_forward
