"""Passive authentication of an eMRTD (ICAO 9303 Part 11, 5.1; Part 10, 4.6.2: EF.SOD).

Three checks, each reported on its own (`PassiveAuthResult`): the SOD's CMS signature
verifies with the Document Signer certificate it carries; that certificate was issued
by a CSCA of the configured trust store (and is valid now); every data group read hashes
to the value in the SOD's LDS security object. Parsing uses asn1crypto, signatures and
certificates `cryptography`. Nothing here raises for bad data: a SOD that cannot be
parsed is a failed signature check with its problem named (never personal data). A chip
that gives no EF.SOD at all cannot be checked: `not_possible(reason)`, a verdict of its own,
neither passed nor failed.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from drivers.iso7816 import parse_tlv

log = logging.getLogger(__name__)

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class DataGroupHash(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    _fields = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]  # asn1crypto: no types
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no types
    """ICAO 9303 Part 10, 4.6.2.2 (version 0, or 1 with LDS version info)."""

    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


class SodError(ValueError):
    """The SOD is not a CMS SignedData over an LDS security object we can read."""


@dataclass(frozen=True, repr=False)
class SecurityObject:
    """What EF.SOD holds: the data-group hashes and the CMS signature over them."""

    hash_algorithm: str
    dg_hashes: dict[int, bytes]
    signed_data: cms.SignedData
    encapsulated: bytes  # the DER of the LDS security object (eContent)

    def __repr__(self) -> str:
        return f"SecurityObject({self.hash_algorithm}, groups={sorted(self.dg_hashes)})"


def parse_sod(data: bytes) -> SecurityObject:
    """EF.SOD (tag 77 around a CMS ContentInfo) to its parts; SodError if it is not one."""
    try:
        objects = parse_tlv(data)
        if len(objects) != 1 or objects[0].tag != 0x77:
            raise SodError("EF.SOD is not one object with tag 77")
        info = cms.ContentInfo.load(objects[0].value, strict=True)
        if info["content_type"].native != "signed_data":
            raise SodError("EF.SOD does not hold a CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != OID_LDS_SECURITY_OBJECT:
            raise SodError("the signed content is not an LDS security object")
        content = encap["content"]
        raw = content.native if content is not None else None
        if not isinstance(raw, bytes):
            raise SodError("the LDS security object is missing")
        lso = LdsSecurityObject.load(raw, strict=True)
        algorithm = lso["hash_algorithm"]["algorithm"].native
        if algorithm not in _HASHES:
            raise SodError(f"unsupported data-group hash algorithm {algorithm}")
        dg_hashes = {
            int(item["data_group_number"].native): bytes(item["data_group_hash_value"].native)
            for item in lso["data_group_hash_values"]
        }
        if len(signed["signer_infos"]) != 1:
            raise SodError("EF.SOD must carry exactly one signer")
        return SecurityObject(algorithm, dg_hashes, signed, raw)
    except SodError:
        raise
    except Exception as exc:  # asn1crypto raises ValueError/TypeError/KeyError on garbage
        raise SodError(f"EF.SOD cannot be parsed ({type(exc).__name__})") from None


# --- the checks ----------------------------------------------------------------------------


class PassiveAuthVerdict(enum.Enum):
    PASSED = "passed"  # signature, chain and every hash verify
    NOT_TRUSTED = "not_trusted"  # the data is as signed, but the signer is not in our trust store
    FAILED = "failed"  # the signature or a data group's hash does not verify
    NOT_POSSIBLE = "not_possible"  # no EF.SOD to check against: the data cannot be verified


@dataclass(frozen=True)
class PassiveAuthResult:
    """Each check's result; `hashes_valid` maps a data group number to its hash check."""

    signature_valid: bool
    certificate_trusted: bool
    hashes_valid: dict[int, bool] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # what failed, for the log and the technician (no PII)
    signer: str | None = None  # the Document Signer's subject (an authority, not a person)
    possible: bool = True  # False: the chip gave no EF.SOD; `problems` says why

    @property
    def verdict(self) -> PassiveAuthVerdict:
        if not self.possible:
            return PassiveAuthVerdict.NOT_POSSIBLE
        if not self.signature_valid or not self.hashes_valid or not all(self.hashes_valid.values()):
            return PassiveAuthVerdict.FAILED
        if not self.certificate_trusted:
            return PassiveAuthVerdict.NOT_TRUSTED
        return PassiveAuthVerdict.PASSED

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "signature_valid": self.signature_valid,
            "certificate_trusted": self.certificate_trusted,
            "hashes_valid": {str(k): v for k, v in sorted(self.hashes_valid.items())},
            "problems": list(self.problems),
            "signer": self.signer,
        }


