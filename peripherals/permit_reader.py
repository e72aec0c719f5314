"""The travel-document chip reader service: waits for a card on a PC/SC reader and reads it.

A read is: what the chip says of itself (its ATR, else EF.ATR/INFO: `drivers.card_capabilities`),
SELECT the LDS application, PACE or BAC, then under secure messaging DG1, DG2 and EF.SOD, one READ
BINARY each on a modern chip (by short EF identifier, extended length), then every other data
group EF.SOD lists; EF.COM only when there is no EF.SOD. Then passive authentication. A chip that lacks SFI, extended
length, DG2, EF.COM or EF.SOD is read all the same: what it refuses is learned once
(`FileAccess`) and what it lacks is reported, with the verdict "not possible" without EF.SOD.
If the card leaves mid-read and comes back within `resume_window_s`, the read goes on (new
BAC, same files, from the offset reached, what was learned kept) instead of starting over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from drivers import pcsc
from drivers.active_auth import ActiveAuthResult
from drivers.bac import BacKeys, derive_bac_keys, perform_bac
from drivers.card_capabilities import file_access
from drivers.chip_auth import check_genuine
from drivers.icao9303 import (
    FID_EF_COM,
    FID_EF_SOD,
    FileAccess,
    IcaoReader,
    dg_fid,
    parse_ef_com,
)
from drivers.iso7816 import SM_ABORTED, ChipError, ChipReason
from drivers.lds import parse_dg2
from drivers.mrz import parse_dg1
from drivers.pace import PaceError, PaceInfo, can_password, choose, mrz_password, pace_infos
from drivers.pace_session import (
    PASSWORD_CAN,
    PASSWORD_MRZ,
    PaceRefused,
    perform_pace,
    read_card_access,
)
from drivers.passive_auth import (
    PassiveAuthResult,
    PassiveAuthVerdict,
    SodError,
    load_trust_store,
    not_possible,
    parse_sod,
    verify_passive_auth,
)
from drivers.pcsc_watch import CardPresence, ReaderWatcher
from drivers.secure_messaging import SecureMessaging
from peripherals.base import DeviceService
from peripherals.card_presence import CardCallback, CardPresenceWatch
from peripherals.errors import DeviceError, DeviceReason
from peripherals.health import DeviceStatus
from peripherals.permit_read import DEVICE, BacKey, CanKey, PermitRead

log = logging.getLogger(__name__)

__all__ = ["DEVICE", "BacKey", "CanKey", "PermitRead", "PermitReaderService"]
_MAX_RESUMES = 3


@dataclass
class _ReadState:
    """What survives a card leaving and coming back: files, partial files, what we learned."""

    partial: dict[int, bytes] = field(default_factory=dict)
    files: dict[int, bytes] = field(default_factory=dict)
    refused: set[int] = field(default_factory=set)  # file identifiers the chip refused
    missing: set[int] = field(default_factory=set)  # file identifiers the chip has not
    listed: tuple[int, ...] = ()
    access: FileAccess | None = None  # None: not asked yet
    session_access: FileAccess | None = None  # `access` as this session started
    apdus: int = 0
    resumes: int = 0
    sm_retries: int = 0
    pace: PaceInfo | None = None  # the PACE protocol the chip offers and we use
    active_auth: ActiveAuthResult | None = None  # clone checks (None: not offered)
    chip_auth: ActiveAuthResult | None = None
    clone_checked: bool = False
    pace_asked: bool = False  # EF.CardAccess read (once a document)

    def learned(self) -> bool:
        """Whether this session found out something about the chip (a fallback)."""
        return self.access is not None and self.access != self.session_access


class PermitReaderService(DeviceService):
    """A PC/SC reader chosen by name prefix; every pyscard call runs on the device's thread.
    Healthy while its reader exists; the supply `card` says whether a card lies on it, and
    `on_card()` hears every insert and remove (a watch on the same thread, `card_presence`)."""

    kind = "pcsc_reader"

    def __init__(
        self,
        reader_prefix: str,
        csca_store: Path | None = None,
        *,
        resume_window_s: float = 5.0,
        name: str = DEVICE,
        watch_slice_s: float = 0.25,
    ) -> None:
        super().__init__(name, f"pcsc:{reader_prefix}")
        self.reader_prefix = reader_prefix
        self.csca_store = csca_store
        self.resume_window_s = resume_window_s
        self._watcher = ReaderWatcher(reader_prefix)  # on the worker thread, but for cancel()
        self._presence = CardPresenceWatch(name, self._worker, self._watch_slice, watch_slice_s,
                                           cut_short=self._watcher.cancel)

    def _reader_name(self) -> str:
        try:
            names = pcsc.list_readers()
        except pcsc.PcscError as exc:
            raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, str(exc)) from exc
        for name in (n for n in names if n.startswith(self.reader_prefix)):
            return name
        raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, "no matching reader")

    def on_card(self, callback: CardCallback) -> Callable[[], None]:
        """`callback(event)` on the loop for every card inserted or removed."""
        self._presence.start()
        return self._presence.on_card(callback)

    async def start(self) -> None:
        await super().start()
        self._presence.start()

    async def stop(self) -> None:
        await self._presence.stop()
        await super().stop()

    async def refresh(self) -> DeviceStatus:
        try:   # not behind the watch's slice: the card screen waits on it
            status = await self._presence.call(self._refresh)
        except RuntimeError:  # the worker was shut down
            status = self.status()
        self._presence.notice(self._watcher.presence if status.health.usable else None)
        return status

    async def card_present(self) -> bool:
        """Whether a card lies on the reader now; DeviceError(READER_UNAVAILABLE) without one."""
        status = await self.refresh()
        if not status.health.usable:
            raise DeviceError(DEVICE, status.reason or DeviceReason.READER_UNAVAILABLE)
        return self._presence.presence is CardPresence.PRESENT

    async def wait_for_card(self, timeout: float) -> None:
        """Returns once a card is on the reader; DeviceError: TIMEOUT after `timeout` s."""
        if await self.card_present():
            return
        try:
            await self._presence.wait_for(CardPresence.PRESENT, timeout)
        except TimeoutError:
            raise DeviceError(DEVICE, DeviceReason.TIMEOUT) from None

    async def read_permit(self, key: BacKey | CanKey) -> PermitRead:
        """Reads and checks the document on the reader (the MRZ's key, or the CAN for PACE)."""
        return await self._presence.call(self._read, key)

    # --- on the worker thread ---------------------------------------------------------

    def _refresh(self) -> DeviceStatus:
        self._watch_slice(0)
        return self.status()

    def _hang_up(self) -> None:
        self._watcher.drop()

    def _watch_slice(self, timeout: float) -> CardPresence | None:
        """Waits up to `timeout` s for the card's presence to change; records the reader's
        health and returns its presence (None while pcscd is away)."""
        try:
            changed = self._watcher.wait(timeout)
        except pcsc.PcscError as exc:
            if self.status().health.usable:
                log.warning("chip reader lost: %s", exc.reason.value, extra={"device": self.name})
            self._lost(DeviceReason.READER_UNAVAILABLE)
            time.sleep(timeout)  # pcscd is away: try a new context after a while
            return None
        presence = self._watcher.presence
        if presence is CardPresence.NO_READER:
            self._lost(DeviceReason.READER_UNAVAILABLE)
        elif changed is not None or not self.status().health.usable:
            self._answered(readings={"card": int(presence is CardPresence.PRESENT)})
        return presence

    def _wait_for_return(self) -> bool:
        deadline = time.monotonic() + self.resume_window_s
        while (left := deadline - time.monotonic()) > 0:
            if self._watch_slice(min(left, 0.25)) is CardPresence.PRESENT:
                return True
        return False

    def _read(self, key: BacKey | CanKey) -> PermitRead:
        started = time.monotonic()
        keys: BacKeys | None = None
        try:
            if isinstance(key, CanKey):
                password, reference = can_password(key.can), PASSWORD_CAN
            else:
                keys = derive_bac_keys(key.document_number, key.birth_date, key.expiry_date)
                password = mrz_password(key.document_number, key.birth_date, key.expiry_date)
                reference = PASSWORD_MRZ
        except ValueError as exc:
            raise DeviceError(DEVICE, DeviceReason.AUTHENTICATION_REFUSED, "bad MRZ data") from exc
        state = _ReadState()
        while True:
            try:
                self._read_files(keys, (password, reference), state)
                break
            except (pcsc.CardRemoved, pcsc.CardAbsent) as exc:
                # the citizen lifted the document: go on if it comes back soon
                if state.resumes >= _MAX_RESUMES or not self._wait_for_return():
                    raise DeviceError(DEVICE, DeviceReason.CARD_REMOVED) from exc
                log.info("card back on the reader: resuming the read")
            except ChipError as exc:
                if exc.reason is not ChipReason.SECURE_MESSAGING:
                    raise self._device_error(exc) from exc
                if not state.learned():  # a fallback that ended the session is free
                    if state.sm_retries >= 1:
                        raise self._device_error(exc) from exc
                    state.sm_retries += 1
                log.warning("secure messaging ended (%s): new session", exc)
            except pcsc.PcscError as exc:
                if state.access is None or not state.access.extended_length:
                    raise DeviceError(DEVICE, DeviceReason.READER_UNAVAILABLE, str(exc)) from exc
                # the reader may not carry extended APDUs: short ones from now on
                log.warning("transmit failed with extended length: falling back to short")
                state.access.refuse_extended_length()
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

    def _read_files(self, keys: BacKeys | None, password: tuple[bytes, int],
                    state: _ReadState) -> None:
        connection = pcsc.PcscConnection()
        try:
            connection.connect(self._reader_name())
            plain = IcaoReader(connection)
            if state.access is None:
                state.access = file_access(connection.atr, plain.read_ef_atr_info)
            state.session_access = replace(state.access)
            sm = self._open_session(connection, plain, keys, password, state)
            reader = IcaoReader(sm, state.access, partial=state.partial)
            if state.pace is not None:   # PACE ran in the MF: the application under SM
                reader.select_application()
            try:
                self._read_lds(reader, state)
                if not state.clone_checked:   # AA and CA, where the chip offers them
                    state.clone_checked = True
                    state.active_auth, state.chip_auth = check_genuine(
                        sm, state.files.get(dg_fid(14)), state.files.get(dg_fid(15)))
            except ChipError as exc:
                if exc.sw in SM_ABORTED:
                    raise ChipError(
                        ChipReason.SECURE_MESSAGING, "session aborted", sw=exc.sw
                    ) from exc
                raise
        finally:
            state.apdus += connection.apdu_count
            connection.disconnect()

    @staticmethod
    def _open_session(connection: pcsc.PcscConnection, plain: IcaoReader,
                      keys: BacKeys | None, password: tuple[bytes, int],
                      state: _ReadState) -> SecureMessaging:
        """The session the files are read in: PACE when the chip offers it (EF.CardAccess, read
        once a document), else BAC, as Part 11 orders; a CAN (no BAC keys) opens PACE only."""
        if not state.pace_asked:
            state.pace_asked = True
            card_access = read_card_access(connection)
            try:
                state.pace = choose(pace_infos(card_access)) if card_access else None
            except PaceError as exc:
                log.warning("EF.CardAccess unreadable (%s): BAC", exc)
            if state.pace is not None and state.access is not None:
                state.access.fit_block(state.pace.protocol.block)
        if state.pace is not None:
            return perform_pace(connection, state.pace, *password)
        if keys is None:
            raise PaceRefused("the chip offers no PACE: a CAN cannot open it")
        plain.select_application()
        session = perform_bac(connection, keys)
        return SecureMessaging(connection, session.ks_enc, session.ks_mac, session.ssc)

    @staticmethod
    def _read_once(reader: IcaoReader, state: _ReadState, fid: int) -> None:
        """Read `fid` unless done already; a file refused or not there is noted, not fatal."""
        if fid in state.files or fid in state.refused or fid in state.missing:
            return
        try:
            state.files[fid] = reader.read_file(fid)
        except ChipError as exc:
            if exc.reason is ChipReason.ACCESS_DENIED:
                state.refused.add(fid)  # e.g. DG3/DG4 behind EAC: not ours to read
            elif exc.reason is ChipReason.FILE_NOT_FOUND:
                state.missing.add(fid)
            else:
                raise

    def _read_lds(self, reader: IcaoReader, state: _ReadState) -> None:
        # the kiosk's files first; EF.SOD then says what else there is (and signs it)
        for fid in (dg_fid(1), dg_fid(2), FID_EF_SOD):
            self._read_once(reader, state, fid)
        if dg_fid(1) not in state.files:  # no MRZ: not a document we can use
            raise ChipError(ChipReason.FILE_NOT_FOUND, "DG1 is not readable")
        if not state.listed:
            state.listed = self._listed_groups(reader, state)
        for number in state.listed:
            self._read_once(reader, state, dg_fid(number))

    def _listed_groups(self, reader: IcaoReader, state: _ReadState) -> tuple[int, ...]:
        """The data groups present: EF.SOD's hash list; without a usable EF.SOD, EF.COM's
        (one more file to read); without either, the groups read so far."""
        sod = state.files.get(FID_EF_SOD)
        if sod is not None:
            try:
                return tuple(n for n in sorted(parse_sod(sod).dg_hashes) if 1 <= n <= 16)
            except SodError:
                log.warning("EF.SOD cannot be parsed: the data groups come from EF.COM")
        self._read_once(reader, state, FID_EF_COM)
        com = state.files.get(FID_EF_COM)
        if com is not None:
            try:
                return parse_ef_com(com).data_groups
            except ChipError:
                log.warning("EF.COM cannot be parsed")
        return tuple(fid - 0x0100 for fid in sorted(state.files) if 0x0101 <= fid <= 0x0110)

    def _result(self, state: _ReadState, seconds: float) -> PermitRead:
        files = state.files
        try:
            mrz = parse_dg1(files[dg_fid(1)])
        except ChipError as exc:
            raise DeviceError(DEVICE, DeviceReason.CARD_UNREADABLE, exc.reason.value) from exc
        ef_com = None
        if FID_EF_COM in files:
            try:
                ef_com = parse_ef_com(files[FID_EF_COM])
            except ChipError:
                pass  # warned when it was read
        face = mime = None
        if dg_fid(2) in files:
            try:
                image = parse_dg2(files[dg_fid(2)])
                face, mime = image.data, image.mime
            except ChipError:
                log.warning("DG2 holds no face image we can extract")
        groups = {fid - 0x0100: raw for fid, raw in files.items() if 0x0101 <= fid <= 0x0110}
        passive = self._passive_auth(state, groups)
        if passive.verdict is not PassiveAuthVerdict.PASSED:
            log.warning("passive authentication: %s (%s)", passive.verdict.value, passive.problems)
        return PermitRead(
            mrz=mrz,
            face_image=face,
            passive_auth=passive,
            apdus=state.apdus,
            seconds=seconds,
            access_control="PACE" if state.pace is not None else "BAC",
            active_auth=state.active_auth,
            chip_auth=state.chip_auth,
            data_groups=groups,
            listed_groups=state.listed,
            unreadable_groups=tuple(sorted(fid - 0x0100 for fid in state.refused if fid <= 0x0110)),
            missing_files=tuple(sorted(state.missing)),
            ef_com=ef_com,
            face_mime=mime,
            resumes=state.resumes,
            access=replace(state.access) if state.access else FileAccess(),
        )

    def _passive_auth(self, state: _ReadState, groups: Mapping[int, bytes]) -> PassiveAuthResult:
        if FID_EF_SOD in state.refused:
            return not_possible("the chip refused to give EF.SOD: its data cannot be verified")
        if FID_EF_SOD not in state.files:
            return not_possible("the chip holds no EF.SOD: its data cannot be verified")
        trust = None
        if self.csca_store is not None:
            try:
                trust = load_trust_store(self.csca_store)
            except OSError:
                log.error("CSCA trust store %s cannot be read", self.csca_store)
        return verify_passive_auth(state.files[FID_EF_SOD], groups, trust)
