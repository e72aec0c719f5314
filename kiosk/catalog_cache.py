"""The last good catalog on disk, with the validators it was published with; a fetched catalog
replaces it only once kiosk.catalog has parsed and validated it."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from kiosk.backends import CatalogValidators
from kiosk.catalog import CatalogError, parse_catalog
from kiosk.catalog_model import Catalog
from kiosk.step_params import StepLibrary

log = logging.getLogger(__name__)


class CatalogCache:
    """The last good catalog on disk; replaced only by one that parsed and validated. Beside it,
    the validators it was published with (kiosk.backends.CatalogValidators), for the next
    conditional fetch."""

    def __init__(self, path: Path, library: StepLibrary) -> None:
        self.path = path
        self.library = library
        # The catalog the kiosk serves by (the session sets it on the loop, kiosk.session); the
        # video-call desk reads it too, built before the session.
        self.in_force: Catalog | None = None

    @property
    def validators_path(self) -> Path:
        return self.path.with_suffix(".validators.json")

    def load(self) -> Catalog | None:
        try:
            return parse_catalog(self.path.read_bytes(), self.library)
        except FileNotFoundError:
            return None
        except CatalogError as exc:
            log.error("cached catalog unusable: %s", exc, extra={"reason": exc.reason.value})
            return None

    def validators(self) -> CatalogValidators | None:
        """What the cached copy was published as; None when unknown (then fetch it whole)."""
        try:
            data = json.loads(self.validators_path.read_text())
            return CatalogValidators(str(data["etag"]), str(data["last_modified"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def accept(self, raw: bytes, validators: CatalogValidators | None = None) -> Catalog:
        """Parses `raw`; if good, makes it the cached catalog (atomically) and returns it."""
        catalog = parse_catalog(raw, self.library)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The old validators go first: a crash between the two writes must never leave the
        # new catalog's name on the old copy (a 304 would then keep the wrong one).
        self.validators_path.unlink(missing_ok=True)
        _write_atomically(self.path, raw)
        if validators is not None and (validators.etag or validators.last_modified):
            _write_atomically(self.validators_path, json.dumps(
                {"etag": validators.etag, "last_modified": validators.last_modified}).encode())
        return catalog


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