def not_possible(reason: str) -> PassiveAuthResult:
    """The result when there is no EF.SOD to check (`reason`: why, for the technician)."""
    return PassiveAuthResult(False, False, {}, (reason,), possible=False)


def load_trust_store(path: Path) -> list[x509.Certificate]:
    """CSCA certificates from a PEM file (one or many), a DER file, or a folder of them."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    out: list[x509.Certificate] = []
    for file in files:
        data = file.read_bytes()
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                out.extend(x509.load_pem_x509_certificates(data))
            else:
                out.append(x509.load_der_x509_certificate(data))
        except ValueError:
            log.warning("trust store: %s is not a certificate, skipped", file.name)
    return out


def _digest(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def _load_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except Exception as exc:  # ValueError, x509.InvalidVersion, ... on a damaged certificate
        raise SodError(f"the Document Signer certificate cannot be parsed ({exc})") from None


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    sid = signer["sid"]
    candidates = [c.chosen for c in signed["certificates"] or [] if c.name == "certificate"]
    if not candidates:
        raise SodError("EF.SOD carries no Document Signer certificate")
    for cert in candidates:
        if sid.name == "issuer_and_serial_number":
            if (
                cert.issuer == sid.chosen["issuer"]
                and cert.serial_number == sid.chosen["serial_number"].native
            ):
                return _load_certificate(cert.dump())
        elif cert.key_identifier == sid.chosen.native:
            return _load_certificate(cert.dump())
    raise SodError("no certificate in EF.SOD matches the signer")


def _verify_signature(
    public_key: object, signer: cms.SignerInfo, message: bytes, digest_name: str
) -> None:
    """Raises InvalidSignature (or SodError for an algorithm we do not know)."""
    signature = bytes(signer["signature"].native)
    algorithm = signer["signature_algorithm"]
    kind = algorithm.signature_algo
    try:
        hash_name = algorithm.hash_algo
    except ValueError:  # plain "rsaEncryption" and the like name no hash: the digest's
        hash_name = digest_name
    if hash_name not in _HASHES:
        raise SodError(f"unsupported signature hash {hash_name}")
    chosen = _HASHES[hash_name]()
    if kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
        params = algorithm["parameters"]
        pss_hash = _HASHES[params["hash_algorithm"]["algorithm"].native]()
        salt = params["salt_length"].native
        mgf = padding.MGF1(
            _HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]()
        )
        public_key.verify(signature, message, padding.PSS(mgf, salt), pss_hash)
    elif kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, message, padding.PKCS1v15(), chosen)
    elif kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
        try:
            public_key.verify(signature, message, ec.ECDSA(chosen))
        except InvalidSignature:
            # BSI TR-03111 plain format (r || s) is also seen on documents
            half = len(signature) // 2
            if len(signature) % 2 or not half:
                raise
            der = utils.encode_dss_signature(
                int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
            )
            public_key.verify(der, message, ec.ECDSA(chosen))
    else:
        raise SodError(f"unsupported signature algorithm {kind}")


def verify_passive_auth(
    sod: bytes,
    data_groups: Mapping[int, bytes],
    trust_store: Iterable[x509.Certificate] | None,
    *,
    at: dt.datetime | None = None,
) -> PassiveAuthResult:
    """Run the three checks on EF.SOD's bytes and the data groups read (number -> raw file)."""
    problems: list[str] = []
    try:
        security = parse_sod(sod)
    except SodError as exc:
        return PassiveAuthResult(False, False, {n: False for n in data_groups}, (str(exc),))

    hashes_valid = _check_hashes(security, data_groups, problems)
    signature_valid, certificate = _check_signature(security, problems)

    trusted = False
    signer_name: str | None = None
    if certificate is not None:
        # cryptography parses certificate fields lazily: a damaged one fails only here
        try:
            trusted, why = _chain_ok(certificate, trust_store, at or dt.datetime.now(dt.UTC))
            signer_name = certificate.subject.rfc4514_string()
        except Exception:  # ValueError, InvalidVersion, ... from a damaged certificate
            trusted, why = False, "the Document Signer certificate cannot be parsed"
        if not trusted:
            problems.append(why)
    return PassiveAuthResult(signature_valid, trusted, hashes_valid, tuple(problems), signer_name)


