"""The device manager: watches every peripheral, reconnects with backoff, turns status changes
into events, and says which service items can be offered right now and why not.

Each device is refreshed about once a second on its own worker (a refresh is a real round trip
on the device's transport); one that is offline is retried at growing intervals (0.5 s doubling
to `backoff_max_s`), and its recovery is announced as soon as a retry succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from peripherals.errors import DeviceReason
from peripherals.health import (
    ConnectionState,
    DeviceEvent,
    DeviceEventKind,
    DeviceHealth,
    DeviceStatus,
    Peripheral,
    SelfTestResult,
)

log = logging.getLogger(__name__)

Subscriber = Callable[[DeviceEvent], None]
_SUPPLY_REASONS = {DeviceReason.PAPER_NEAR_END, DeviceReason.STOCK_LOW, DeviceReason.TONER_LOW}


@dataclass(frozen=True)
class ServiceRequirements:
    """The devices a service item needs (`required`) and those it can do without (`optional`)."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Availability:
    """Whether an item can be offered now; `reason` and the `device` that stops it when not
    (`fitted` False: the kiosk has no such device at all), `warnings` to tell the citizen before
    paying (e.g. PAPER_OUT: no printed receipt) and the optional devices it will run `without`."""

    offered: bool
    reason: DeviceReason | None = None
    warnings: tuple[DeviceReason, ...] = ()
    device: str | None = None
    fitted: bool = True
    without: tuple[str, ...] = ()


def availability_of(
    requirements: ServiceRequirements, statuses: Mapping[str, DeviceStatus]
) -> Availability:
    """The one answer to "can this item run now, and why not", from the devices' statuses."""
    missing = sorted(requirements.required - statuses.keys())
    if missing:  # never runs on this kiosk, whatever the other devices' health
        return Availability(False, DeviceReason.NOT_SUPPORTED, device=missing[0], fitted=False)
    warnings: list[DeviceReason] = []
    for name in sorted(requirements.required):
        status = statuses[name]
        if not status.health.usable:
            return Availability(False, status.reason or DeviceReason.DEVICE_SILENT, device=name)
        if status.reason is not None:
            warnings.append(status.reason)
    without: list[str] = []
    for name in sorted(requirements.optional - requirements.required):
        optional = statuses.get(name)
        if optional is None:
            warnings.append(DeviceReason.NOT_SUPPORTED)
            without.append(name)
        elif not optional.health.usable:
            warnings.append(optional.reason or DeviceReason.DEVICE_SILENT)
            without.append(name)
        elif optional.reason is not None:
            warnings.append(optional.reason)
    return Availability(True, None, tuple(dict.fromkeys(warnings)), without=tuple(without))


def _event_kind(old: DeviceStatus | None, new: DeviceStatus) -> DeviceEventKind:
    if new.health is DeviceHealth.OFFLINE and (
        old is None or old.health is not DeviceHealth.OFFLINE
    ):
        return DeviceEventKind.LOST
    if new.health.usable and old is not None and not old.health.usable:
        return DeviceEventKind.RECOVERED
    if new.reason in _SUPPLY_REASONS and (old is None or old.reason != new.reason):
        return DeviceEventKind.SUPPLY_LOW
    return DeviceEventKind.STATUS_CHANGED


