"""The travel-document chip reader service: waits for a card on a PC/SC reader and reads it.

A read is: EF.ATR/INFO (extended length limits), SELECT the LDS application, Basic
Access Control from the citizen's MRZ data, then under secure messaging EF.COM, DG1,
DG2, every other data group EF.COM lists, and EF.SOD; then passive authentication. If
the card leaves mid-read and comes back within `resume_window_s`, the read goes on
(new BAC, same files, from the offset reached) instead of starting over.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drivers import pcsc
from drivers.bac import BacKeys, derive_bac_keys, perform_bac
from drivers.icao9303 import FID_EF_COM, FID_EF_SOD, EfCom, IcaoReader, dg_fid, parse_ef_com
from drivers.iso7816 import SM_ABORTED, ChipError, ChipReason
from drivers.lds import parse_dg2
from drivers.mrz import MrzData, parse_dg1
from drivers.passive_auth import (
    PassiveAuthResult,
    PassiveAuthVerdict,
    load_trust_store,
    verify_passive_auth,
)
from drivers.secure_messaging import SecureMessaging, max_read_for
from peripherals.errors import DeviceError, DeviceReason
from peripherals.worker import DeviceWorker

log = logging.getLogger(__name__)

DEVICE = "permit_reader"
_MAX_RESUMES = 3


@dataclass(frozen=True, repr=False)
class BacKey:
    """The MRZ data BAC needs: document number, birth and expiry dates (YYMMDD)."""

    document_number: str
    birth_date: str
    expiry_date: str

    def __repr__(self) -> str:
        return "BacKey(document_number='***', birth_date='***', expiry_date='***')"

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

    ef_com: EfCom
    mrz: MrzData
    face_image: bytes | None  # the JPEG / JPEG 2000 file out of DG2
    passive_auth: PassiveAuthResult
    apdus: int
    seconds: float
    data_groups: Mapping[int, bytes] = field(default_factory=dict)  # raw files read
    unreadable_groups: tuple[int, ...] = ()  # listed in EF.COM, refused (e.g. EAC)
    face_mime: str | None = None
    resumes: int = 0  # times the read went on after the card came back

    def __repr__(self) -> str:
        return (
            f"PermitRead(mrz={self.mrz!r}, groups={sorted(self.data_groups)}, "
            f"face={'yes' if self.face_image else 'no'}, "
            f"passive_auth={self.passive_auth.verdict.value}, apdus={self.apdus}, "
            f"seconds={self.seconds:.3f}, resumes={self.resumes})"
        )

    __str__ = __repr__

    def document_expired(self, today: dt.date | None = None) -> bool:
        """Whether the MRZ's expiry date is past (an unreadable date counts as expired)."""
        today = today or dt.date.today()
        expiry = _expiry_date(self.mrz.expiry_date, today)
        return expiry is None or expiry < today

    def raise_for_integrity(self, *, require_trusted: bool = True) -> None:
        """DeviceError(INTEGRITY_FAILED) when passive authentication does not pass the policy."""
        verdict = self.passive_auth.verdict
        if verdict is PassiveAuthVerdict.FAILED or (
            require_trusted and verdict is PassiveAuthVerdict.NOT_TRUSTED
        ):
            raise DeviceError(DEVICE, DeviceReason.INTEGRITY_FAILED, verdict.value)


@dataclass
class _ReadState:
    """What survives a card leaving and coming back: files read so far, partial files."""

    partial: dict[int, bytes] = field(default_factory=dict)
    files: dict[int, bytes] = field(default_factory=dict)
    denied: set[int] = field(default_factory=set)
    max_response: int | None = None  # from EF.ATR/INFO; None: not asked yet
    greedy: bool = True
    apdus: int = 0
    resumes: int = 0


