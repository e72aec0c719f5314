"""Why an update was refused or has to wait: reason codes the fleet shows the operators."""

from __future__ import annotations

import enum


class Refusal(enum.StrEnum):
    """A bundle that will never be installed as it is; the value is the reason code."""

    BAD_MANIFEST = "bad_manifest"
    UNTRUSTED_KEY = "untrusted_key"
    BAD_SIGNATURE = "bad_signature"
    DIGEST_MISMATCH = "digest_mismatch"
    BAD_HASH = "bad_hash"
    BAD_SIZE = "bad_size"
    MISSING_FILE = "missing_file"
    UNEXPECTED_FILE = "unexpected_file"
    NOT_NEWER = "not_newer"
    BELOW_MINIMUM = "below_minimum"
    WRONG_PYTHON = "wrong_python"
    RUNTIME_MISSING = "runtime_missing"
    NOT_A_BUNDLE = "not_a_bundle"

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Refusal.BAD_MANIFEST: "the bundle's manifest is malformed",
    Refusal.UNTRUSTED_KEY: "the bundle is signed by a key this kiosk does not trust",
    Refusal.BAD_SIGNATURE: "the manifest's signature does not verify: it was altered or forged",
    Refusal.DIGEST_MISMATCH: "the manifest is not the one the fleet announced",
    Refusal.BAD_HASH: "a file's content does not match its hash in the manifest",
    Refusal.BAD_SIZE: "a file's size does not match the manifest",
    Refusal.MISSING_FILE: "a file the manifest lists is not in the bundle",
    Refusal.UNEXPECTED_FILE: "the bundle holds a file the manifest does not list",
    Refusal.NOT_NEWER: "the bundle's version is not newer than the running one (no downgrades)",
    Refusal.BELOW_MINIMUM: "the running version is older than the bundle's minimum version",
    Refusal.WRONG_PYTHON: "the bundle was built for another Python version",
    Refusal.RUNTIME_MISSING: "the bundle leaves out a runtime this kiosk does not have",
    Refusal.NOT_A_BUNDLE: "the file is not a readable bundle",
}


class UpdateRefused(Exception):
    """The bundle is refused for good; `reason` is the code, the message says what was found."""

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(f"{reason.message}" + (f": {detail}" if detail else ""))
        self.reason = reason
        self.detail = detail


class Postponed(enum.StrEnum):
    """An update that cannot go on now but will by itself later (the updater retries)."""

    DOWNLOAD_FAILED = "download_failed"
    TRIAL_IN_PROGRESS = "trial_in_progress"
    NO_SPACE = "no_space"


class UpdatePostponed(Exception):
    def __init__(self, reason: Postponed, detail: str = "") -> None:
        super().__init__(f"{reason.value}" + (f": {detail}" if detail else ""))
        self.reason = reason
        self.detail = detail


class Outcome(enum.StrEnum):
    """How an update ended, as the kiosk reports it and the fleet's rollouts read it."""

    INSTALLED = "installed"  # the first release on an empty machine
    UPDATED = "updated"
    ROLLED_BACK = "rolled_back"
