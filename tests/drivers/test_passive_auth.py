"""drivers.passive_auth: the SOD's signature, the DS certificate's chain, the data-group hashes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.passive_auth import (
    PassiveAuthVerdict,
    SodError,
    load_trust_store,
    parse_sod,
    verify_passive_auth,
)
from simulator.icao_pki import build_sod, create_pki

GROUPS = {1: b"\x61\x03MRZ", 2: b"\x75\x04FACE", 11: b"\x6b\x02\x00\x00"}
EC = create_pki("ec")
RSA = create_pki("rsa")


@pytest.mark.parametrize("pki", [EC, RSA], ids=["ecdsa", "rsa"])
def test_a_genuine_sod_passes_every_check(pki) -> None:
    result = verify_passive_auth(build_sod(pki, GROUPS), GROUPS, [pki.csca_cert])
    assert result.signature_valid and result.certificate_trusted
    assert result.hashes_valid == {1: True, 2: True, 11: True}
    assert result.verdict is PassiveAuthVerdict.PASSED and result.problems == ()
    assert "Document Signer" in (result.signer or "")


def test_the_sod_lists_each_group_hash() -> None:
    security = parse_sod(build_sod(EC, GROUPS))
    assert security.hash_algorithm == "sha256" and sorted(security.dg_hashes) == [1, 2, 11]
    assert all(len(h) == 32 for h in security.dg_hashes.values())


def test_a_changed_group_fails_only_its_hash() -> None:
    changed = {**GROUPS, 2: b"\x75\x04FACF"}
    result = verify_passive_auth(build_sod(EC, GROUPS), changed, [EC.csca_cert])
    assert result.hashes_valid == {1: True, 2: False, 11: True}
    assert result.signature_valid and result.certificate_trusted
    assert result.verdict is PassiveAuthVerdict.FAILED
    assert "DG2 hash differs" in result.problems


def test_a_group_missing_from_the_sod_fails() -> None:
    sod = build_sod(EC, {1: GROUPS[1]})
    result = verify_passive_auth(sod, {1: GROUPS[1], 2: GROUPS[2]}, [EC.csca_cert])
    assert result.hashes_valid == {1: True, 2: False}


def test_a_forged_signature_fails_the_signature_only() -> None:
    result = verify_passive_auth(build_sod(EC, GROUPS, forged=True), GROUPS, [EC.csca_cert])
    assert not result.signature_valid
    assert all(result.hashes_valid.values())
    assert result.verdict is PassiveAuthVerdict.FAILED


def test_an_unknown_csca_is_not_trusted_but_not_failed() -> None:
    sod = build_sod(EC, GROUPS)
    for store in (None, [], [RSA.csca_cert]):
        result = verify_passive_auth(sod, GROUPS, store)
        assert result.signature_valid and not result.certificate_trusted
        assert result.verdict is PassiveAuthVerdict.NOT_TRUSTED


def test_a_csca_with_the_right_name_but_another_key_is_not_trusted() -> None:
    impostor = create_pki("ec")  # same subject names as EC's, other keys
    result = verify_passive_auth(build_sod(EC, GROUPS), GROUPS, [impostor.csca_cert])
    assert not result.certificate_trusted
    assert "does not verify under the CSCA" in " ".join(result.problems)


def test_an_expired_document_signer_is_not_trusted() -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=11 * 365)
    result = verify_passive_auth(build_sod(EC, GROUPS), GROUPS, [EC.csca_cert], at=later)
    assert not result.certificate_trusted


def test_trust_store_from_a_bundle_or_a_folder(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(EC.csca_cert_pem + RSA.csca_cert_pem)
    assert len(load_trust_store(bundle)) == 2
    folder = tmp_path / "cscas"
    folder.mkdir()
    (folder / "a.pem").write_bytes(EC.csca_cert_pem)
    (folder / "b.der").write_bytes(RSA.csca_cert.public_bytes(Encoding.DER))
    (folder / "notes.txt").write_text("not a certificate")
    assert {c.subject for c in load_trust_store(folder)} == {EC.csca_cert.subject}
    assert len(load_trust_store(folder)) == 2


@pytest.mark.parametrize(
    "sod", [b"", b"\x77\x00", b"\x30\x03\x02\x01\x00", b"\x77\x03\x30\x01\x00"]
)
def test_garbage_sod_is_a_failed_check_not_an_exception(sod: bytes) -> None:
    with pytest.raises(SodError):
        parse_sod(sod)
    result = verify_passive_auth(sod, GROUPS, [EC.csca_cert])
    assert result.verdict is PassiveAuthVerdict.FAILED
    assert not any(result.hashes_valid.values())


GENUINE = build_sod(EC, GROUPS)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(GENUINE) - 1), st.integers(1, 255))
def test_fuzz_a_flipped_byte_never_passes_with_other_hashes(position: int, mask: int) -> None:
    tampered = bytearray(GENUINE)
    tampered[position] ^= mask
    result = verify_passive_auth(bytes(tampered), GROUPS, [EC.csca_cert])
    # CMS leaves some bytes unsigned (e.g. SignedData's version): a flip there may still
    # pass, but never with data-group hashes other than the signed ones
    if result.verdict is PassiveAuthVerdict.PASSED:
        assert parse_sod(bytes(tampered)).dg_hashes == parse_sod(GENUINE).dg_hashes


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_parse_sod(data: bytes) -> None:
    try:
        parse_sod(b"\x77" + bytes([0x82]) + len(data).to_bytes(2, "big") + data)
    except SodError:
        pass


def test_every_flipped_byte_of_a_sod_gives_a_verdict_never_an_exception() -> None:
    """Exhaustive over one SOD (the fuzz above samples): asn1crypto parses lazily, so a damaged
    SignerInfo once escaped as a raw ValueError instead of a failed check."""
    signed = parse_sod(GENUINE).dg_hashes
    for position in range(len(GENUINE)):
        for mask in (0x01, 0x80):
            tampered = bytearray(GENUINE)
            tampered[position] ^= mask
            result = verify_passive_auth(bytes(tampered), GROUPS, [EC.csca_cert])
            if result.verdict is PassiveAuthVerdict.PASSED:
                assert parse_sod(bytes(tampered)).dg_hashes == signed