class PermitReaderService:
    """A PC/SC reader chosen by name prefix; every pyscard call runs on the device's thread."""

    def __init__(
        self,
        reader_prefix: str,
        csca_store: Path | None = None,
        poll_s: float = 0.2,
        *,
        resume_window_s: float = 5.0,
    ) -> None:
        self.reader_prefix = reader_prefix
        self.csca_store = csca_store
        self.poll_s = poll_s
        self.resume_window_s = resume_window_s
        self._worker = DeviceWorker(DEVICE)

    def _reader_name(self) -> str:
        try:
            names = pcsc.list_readers()
        except pcsc.PcscError as exc:
            raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, str(exc)) from exc
        for name in names:
            if name.startswith(self.reader_prefix):
                return name
        raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, "no matching reader")

    def _card_present(self) -> bool:
        try:
            return pcsc.card_present(self._reader_name())
        except pcsc.PcscError as exc:
            raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, str(exc)) from exc

    async def card_present(self) -> bool:
        return await self._worker.call(self._card_present)

    async def wait_for_card(self, timeout: float) -> None:
        """Returns once a card is on the reader; DeviceError(TIMEOUT) after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not await self.card_present():
            if time.monotonic() > deadline:
                raise DeviceError(DEVICE, DeviceReason.TIMEOUT)
            await asyncio.sleep(self.poll_s)

    async def read_permit(self, key: BacKey) -> PermitRead:
        """Read and check the document on the reader with the citizen's MRZ data."""
        return await self._worker.call(self._read, key)

    def close(self) -> None:
        self._worker.shutdown()

    # --- on the worker thread ---------------------------------------------------------

    def _wait_for_return(self) -> bool:
        deadline = time.monotonic() + self.resume_window_s
        while time.monotonic() < deadline:
            try:
                if pcsc.card_present(self._reader_name()):
                    return True
            except (pcsc.PcscError, DeviceError):
                pass
            time.sleep(min(self.poll_s, 0.1))
        return False

    def _read(self, key: BacKey) -> PermitRead:
        started = time.monotonic()
        try:
            keys = derive_bac_keys(key.document_number, key.birth_date, key.expiry_date)
        except ValueError as exc:
            raise DeviceError(DEVICE, DeviceReason.AUTHENTICATION_REFUSED, "bad MRZ data") from exc
        state = _ReadState()
        while True:
            try:
                self._read_files(keys, state)
                break
            except (pcsc.CardRemoved, pcsc.CardAbsent) as exc:
                # the citizen lifted the document: go on if it comes back soon
                if state.resumes >= _MAX_RESUMES or not self._wait_for_return():
                    raise DeviceError(DEVICE, DeviceReason.CARD_REMOVED) from exc
                log.info("card back on the reader: resuming the read")
            except ChipError as exc:
                if exc.reason is not ChipReason.SECURE_MESSAGING or state.resumes >= 1:
                    raise self._device_error(exc) from exc
                log.warning("secure messaging failed (%s): new session", exc.reason.value)
            except pcsc.PcscError as exc:
                if state.max_response and state.max_response > 256:
                    # the reader may not carry extended APDUs: short ones from now on
                    log.warning("transmit failed with extended length: falling back to short")
                    state.max_response = 256
                else:
                    raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, str(exc)) from exc
            state.resumes += 1
        return self._result(state, time.monotonic() - started)

    @staticmethod
    def _device_error(exc: ChipError) -> DeviceError:
        reasons = {
            ChipReason.AUTHENTICATION_REFUSED: DeviceReason.AUTHENTICATION_REFUSED,
            ChipReason.NOT_A_TRAVEL_DOCUMENT: DeviceReason.NOT_A_TRAVEL_DOCUMENT,
            ChipReason.CARD_REMOVED: DeviceReason.CARD_REMOVED,
        }
        return DeviceError(
            DEVICE, reasons.get(exc.reason, DeviceReason.CARD_UNREADABLE), exc.reason.value
        )

    def _read_files(self, keys: BacKeys, state: _ReadState) -> None:
        connection = pcsc.PcscConnection()
        try:
            connection.connect(self._reader_name())
            plain = IcaoReader(connection)
            if state.max_response is None:
                limits = plain.read_atr_info()
                state.max_response = limits[1] if limits else 256
            plain.select_application()
            session = perform_bac(connection, keys)
            sm = SecureMessaging(connection, session.ks_enc, session.ks_mac, session.ssc)
            reader = IcaoReader(
                sm, max_read=max_read_for(state.max_response), partial=state.partial
            )
            reader.greedy = state.greedy
            try:
                self._read_lds(reader, state)
            except ChipError as exc:
                if exc.sw in SM_ABORTED:
                    raise ChipError(
                        ChipReason.SECURE_MESSAGING, "session aborted", sw=exc.sw
                    ) from exc
                raise
            finally:
                state.greedy = reader.greedy
        finally:
            state.apdus += connection.apdu_count
            connection.disconnect()

    @staticmethod
    def _read_lds(reader: IcaoReader, state: _ReadState) -> None:
        if FID_EF_COM not in state.files:
            state.files[FID_EF_COM] = reader.read_file(FID_EF_COM)
        groups = parse_ef_com(state.files[FID_EF_COM]).data_groups
        for number in sorted(set(groups) | {1, 2}):
            fid = dg_fid(number)
            if fid in state.files or number in state.denied:
                continue
            try:
                state.files[fid] = reader.read_file(fid)
            except ChipError as exc:
                if number <= 2 or exc.reason not in (
                    ChipReason.ACCESS_DENIED,
                    ChipReason.FILE_NOT_FOUND,
                ):
                    raise
                state.denied.add(number)  # e.g. DG3/DG4 behind EAC: not ours to read
        if FID_EF_SOD not in state.files:
            state.files[FID_EF_SOD] = reader.read_file(FID_EF_SOD)

    def _result(self, state: _ReadState, seconds: float) -> PermitRead:
        files = state.files
        try:
            ef_com = parse_ef_com(files[FID_EF_COM])
            mrz = parse_dg1(files[dg_fid(1)])
        except ChipError as exc:
            raise DeviceError(DEVICE, DeviceReason.CARD_UNREADABLE, exc.reason.value) from exc
        face = mime = None
        try:
            image = parse_dg2(files[dg_fid(2)])
            face, mime = image.data, image.mime
        except ChipError:
            log.warning("DG2 holds no face image we can extract")
        groups = {fid - 0x0100: raw for fid, raw in files.items() if 0x0101 <= fid <= 0x0110}
        trust = None
        if self.csca_store is not None:
            try:
                trust = load_trust_store(self.csca_store)
            except OSError:
                log.error("CSCA trust store %s cannot be read", self.csca_store)
        passive = verify_passive_auth(files[FID_EF_SOD], groups, trust)
        if passive.verdict is not PassiveAuthVerdict.PASSED:
            log.warning("passive authentication: %s (%s)", passive.verdict.value, passive.problems)
        return PermitRead(
            ef_com=ef_com,
            mrz=mrz,
            face_image=face,
            passive_auth=passive,
            apdus=state.apdus,
            seconds=seconds,
            data_groups=groups,
            unreadable_groups=tuple(sorted(state.denied)),
            face_mime=mime,
            resumes=state.resumes,
        )
