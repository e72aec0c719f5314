"""Enrolling the kiosk with its fleet: the token checked before use, every failure in words.

The technician gets a token from the operators (`kiosk-fleet create-token`, or `--rekey KIOSK_ID`
for a kiosk that needs a new key) and a fleet address. Both are checked before any hardware is
touched; what the fleet or the network then says comes back as a sentence, never a class name.
"""

from __future__ import annotations

import json
import socket
import ssl
import string
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from provisioning.config_writer import ProvisioningError

TOKEN_MIN, TOKEN_MAX = 16, 128  # what the fleet's wire schema takes (wire/fleet.py)
TOKEN_TYPICAL = 43  # secrets.token_urlsafe(32), as kiosk-fleet makes them
_TOKEN_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")


class EnrollmentState(StrEnum):
    ENROLLED = "enrolled"
    REKEYED = "rekeyed"  # an enrolled kiosk id got a new key; the old key no longer verifies
    ALREADY_ENROLLED = "already_enrolled"  # an earlier run enrolled this key with this fleet
    DECLINED = "declined"  # --no-enroll: the technician runs this kiosk without a fleet
    NOT_ENROLLED = "not_enrolled"  # nothing to enroll with, and not declined
    FAILED = "failed"

    @property
    def ok(self) -> bool:
        return self not in (EnrollmentState.NOT_ENROLLED, EnrollmentState.FAILED)


@dataclass(frozen=True)
class Enrollment:
    state: EnrollmentState
    server_url: str = ""
    detail: str = ""
    key_id: str = ""


# -- before anything is touched ----------------------------------------------------------------


