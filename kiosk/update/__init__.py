"""Software updates: signed bundles installed into the spare of two slots, a trial, a rollback.

The kiosk process uses `UpdateAgent`; the updater unit runs `kiosk-update`; the slot guard
(`kiosk.update.guard`, standard library only) runs as root around every start of the kiosk.
"""

from kiosk.update.guard import Outcome, RollbackReason
from wire.update.errors import Postponed, Refusal, UpdatePostponed, UpdateRefused

__all__ = ["Outcome", "Postponed", "Refusal", "RollbackReason", "UpdatePostponed",
           "UpdateRefused"]