class DeviceManager:
    """Owns the watch loops of `devices`; read `snapshot()` and `availability()`, or subscribe."""

    def __init__(
        self,
        devices: list[Peripheral],
        poll_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 4.0,
        refresh_timeout_s: float = 5.0,
    ) -> None:
        names = [device.name for device in devices]
        if len(set(names)) != len(names):
            raise ValueError(f"device names must be unique: {names}")
        self.devices = {device.name: device for device in devices}
        self.poll_s = poll_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.refresh_timeout_s = refresh_timeout_s
        self._statuses: dict[str, DeviceStatus] = {}
        self._subscribers: list[Subscriber] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._changed: asyncio.Condition | None = None
        self._notifying: set[asyncio.Task[None]] = set()
        self._running = False

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every device, take a first reading of each, then watch them."""
        self._changed = asyncio.Condition()
        self._running = True
        for device in self.devices.values():
            device.set_event_sink(self._device_event)
        await asyncio.gather(*(self._start_device(d) for d in self.devices.values()))
        for name in self.devices:
            self._wake[name] = asyncio.Event()
            self._tasks[name] = asyncio.create_task(self._watch(name), name=f"watch-{name}")

    async def stop(self) -> None:
        self._running = False
        tasks, self._tasks = list(self._tasks.values()), {}
        for event in self._wake.values():
            event.set()
        for task in tasks:
            task.cancel()
        if tasks:
            # The flag ends a loop whose cancellation was lost in a race (Python 3.11's
            # wait_for can drop one when the awaited call finishes at the same moment).
            await asyncio.wait(tasks, timeout=self.refresh_timeout_s + 1)
        for device in self.devices.values():
            try:
                await device.stop()
            except Exception:  # one device's bad stop must not keep the others running
                log.exception("stopping %s failed", device.name)

    async def _start_device(self, device: Peripheral) -> None:
        try:
            async with asyncio.timeout(self.refresh_timeout_s):
                await device.start()
        except Exception:  # noqa: BLE001 - the watch loop retries; a first failure is a status
            log.warning("device %s did not start", device.name, exc_info=True)
        await self._refresh(device.name)

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, DeviceStatus]:
        return dict(self._statuses)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """`callback(event)` on the loop for every status change and device event."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def poke(self, name: str) -> None:
        """Refresh `name` now instead of at its next turn (after a failed operation)."""
        if name in self._wake:
            self._wake[name].set()

    async def self_test(self) -> dict[str, SelfTestResult]:
        results = await asyncio.gather(*(d.self_test() for d in self.devices.values()))
        for result in results:
            self._record(result.device, result.status)
        return {result.device: result for result in results}

    def availability(self, requirements: ServiceRequirements) -> Availability:
        """Whether an item needing `requirements` can run on the devices as they are now."""
        return availability_of(requirements, self._statuses)

    async def wait_until(
        self, predicate: Callable[[dict[str, DeviceStatus]], bool], timeout: float
    ) -> dict[str, DeviceStatus]:
        """Waits until `predicate(snapshot)` holds; TimeoutError after `timeout` s."""
        assert self._changed is not None, "start() first"
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: predicate(self.snapshot())), timeout
            )
        return self.snapshot()

    # -- watching ---------------------------------------------------------------------------

    async def _watch(self, name: str) -> None:
        delay = self.poll_s
        backoff: float | None = None  # set while the device is offline
        wake = self._wake[name]
        while self._running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await wake.wait()
            wake.clear()
            if not self._running:
                return
            status = await self._refresh(name)
            if status.health is DeviceHealth.OFFLINE:
                backoff = (
                    self.backoff_initial_s
                    if backoff is None
                    else min(backoff * 2, self.backoff_max_s)
                )
                delay = backoff
            else:
                backoff, delay = None, self.poll_s

    async def _refresh(self, name: str) -> DeviceStatus:
        device = self.devices[name]
        try:
            async with asyncio.timeout(self.refresh_timeout_s):
                status = await device.refresh()
        except Exception as exc:  # noqa: BLE001 - a hung or broken refresh is a status too
            log.warning("refreshing %s failed: %r", name, exc)
            status = replace(
                device.status(),
                connection=ConnectionState.DISCONNECTED,
                health=DeviceHealth.OFFLINE,
                reason=DeviceReason.DEVICE_SILENT,
                changed_at=time.monotonic(),
            )
        self._record(name, status)
        return status

    def _record(self, name: str, status: DeviceStatus) -> None:
        old = self._statuses.get(name)
        self._statuses[name] = status
        if old is not None and status.same_state(old):
            return
        level = logging.INFO if status.health.usable else logging.WARNING
        log.log(level, "%s is %s (%s)", name, status.health.value,
                status.reason.value if status.reason else "-",
                extra={"device": name, "reason": status.reason.value if status.reason else None})  # fmt: skip
        self._publish(DeviceEvent(name, _event_kind(old, status), status, old))

    def _device_event(self, event: DeviceEvent) -> None:
        self._statuses[event.device] = event.status
        self._publish(event)

    def _publish(self, event: DeviceEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a subscriber's bug must not stop the watch
                log.exception("device event subscriber failed")
        if self._changed is not None:
            notify = asyncio.get_running_loop().create_task(self._notify())
            self._notifying.add(notify)   # the loop keeps only a weak reference to a task
            notify.add_done_callback(self._notifying.discard)

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
