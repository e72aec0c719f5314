"""The fleet's real pieces on one machine for tests and benchmarks: a throwaway PostgreSQL
cluster, `kiosk-fleet serve` worker processes, and Debian's HAProxy in front of them with the
shipped configuration (systemd/haproxy/kiosk-fleet.cfg, its addresses replaced by free ports)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_CFG = Path(__file__).resolve().parents[1] / "systemd" / "haproxy" / "kiosk-fleet.cfg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_cluster(durable: bool = False) -> Iterator[str]:
    """A real PostgreSQL 15 cluster in a temp dir, run as the postgres user; yields a DSN with a
    `{db}` to fill in. Not `durable`: fsync off, fine for tests; a benchmark keeps fsync on."""
    tmp = Path(tempfile.mkdtemp(prefix="fleet-pg-"))
    data = tmp / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {tmp} -c listen_addresses='' -c max_connections=200"
    if not durable:
        opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-w"]
        + ["-l", str(tmp / "log"), "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@/{{db}}?host={tmp}&port={port}"
    finally:
        subprocess.run(
            [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(tmp, ignore_errors=True)


def postmaster_pid(dsn: str) -> int:
    """The cluster's postmaster (its children are the backends), from postmaster.pid."""
    host = re.search(r"host=([^&]+)", dsn)
    assert host is not None
    return int((Path(host.group(1)) / "data" / "postmaster.pid").read_text().split()[0])


def wait_http(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.05)


@contextmanager
def fleet_workers(
    database_url: str, data_dir: Path, n: int, extra: Sequence[str] = ()
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`n` kiosk-fleet serve processes on free loopback ports, trusting a local HAProxy."""
    procs, ports = [], [free_port() for _ in range(n)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        for port in ports:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "fleet.cli", "serve", "--data", str(data_dir)]
                    + ["--database-url", database_url, "--port", str(port)]
                    + ["--trusted-proxy", "127.0.0.1", "--log-level", "WARNING", *extra],
                    env=env,
                )
            )
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}")
        for proc, port in zip(procs, ports, strict=True):
            proc.port = port  # type: ignore[attr-defined]
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def haproxy_config(listen_port: int, worker_ports: Sequence[int]) -> str:
    """The shipped configuration with its bind and worker addresses replaced."""
    text = HAPROXY_CFG.read_text()
    text = text.replace("log /dev/log local0", "log stderr format short local0 warning")
    text = re.sub(r"maxconn 10000", "maxconn 1000", text)  # a shell's fd limit, not systemd's
    text = re.sub(r"bind 127\.0\.0\.1:\d+", f"bind 127.0.0.1:{listen_port}", text)
    lines = [line for line in text.splitlines() if not line.strip().startswith("server worker")]
    lines += [f"    server worker{i + 1} 127.0.0.1:{p}" for i, p in enumerate(worker_ports)]
    return "\n".join(lines) + "\n"


@contextmanager
def haproxy_in_front(worker_ports: Sequence[int]) -> Iterator[str]:
    """Debian's HAProxy with the shipped configuration; yields its URL once every worker is up
    behind it."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="fleet-haproxy-") as tmp:
        cfg = Path(tmp) / "haproxy.cfg"
        cfg.write_text(haproxy_config(port, worker_ports))
        check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused the configuration: {check.stdout}{check.stderr}")
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)])
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(url)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
