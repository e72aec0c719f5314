"""Bundles a kiosk must not install: refused by the real updater with a clear reason the fleet
sees, nothing staged, the spare slot's old release untouched; and `kiosk-bundle verify` says
the same to a release engineer."""

from __future__ import annotations

import ctypes
import dataclasses
import gzip
import io
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.update.installer import UpdaterPhase
from tests.systemd.unitfiles import last, load, values
from tests.update.machine import DEV_BIN, Machine
from wire.update.bundle import read_manifest
from wire.update.errors import Refusal


def rewrite(src: Path, dst: Path, manifest: bytes | None = None,
            replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> Path:
    """The bundle with its manifest or some members' bytes swapped (what an attacker or a
    corrupted mirror would serve)."""
    replace = replace or {}
    out = io.BytesIO()
    with tarfile.open(src, "r|gz") as old, tarfile.open(fileobj=out, mode="w") as new:
        for member in old:
            data = old.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json" and manifest is not None:
                data = manifest
            data = replace.get(member.name, data)
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))
        for name, data in (add or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
    dst.write_bytes(gzip.compress(out.getvalue(), compresslevel=1))
    return dst


def run_updater(machine: Machine, url: str, digest: str, request_id: str) -> dict:
    staged_before = machine.updater_state().get("staged")
    machine.request(url, digest, request_id)
    state = machine.run_updater()
    state["staged_before"] = staged_before
    return state


def refused_with(state: dict) -> str:
    assert state["phase"] == UpdaterPhase.REFUSED.value, state
    assert state.get("staged") == state["staged_before"]  # nothing new staged
    return state["last_result"]["reason"]


@pytest.fixture
def good(releases):
    return releases.get("1.1.0")


def test_a_bundle_with_a_tampered_manifest_is_refused_as_bad_signature(machine, served, good):
    before = machine.release("b")
    body = read_manifest(good.bundle)
    tampered = dataclasses.replace(body, min_version="0.0.1")  # the signature of the original
    bundle = rewrite(good.bundle, served.folder / "tampered.kbundle", tampered.to_bytes())
    state = run_updater(machine, served.url(bundle.name), tampered.digest(), "r1")
    assert refused_with(state) == Refusal.BAD_SIGNATURE.value
    assert "altered or forged" in state["last_result"]["detail"]
    assert machine.release("b") == before  # nothing written to the spare slot


def test_a_bundle_signed_by_another_key_is_refused(machine, served, good):
    body = dataclasses.replace(read_manifest(good.bundle), key_id="", signature="")
    forged = body.signed_with(Ed25519PrivateKey.generate())
    bundle = rewrite(good.bundle, served.folder / "forged.kbundle", forged.to_bytes())
    state = run_updater(machine, served.url(bundle.name), forged.digest(), "r1")
    assert refused_with(state) == Refusal.UNTRUSTED_KEY.value


def test_a_file_that_does_not_match_its_hash_is_refused(machine, served, good):
    target = next(f for f in good.manifest.files if f.path == "app/kiosk/cli.py")
    evil = b"#" * target.size  # same size, other bytes
    bundle = rewrite(good.bundle, served.folder / "badhash.kbundle", replace={target.path: evil})
    state = run_updater(machine, served.url(bundle.name), good.digest, "r1")
    assert refused_with(state) == Refusal.BAD_HASH.value
    assert "app/kiosk/cli.py" in state["last_result"]["detail"]
    assert not list((machine.root / "opt/kiosk/slots").glob(".incoming-*"))


def test_a_file_the_manifest_does_not_list_is_refused(machine, served, good):
    bundle = rewrite(good.bundle, served.folder / "extra.kbundle",
                     add={"app/sitecustomize.py": b"import os\n"})
    state = run_updater(machine, served.url(bundle.name), good.digest, "r1")
    assert refused_with(state) == Refusal.UNEXPECTED_FILE.value


def test_an_older_release_is_refused_as_a_downgrade(machine, served, releases):
    old = releases.get("0.9.0")
    state = run_updater(machine, served.url(old.bundle.name), old.digest, "r1")
    assert refused_with(state) == Refusal.NOT_NEWER.value
    assert "0.9.0 <= running 1.0.0" in state["last_result"]["detail"]
    same = releases.base
    state = run_updater(machine, served.url(same.bundle.name), same.digest, "r2")
    assert refused_with(state) == Refusal.NOT_NEWER.value


def test_a_release_that_needs_a_newer_running_version_is_refused(machine, served, releases):
    needs = releases.get("1.2.0", min_version="1.0.5")
    state = run_updater(machine, served.url(needs.bundle.name), needs.digest, "r1")
    assert refused_with(state) == Refusal.BELOW_MINIMUM.value
    assert "running 1.0.0 < minimum 1.0.5" in state["last_result"]["detail"]


def test_a_bundle_other_than_the_one_announced_is_refused(machine, served, releases, good):
    other = releases.get("1.1.1")
    state = run_updater(machine, served.url(other.bundle.name), good.digest, "r1")
    assert refused_with(state) == Refusal.DIGEST_MISMATCH.value


def test_garbage_at_the_url_is_refused_as_not_a_bundle(machine, served):
    (served.folder / "junk.kbundle").write_bytes(b"<html>Not Found</html>" * 100)
    state = run_updater(machine, served.url("junk.kbundle"), "0" * 64, "r1")
    assert refused_with(state) == Refusal.NOT_A_BUNDLE.value


def test_the_good_bundle_is_staged_and_a_repeated_request_is_not_redone(machine, served, good):
    state = run_updater(machine, served.url(good.bundle.name), good.digest, "r1")
    assert state["phase"] == UpdaterPhase.STAGED.value, state
    staged = state["staged"]
    assert staged["slot"] == "b" and staged["version"] == "1.1.0"
    assert machine.release("b")["manifest_digest"] == good.digest
    assert machine.release("a")["version"] == "1.0.0"  # the running slot untouched
    assert machine.current_slot() == "a"  # the updater never switches
    assert machine.boot_state()["good"] == "a" and not machine.boot_state()["trial"]
    again = run_updater(machine, served.url(good.bundle.name), good.digest, "r1")
    assert again["staged"]["staged_id"] == staged["staged_id"]


def test_kiosk_bundle_verify_says_why(tmp_path, trusted, good):
    def verify(bundle: Path, *more: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(DEV_BIN / "kiosk-bundle"), "verify", str(bundle),
                               "--trusted-key", trusted[0], *more],
                              capture_output=True, text=True, timeout=120)

    ok = verify(good.bundle, "--digest", good.digest, "--running-version", "1.0.0")
    assert ok.returncode == 0 and "ok: version 1.1.0" in ok.stdout
    target = next(f for f in good.manifest.files if f.part == "app" and f.size > 0)
    bad = rewrite(good.bundle, tmp_path / "bad.kbundle", replace={target.path: b"x" * target.size})
    refused = verify(bad)
    assert refused.returncode == 1
    assert refused.stdout.startswith("refused (bad_hash): a file's content does not match")
    downgrade = verify(good.bundle, "--running-version", "1.2.0")
    assert downgrade.returncode == 1 and "(not_newer)" in downgrade.stdout