def _check_hashes(
    security: SecurityObject, data_groups: Mapping[int, bytes], problems: list[str]
) -> dict[int, bool]:
    """Each data group read against its hash in the SOD."""
    hashes_valid: dict[int, bool] = {}
    for number, raw in sorted(data_groups.items()):
        expected = security.dg_hashes.get(number)
        ok = expected is not None and hmac.compare_digest(
            _digest(security.hash_algorithm, raw), expected
        )
        hashes_valid[number] = ok
        if not ok:
            problems.append(
                f"DG{number} is not in the SOD" if expected is None else f"DG{number} hash differs"
            )
    return hashes_valid


def _check_signature(
    security: SecurityObject, problems: list[str]
) -> tuple[bool, x509.Certificate | None]:
    """Whether the Document Signer's signature over the SOD verifies, and its certificate
    (when it could be found, even if the signature does not verify)."""
    signature_valid = False
    certificate: x509.Certificate | None = None
    try:
        # asn1crypto parses lazily: a damaged SignerInfo fails here, not in parse_sod
        signer = security.signed_data["signer_infos"][0]
        certificate = _signer_certificate(security.signed_data, signer)
        digest_name = signer["digest_algorithm"]["algorithm"].native
        if digest_name not in _HASHES:
            raise SodError(f"unsupported digest algorithm {digest_name}")
        signed_attrs = signer["signed_attrs"]
        if signed_attrs is not None and len(signed_attrs):
            attrs = {a["type"].native: a["values"][0] for a in signed_attrs}
            digest = attrs.get("message_digest")
            if digest is None or not hmac.compare_digest(
                bytes(digest.native), _digest(digest_name, security.encapsulated)
            ):
                raise SodError("the signed message digest does not match the LDS object")
            content_type = attrs.get("content_type")
            if content_type is not None and content_type.dotted != OID_LDS_SECURITY_OBJECT:
                raise SodError("the signed content type is not the LDS security object")
            message = b"\x31" + signed_attrs.dump()[1:]  # signed as a SET OF (RFC 5652, 5.4)
        else:
            message = security.encapsulated
        _verify_signature(certificate.public_key(), signer, message, digest_name)
        signature_valid = True
    except InvalidSignature:
        problems.append("the SOD signature does not verify with the Document Signer key")
    except (SodError, UnsupportedAlgorithm, ValueError, KeyError, TypeError) as exc:
        problems.append(f"SOD signature: {exc}")
    except Exception as exc:  # damaged ASN.1 deep inside: still a failed check, not a crash
        problems.append(f"SOD signature cannot be checked ({type(exc).__name__})")
    return signature_valid, certificate


def _chain_ok(
    certificate: x509.Certificate,
    trust_store: Iterable[x509.Certificate] | None,
    at: dt.datetime,
) -> tuple[bool, str]:
    if trust_store is None:
        return False, "no CSCA trust store configured"
    issuers = [c for c in trust_store if c.subject == certificate.issuer]
    if not issuers:
        return False, "the Document Signer's CSCA is not in the trust store"
    for csca in issuers:
        try:
            certificate.verify_directly_issued_by(csca)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
            return False, "the Document Signer certificate is not valid at this date"
        return True, ""
    return False, "the Document Signer certificate does not verify under the CSCA"
