"""What a chip read gives (`PermitRead`) and the MRZ data it needs (`BacKey`); neither shows
personal data in its repr."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from drivers.active_auth import ActiveAuthResult, ActiveAuthVerdict
from drivers.icao9303 import EfCom, FileAccess, file_name
from drivers.mrz import MrzData
from drivers.passive_auth import PassiveAuthResult, PassiveAuthVerdict
from peripherals.errors import DeviceError, DeviceReason

DEVICE = "permit_reader"


@dataclass(frozen=True, repr=False)
class BacKey:
    """The MRZ data BAC needs: document number, birth and expiry dates (YYMMDD)."""

    document_number: str
    birth_date: str
    expiry_date: str

    def __repr__(self) -> str:
        return "BacKey(document_number='***', birth_date='***', expiry_date='***')"

    __str__ = __repr__


@dataclass(frozen=True)
class CanKey:
    """The card access number printed on the data page: opens a chip by PACE only."""

    can: str

    def __repr__(self) -> str:
        return "CanKey(can='***')"

    __str__ = __repr__


def _expiry_date(yymmdd: str, today: dt.date) -> dt.date | None:
    try:
        year = 2000 + int(yymmdd[:2])
        if year > today.year + 30:  # a 1990s expiry, not one 70 years ahead
            year -= 100
        return dt.date(year, int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError:
        return None


@dataclass(frozen=True, repr=False)
class PermitRead:
    """What the chip gave: parsed MRZ, face image, passive-authentication checks, cost."""

    mrz: MrzData
    face_image: bytes | None  # the JPEG / JPEG 2000 file out of DG2 (None: no DG2 or no face)
    passive_auth: PassiveAuthResult
    apdus: int
    seconds: float
    data_groups: Mapping[int, bytes] = field(default_factory=dict)  # raw files read
    listed_groups: tuple[int, ...] = ()  # the data groups EF.SOD lists (else EF.COM, if read)
    unreadable_groups: tuple[int, ...] = ()  # listed, refused (e.g. DG3/DG4 behind EAC)
    missing_files: tuple[int, ...] = ()  # file identifiers the chip does not have
    ef_com: EfCom | None = None  # read only when there is no EF.SOD to list the groups
    face_mime: str | None = None
    resumes: int = 0  # times the read went on in a new session (card back, or a fallback)
    access: FileAccess = field(default_factory=FileAccess)  # how the chip's files were read
    access_control: str = "BAC"  # how the chip was opened: "BAC", or "PACE" when it offers it
    active_auth: ActiveAuthResult | None = None  # None: the chip offers none (no DG15)
    chip_auth: ActiveAuthResult | None = None  # None: DG14 offers none

    def __repr__(self) -> str:
        return (
            f"PermitRead(mrz={self.mrz!r}, groups={sorted(self.data_groups)}, "
            f"face={'yes' if self.face_image else 'no'}, "
            f"passive_auth={self.passive_auth.verdict.value}, apdus={self.apdus}, "
            f"seconds={self.seconds:.3f}, resumes={self.resumes})"
        )

    __str__ = __repr__

    @property
    def missing_names(self) -> tuple[str, ...]:
        return tuple(file_name(fid) for fid in self.missing_files)

    def document_expired(self, today: dt.date | None = None) -> bool:
        """Whether the MRZ's expiry date is past (an unreadable date counts as expired)."""
        today = today or dt.date.today()
        expiry = _expiry_date(self.mrz.expiry_date, today)
        return expiry is None or expiry < today

    def raise_for_integrity(self, *, require_trusted: bool = True,
                            require_active_auth: bool = True,
                            require_chip_auth: bool = True) -> None:
        """DeviceError(INTEGRITY_FAILED) when passive authentication does not pass the policy:
        never when it failed; with `require_trusted`, not either when the signer is not
        trusted or when nothing could be checked (no EF.SOD). The detail says why (no PII).
        DeviceError(CHIP_NOT_GENUINE) when the chip offers active (chip) authentication and
        fails it, with `require_active_auth` (`require_chip_auth`)."""
        result = self.passive_auth
        verdict = result.verdict
        if verdict is PassiveAuthVerdict.FAILED or (
            require_trusted
            and verdict in (PassiveAuthVerdict.NOT_TRUSTED, PassiveAuthVerdict.NOT_POSSIBLE)
        ):
            why = "; ".join(result.problems)
            detail = f"{verdict.value}: {why}" if why else verdict.value
            raise DeviceError(DEVICE, DeviceReason.INTEGRITY_FAILED, detail)
        for required, check in ((require_active_auth, self.active_auth),
                                (require_chip_auth, self.chip_auth)):
            if required and check is not None and check.verdict is ActiveAuthVerdict.FAILED:
                raise DeviceError(DEVICE, DeviceReason.CHIP_NOT_GENUINE, check.reason)
