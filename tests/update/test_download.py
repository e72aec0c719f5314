"""Downloading a bundle over a slow link that keeps dropping: resumed where it stopped, never
fetched twice, never spliced from two versions of a file."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.update.download import DownloadPolicy, download
from tests.update.bundle_server import BundleServer, Link
from wire.update.errors import Postponed, UpdatePostponed

FAST_RETRY = DownloadPolicy(read_timeout_s=10, attempts=3, backoff_s=0.05)


@pytest.fixture
def bundle_bytes(releases) -> bytes:
    return releases.get("1.1.0").bundle.read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_slow_link_that_drops_every_100_kb_still_delivers_the_bundle(tmp_path, bundle_bytes):
    served = tmp_path / "srv"
    served.mkdir()
    (served / "b.kbundle").write_bytes(bundle_bytes)
    seen: list[int] = []
    with BundleServer(served, Link(bytes_per_s=400_000, drop_after=100_000)) as server:
        dest = download(server.url("b.kbundle"), tmp_path / "b.kbundle", FAST_RETRY,
                        progress=lambda have, total: seen.append(have))
    assert sha(dest.read_bytes()) == sha(bundle_bytes)
    ranges = [r for _, r, _ in server.served.requests]
    drops = len(bundle_bytes) // 100_000
    assert len(ranges) == drops + 1
    # Each reconnection asks for exactly what is missing, and nothing is sent twice.
    assert ranges == [None] + [f"bytes={100_000 * i}-" for i in range(1, drops + 1)]
    assert server.served.body_bytes == len(bundle_bytes)
    assert [s for _, _, s in server.served.requests] == [200] + [206] * drops
    assert seen[-1] == len(bundle_bytes)
    assert not (tmp_path / "b.kbundle.part").exists()


def killed_while_downloading(url: str, dest: Path, after_syncs: int) -> int:
    """A downloader killed (SIGKILL) right after its Nth fsync of the partial file, in its own
    process, as a power cut would stop the updater; the size of the partial file it left."""
    code = (
        "import sys; from pathlib import Path\n"
        "from kiosk.update.download import DownloadPolicy, download\n"
        "from kiosk.update.guard import CrashPoints\n"
        f"download({url!r}, Path({str(dest)!r}), DownloadPolicy(sync_every_bytes=65536),"
        f" crash=CrashPoints('download_chunk_synced:{after_syncs}'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return dest.with_name(dest.name + ".part").stat().st_size


def test_a_download_killed_half_way_resumes_from_the_bytes_on_disk(tmp_path, bundle_bytes):
    served = tmp_path / "srv"
    served.mkdir()
    (served / "b.kbundle").write_bytes(bundle_bytes)
    dest = tmp_path / "b.kbundle"
    with BundleServer(served) as server:
        left = killed_while_downloading(server.url("b.kbundle"), dest, after_syncs=2)
    assert 2 * 65536 <= left < len(bundle_bytes)
    with BundleServer(served) as server:  # the next run of the updater
        download(server.url("b.kbundle"), dest, FAST_RETRY)
    assert sha(dest.read_bytes()) == sha(bundle_bytes)
    assert server.served.requests == [("/b.kbundle", f"bytes={left}-", 206)]
    assert server.served.body_bytes == len(bundle_bytes) - left


def test_a_file_changed_on_the_server_is_fetched_again_not_spliced(tmp_path, bundle_bytes):
    served = tmp_path / "srv"
    served.mkdir()
    (served / "b.kbundle").write_bytes(bundle_bytes)
    dest = tmp_path / "b.kbundle"
    with BundleServer(served) as server:
        left = killed_while_downloading(server.url("b.kbundle"), dest, after_syncs=1)
    replaced = bytes(reversed(bundle_bytes))
    (served / "b.kbundle").write_bytes(replaced)
    with BundleServer(served) as server:
        download(server.url("b.kbundle"), dest, FAST_RETRY)
    assert sha(dest.read_bytes()) == sha(replaced)
    # It asked to resume, but only if unchanged (If-Range): the new file came whole.
    assert server.served.requests == [("/b.kbundle", f"bytes={left}-", 200)]


def test_a_server_that_ignores_range_still_gives_a_whole_file(tmp_path, bundle_bytes):
    served = tmp_path / "srv"
    served.mkdir()
    (served / "b.kbundle").write_bytes(bundle_bytes)
    part = tmp_path / "b.kbundle.part"
    part.write_bytes(bundle_bytes[:5000] + b"garbage")  # left by an earlier run
    with BundleServer(served, Link(honour_range=False)) as server:
        dest = download(server.url("b.kbundle"), tmp_path / "b.kbundle", FAST_RETRY)
    assert sha(dest.read_bytes()) == sha(bundle_bytes)


def test_no_link_at_all_postpones_with_a_reason(tmp_path):
    with pytest.raises(UpdatePostponed) as caught:
        download("http://127.0.0.1:9/b.kbundle", tmp_path / "b.kbundle", FAST_RETRY)
    assert caught.value.reason is Postponed.DOWNLOAD_FAILED
    assert "Connection refused" in caught.value.detail


def test_a_stalled_link_is_dropped_by_the_read_timeout(tmp_path, bundle_bytes):
    served = tmp_path / "srv"
    served.mkdir()
    (served / "b.kbundle").write_bytes(bundle_bytes)
    with BundleServer(served, Link(bytes_per_s=1)) as server:  # one byte a second
        policy = DownloadPolicy(read_timeout_s=0.5, attempts=1, backoff_s=0.01)
        with pytest.raises(UpdatePostponed) as caught:
            download(server.url("b.kbundle"), tmp_path / "b.kbundle", policy)
    assert "timed out" in caught.value.detail.lower()
    assert os.path.getsize(tmp_path / "b.kbundle.part") < 100