def fleet_url(text: str) -> str:
    """An http(s) address of a fleet server, for argparse; anything else says what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"{text!r} is not a web address: it must start with https:// (or http://),"
            " e.g. https://fleet.example"
        )
    if not parts.hostname:
        raise ValueError(f"{text!r} names no server after {parts.scheme}://")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"{text!r}: the port after ':' is not a number") from None
    return text.strip().rstrip("/")


def check_token(token: str, source: str) -> str:
    """The token as the fleet will take it, or ProvisioningError saying what is wrong with it.
    The message never repeats the token: it is a secret."""
    token = token.strip()
    if not token:
        raise ProvisioningError(
            f"{source} is empty: it should hold the token `kiosk-fleet create-token` printed"
        )
    if any(c.isspace() for c in token):
        raise ProvisioningError(
            f"{source} holds more than one word or line: put only the token in it"
        )
    odd = sorted({c for c in token if c not in _TOKEN_ALPHABET})
    if odd:
        shown = " ".join(repr(c) for c in odd[:5])
        raise ProvisioningError(
            f"the token in {source} has characters a fleet token never has ({shown}); tokens"
            " are letters, digits, '-' and '_' only"
        )
    if not TOKEN_MIN <= len(token) <= TOKEN_MAX:
        raise ProvisioningError(
            f"the token in {source} is {len(token)} characters long; a token from kiosk-fleet"
            f" is {TOKEN_TYPICAL} (was it cut off, or is it something else?)"
        )
    return token


def read_token(given: str | None, path: Path | None) -> str | None:
    """The token from --enroll-token or --enroll-token-file (also the JSON line that
    `kiosk-fleet create-token` prints, saved as it is), checked; None when neither was given."""
    if given is not None and path is not None:
        raise ProvisioningError("give the token once: --enroll-token or --enroll-token-file")
    if given is not None:
        return check_token(given, "--enroll-token")
    if path is None:
        return None
    source = f"the token file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProvisioningError(f"{source} does not exist") from None
    except IsADirectoryError:
        raise ProvisioningError(f"{source} is a folder, not a file") from None
    except PermissionError:
        raise ProvisioningError(f"{source} cannot be read: permission denied") from None
    except UnicodeDecodeError:
        raise ProvisioningError(f"{source} is not text: is it the right file?") from None
    except OSError as exc:
        raise ProvisioningError(f"{source} cannot be read: {exc.strerror or exc}") from None
    if text.lstrip().startswith("{"):
        try:
            printed = json.loads(text)
        except ValueError:
            raise ProvisioningError(f"{source} starts like JSON but is not JSON") from None
        if not isinstance(printed, dict) or not isinstance(printed.get("token"), str):
            raise ProvisioningError(f'{source} is JSON without a "token" in it')
        text = printed["token"]
    return check_token(text, source)


# -- the fleet's answer in words ---------------------------------------------------------------

_REFUSALS = {
    "token_unknown": "the fleet does not know this token: check it was copied whole and is for"
    " this fleet server",
    "token_used": "this token was used already; ask the operators for a new one",
    "token_expired": "this token has expired; ask the operators for a new one",
    "token_for_other_kiosk": "this re-key token was made for another kiosk id; check --kiosk-id"
    " or ask for a token for {kiosk_id}",
    "kiosk_exists": "the fleet already has a kiosk {kiosk_id}; to give it a new key, ask the"
    " operators for a re-key token (kiosk-fleet create-token --rekey {kiosk_id}) and run again"
    " with --rekey",
    "key_in_use": "the fleet already knows this device key (under another kiosk id?); run"
    " again with --rekey and a re-key token",
    "bad_request": "the fleet refused the request as malformed",
}


def refusal_words(code: str, kiosk_id: str) -> str:
    words = _REFUSALS.get(code)
    if words is None:
        return f"the fleet refused the enrollment ({code or 'no reason given'})"
    return words.format(kiosk_id=kiosk_id)


def network_words(exc: BaseException | None, url: str, timeout_s: float) -> str:
    """A failed connection as a technician reads it, from the client library's exception."""
    import aiohttp

    where = urlsplit(url).netloc or url
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return f"no answer from {where} within {timeout_s:.0f} s (is the link up?)"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return (
            f"the TLS certificate of {where} is not trusted here (check the address, the"
            " machine's clock and its CA certificates)"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, socket.gaierror):
            return f"no server named {exc.host} can be found (check the address and the DNS)"
        if isinstance(cause, ConnectionRefusedError):
            return f"nothing answers at {exc.host}:{exc.port} (connection refused)"
        if isinstance(cause, ssl.SSLError):
            return f"a secure connection to {where} could not be made"
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot connect to {exc.host}:{exc.port}: {cause.strerror.lower()}"
        return f"cannot connect to {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{where} closed the connection without answering"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"{url!r} is not a usable web address"
    return f"the connection to {where} failed ({exc or 'no detail'})"


# -- enrolling ---------------------------------------------------------------------------------

ENROLL_TIMEOUT_S = 15.0


async def enroll(
    server_url: str, token: str, private_pem: bytes, kiosk_id: str, site: str, region: str
) -> Enrollment:
    """Registers the key (a new kiosk, or a re-key when the token was made for one); every
    failure is an Enrollment in words, never an exception."""
    from kiosk.fleet_enrollment import FleetError, FleetErrorReason
    from kiosk.fleet_enrollment import enroll as register

    try:
        answer = await register(
            server_url, token, private_pem, kiosk_id, site, region, timeout_s=ENROLL_TIMEOUT_S
        )
    except FleetError as exc:
        if exc.reason is FleetErrorReason.REFUSED:
            why = refusal_words(exc.code, kiosk_id)
        elif exc.reason is FleetErrorReason.UNREACHABLE:
            why = network_words(exc.__cause__, server_url, ENROLL_TIMEOUT_S)
        else:
            status = f" (HTTP {exc.status})" if exc.status else ""
            why = f"{server_url} did not answer like a fleet server{status}: check the address"
        return Enrollment(EnrollmentState.FAILED, server_url, why)
    key_id = str(answer.get("key_id") or "")
    replaced = answer.get("replaced_key_id")
    if isinstance(replaced, str):
        detail = f"new key {key_id} replaces {replaced}, which the fleet no longer accepts"
        return Enrollment(EnrollmentState.REKEYED, server_url, detail, key_id)
    return Enrollment(EnrollmentState.ENROLLED, server_url, f"key {key_id}", key_id)
