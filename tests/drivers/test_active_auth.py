"""Active Authentication (drivers/active_auth.py) against the simulated chip's APDU handler,
under BAC's secure messaging: the chip that holds DG15's key passes, a clone (the same files,
another key) fails; DG14 names the hash; no DG15 or signature bytes break the verdict."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import chip_auth
from drivers.active_auth import ActiveAuthVerdict, authenticate, signature_hash, verify
from drivers.bac import derive_bac_keys, perform_bac
from drivers.chip_auth import chip_auth_key
from drivers.icao9303 import IcaoReader, dg_fid
from drivers.iso7816 import ChipError
from drivers.secure_messaging import SecureMessaging
from simulator.icao_chip import ChipFault, ChipShape, IcaoChip
from tests.drivers.test_icao9303 import HOLDER, ChipTransport


def session(chip: IcaoChip) -> tuple[IcaoReader, SecureMessaging]:
    wire = ChipTransport(chip)
    IcaoReader(wire).select_application()
    keys = perform_bac(wire, derive_bac_keys(HOLDER.document_number, HOLDER.birth_date,
                                             HOLDER.expiry_date))
    sm = SecureMessaging(wire, keys.ks_enc, keys.ks_mac, keys.ssc)
    return IcaoReader(sm), sm


@pytest.mark.parametrize("shape", [ChipShape.ACTIVE_AUTH, ChipShape.ACTIVE_AUTH_RSA],
                         ids=["ecdsa", "rsa-iso9796-2"])
def test_the_chip_that_holds_dg15_s_key_passes_and_a_clone_fails(shape):
    for faults, verdict in ((frozenset(), ActiveAuthVerdict.PASSED),
                            ({ChipFault.CLONE}, ActiveAuthVerdict.FAILED)):
        chip = IcaoChip(HOLDER, shape={shape}, faults=faults)
        reader, sm = session(chip)
        dg15 = reader.read_file(dg_fid(15))
        dg14 = reader.read_file(dg_fid(14)) if chip.has_file(dg_fid(14)) else None
        if shape is ChipShape.ACTIVE_AUTH:
            assert signature_hash(dg14) is hashes.SHA256
        result = authenticate(sm, dg15, dg14)
        assert result.verdict is verdict, result
        # The session goes on after the answer: the files still read.
        assert reader.read_file(dg_fid(1)) == chip.file(dg_fid(1))


def test_a_chip_without_active_authentication_lists_no_dg15():
    chip = IcaoChip(HOLDER)
    assert not chip.has_file(dg_fid(15)) and not chip.has_file(dg_fid(14))


RSA_CHIP = IcaoChip(HOLDER, shape={ChipShape.ACTIVE_AUTH_RSA})


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=256, max_size=256))
def test_any_rsa_signature_bytes_fail_plainly(signature):
    result = verify(RSA_CHIP.file(dg_fid(15)), None, os.urandom(8), signature)
    assert result.verdict is ActiveAuthVerdict.FAILED and result.reason


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80), st.binary(max_size=80))
def test_any_dg14_and_signature_give_a_verdict_never_a_crash(dg14, signature):
    chip = IcaoChip(HOLDER, shape={ChipShape.ACTIVE_AUTH})
    assert signature_hash(dg14) in (hashes.SHA1, hashes.SHA224, hashes.SHA256, hashes.SHA384,
                                    hashes.SHA512)
    result = verify(chip.file(dg_fid(15)), dg14, os.urandom(8), signature)
    assert result.verdict is ActiveAuthVerdict.FAILED
    assert verify(signature, None, b"12345678", signature).verdict is ActiveAuthVerdict.FAILED


# --- Chip Authentication ------------------------------------------------------------------------

def test_chip_authentication_restarts_secure_messaging_and_a_clone_cannot_follow():
    for faults in (frozenset(), {ChipFault.CLONE}):
        chip = IcaoChip(HOLDER, shape={ChipShape.CHIP_AUTH}, faults=faults)
        reader, sm = session(chip)
        key = chip_auth_key(reader.read_file(dg_fid(14)))
        assert key is not None and key.protocol == "0.4.0.127.0.7.2.2.3.2.2"
        restarted, result = chip_auth.authenticate(sm, key)
        assert result.verdict is ActiveAuthVerdict.PASSED   # until a command verifies
        after = IcaoReader(restarted)
        if not faults:
            assert after.read_file(dg_fid(1)) == chip.file(dg_fid(1))   # the new keys work
            continue
        with pytest.raises(ChipError) as info:                           # the clone's do not
            after.read_file(dg_fid(1))
        assert chip_auth.confirm(info.value).verdict is ActiveAuthVerdict.FAILED


def test_dg14_without_chip_authentication_offers_none():
    assert chip_auth_key(None) is None
    chip = IcaoChip(HOLDER, shape={ChipShape.ACTIVE_AUTH})   # DG14 with AA's info only
    assert chip_auth_key(chip.file(dg_fid(14))) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_any_dg14_gives_a_key_or_none(data):
    key = chip_auth_key(data)
    assert key is None or key.protocol