PR_SET_MDWE, MDWE_REFUSE_EXEC_GAIN = 65, 1  # linux/prctl.h, Linux 6.3+


def refuse_write_execute() -> None:
    """What MemoryDenyWriteExecute=yes does to the unit's process (via the same kernel switch)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_MDWE")


def test_the_updater_and_the_guard_work_with_write_execute_memory_refused(machine, served, good):
    for unit in ("kiosk-update.service", "kiosk-update-guard.service"):
        assert last(load(unit), "Service", "MemoryDenyWriteExecute") == "yes"
    probe = subprocess.run([sys.executable, "-c", "import ctypes; print(ctypes.CDLL(None)"
                            f".prctl({PR_SET_MDWE}, {MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0))"],
                           capture_output=True, text=True)
    if probe.stdout.strip() != "0":
        pytest.skip("this kernel has no PR_SET_MDWE")
    machine.request(served.url(good.bundle.name), good.digest, "r1")
    proc = subprocess.run([str(machine.root / "opt/kiosk/slots/a/venv/bin/kiosk-update"),
                           "--config", str(machine.config), "--state-dir",
                           str(machine.root / "var/lib/kiosk"), "run"],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=refuse_write_execute)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert machine.updater_state()["phase"] == UpdaterPhase.STAGED.value
    (check,) = values(load("kiosk-update-guard.service"), "Service", "ExecStart")
    argv = [machine.path(a) for a in shlex.split(check)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          preexec_fn=refuse_write_execute)
    assert proc.returncode == 0 and "no trial" in proc.stderr, proc.stderr
