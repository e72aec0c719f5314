"""The menu's verdict is the device manager's answer (`availability_of`) said in i18n keys: the
same items offered, the same device named, for any health of the devices the reference
catalog's items need."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.availability import NOT_FITTED, ServiceAvailability
from kiosk.catalog import parse_catalog
from kiosk.i18n import TEXTS
from kiosk.step_library import STEP_LIBRARY
from peripherals.device_manager import ServiceRequirements, availability_of
from peripherals.errors import DeviceReason
from peripherals.health import ConnectionState, DeviceHealth, DeviceStatus, StatusKeeper
from simulator.backends import reference_catalog

ITEMS = [item for item in parse_catalog(reference_catalog(), STEP_LIBRARY).items
         if item.runs_on_kiosk]
DEVICES = sorted({name for item in ITEMS
                  for name in item.required_devices | item.optional_devices})


def status(name: str, health: DeviceHealth, reason: DeviceReason | None) -> DeviceStatus:
    keeper = StatusKeeper(name, "any", "")           # how every device service makes its status
    connection = (ConnectionState.DISCONNECTED if health is DeviceHealth.OFFLINE
                  else ConnectionState.CONNECTED)
    return keeper.update(connection, health, reason)


fitted_devices = st.dictionaries(
    st.sampled_from(DEVICES),
    st.tuples(st.sampled_from(list(DeviceHealth)), st.none() | st.sampled_from(list(DeviceReason))),
)


@settings(max_examples=300, deadline=None)
@given(fitted_devices)
def test_the_menu_offers_what_the_device_manager_offers_and_names_its_device(fitted):
    statuses = {name: status(name, health, reason) for name, (health, reason) in fitted.items()}
    menu = ServiceAvailability(lambda: statuses)
    for item in ITEMS:
        verdict = menu.check(item, network_ok=True)
        answer = availability_of(
            ServiceRequirements(item.required_devices, item.optional_devices), statuses)
        assert verdict.offered is answer.offered
        if not answer.fitted:
            assert verdict.reason_key == NOT_FITTED
        elif not answer.offered:
            assert verdict.reason_key == f"unavailable.device.{answer.device}"
            assert verdict.reason_key in TEXTS           # a plain message for every device
        elif "receipt_printer" in answer.without:
            assert verdict.warning_key == "warning.no_receipt"


def test_an_item_whose_device_is_not_fitted_is_hidden_even_when_another_is_faulty():
    item = next(i for i in ITEMS if len(i.required_devices) >= 2)
    first, *others = sorted(item.required_devices)
    statuses = {first: status(first, DeviceHealth.FAULT, DeviceReason.JAM)}   # the rest absent
    verdict = ServiceAvailability(lambda: statuses).check(item, network_ok=True)
    assert verdict == ServiceAvailability(lambda: {}).check(item, network_ok=True)
    assert not verdict.offered and verdict.reason_key == NOT_FITTED
