"""The simulator's document PKI: a CSCA, a Document Signer under it, and EF.SOD signing.

`load_or_create_pki(folder)` keeps the keys and certificates in `folder` (created on first
run, reused after), so a kiosk can trust the simulator's CSCA through a trust-store file.
`build_sod` signs the data groups' hashes as ICAO 9303 Part 10, 4.6.2 says: a CMS
SignedData (RFC 5652) over an LDSSecurityObject, wrapped in tag 77. This module never
imports `drivers/`: the LDS security object's ASN.1 is written out here on purpose.
Test keys only: they sit on disk in the clear.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class _DataGroupHash(core.Sequence):
    _fields = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class _DataGroupHashValues(core.SequenceOf):
    _child_spec = _DataGroupHash


class _LdsSecurityObject(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", _DataGroupHashValues),
    ]


@dataclass(frozen=True, repr=False)
class ChipPki:
    """A CSCA and its Document Signer (keys and certificates)."""

    csca_key: PrivateKey
    csca_cert: x509.Certificate
    ds_key: PrivateKey
    ds_cert: x509.Certificate

    def __repr__(self) -> str:
        return f"ChipPki(csca={self.csca_cert.subject.rfc4514_string()!r})"

    @property
    def csca_cert_pem(self) -> bytes:
        return self.csca_cert.public_bytes(serialization.Encoding.PEM)

    @property
    def ds_cert_pem(self) -> bytes:
        return self.ds_cert.public_bytes(serialization.Encoding.PEM)


def _new_key(kind: str) -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kiosk Simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_pki(key_type: str = "ec", *, now: dt.datetime | None = None) -> ChipPki:
    """A fresh CSCA (15 years) and Document Signer (10 years); `key_type` "ec" or "rsa"."""
    now = now or dt.datetime.now(dt.UTC)
    csca_key, ds_key = _new_key(key_type), _new_key(key_type)
    csca_name = _name("Simulator CSCA")
    csca_cert = (
        x509.CertificateBuilder()
        .subject_name(csca_name)
        .issuer_name(csca_name)
        .public_key(csca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=15 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(csca_key.public_key()), critical=False
        )
        .sign(csca_key, hashes.SHA256())
    )
    ds_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Simulator Document Signer"))
        .issuer_name(csca_name)
        .public_key(ds_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=10 * 365))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca_key.public_key()),
            critical=False,
        )
        .sign(csca_key, hashes.SHA256())
    )
    return ChipPki(csca_key, csca_cert, ds_key, ds_cert)


_FILES = ("csca.pem", "csca-key.pem", "ds.pem", "ds-key.pem")


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_or_create_pki(folder: Path) -> ChipPki:
    """The PKI kept in `folder`; generated and written there on first use."""
    paths = [folder / name for name in _FILES]
    if all(p.exists() for p in paths):
        csca_cert = x509.load_pem_x509_certificate(paths[0].read_bytes())
        csca_key = serialization.load_pem_private_key(paths[1].read_bytes(), None)
        ds_cert = x509.load_pem_x509_certificate(paths[2].read_bytes())
        ds_key = serialization.load_pem_private_key(paths[3].read_bytes(), None)
        assert isinstance(csca_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        assert isinstance(ds_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
        return ChipPki(csca_key, csca_cert, ds_key, ds_cert)
    folder.mkdir(parents=True, exist_ok=True)
    pki = create_pki()
    contents = (pki.csca_cert_pem, _key_pem(pki.csca_key), pki.ds_cert_pem, _key_pem(pki.ds_key))
    for path, content in zip(paths, contents, strict=True):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.chmod(0o600)
        tmp.replace(path)
    return pki


def _sign(key: PrivateKey, message: bytes) -> tuple[bytes, str]:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256()), "sha256_rsa"
    return key.sign(message, ec.ECDSA(hashes.SHA256())), "sha256_ecdsa"


def build_sod(pki: ChipPki, data_groups: dict[int, bytes], *, forged: bool = False) -> bytes:
    """EF.SOD over `data_groups` (number -> raw file), SHA-256, signed by the Document Signer.

    `forged`: signed by a key that is not the Document Signer's, the DS certificate still
    attached (what a cloned-and-altered document looks like).
    """
    lso = _LdsSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": "sha256"},
            "data_group_hash_values": [
                {"data_group_number": n, "data_group_hash_value": hashlib.sha256(raw).digest()}
                for n, raw in sorted(data_groups.items())
            ],
        }
    )
    content = lso.dump()
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [OID_LDS_SECURITY_OBJECT]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
        ]
    )
    key: PrivateKey = pki.ds_key
    if forged:
        key = _new_key("rsa" if isinstance(pki.ds_key, rsa.RSAPrivateKey) else "ec")
    signature, algorithm = _sign(key, signed_attrs.dump())
    ds = asn1_x509.Certificate.load(pki.ds_cert.public_bytes(serialization.Encoding.DER))
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": ds.issuer,
                        "serial_number": ds.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": algorithm},
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": OID_LDS_SECURITY_OBJECT, "content": content},
            "certificates": [ds],
            "signer_infos": [signer],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
    return b"\x77" + _ber_length(len(info)) + info


def _ber_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    size = (n.bit_length() + 7) // 8
    return bytes([0x80 | size]) + n.to_bytes(size, "big")
