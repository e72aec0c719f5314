"""Errors in plain words: a missing token file, a malformed token, a fleet that cannot be reached,
an address without http://, a server that is no fleet. Never a traceback, never a class name."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.config_writer import ProvisioningError
from tests.provisioning.provkit import PLACE, argv, free_port, run_cli, sim_argv

CLASS_NAMES = ("Error:", "Exception", "Traceback", "ClientConnector", "NonHttpUrl")


def plain(text: str) -> bool:
    return not any(name in text for name in CLASS_NAMES)


async def test_a_missing_token_file_is_a_sentence_not_a_traceback(tmp_path):
    missing = tmp_path / "token.txt"
    run = await run_cli(
        *argv(tmp_path, "--no-scan", "--pin-stdin", "--fleet-url", "https://fleet.example"),
        *("--enroll-token-file", str(missing), *PLACE),
    )
    assert run.code == 2, run.err
    assert run.err.strip() == f"kiosk-provision: the token file {missing} does not exist"
    assert not (tmp_path / "etc" / "device.key").exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("abc123", "is 6 characters long; a token from kiosk-fleet is 43"),
        ("A" * 43 + "\n" + "B" * 43, "holds more than one word or line"),
        ("A" * 40 + "+/=", "characters a fleet token never has ('+' '/' '=')"),
        ('{"expires_at": "2025-01-01T00:00:00+08:00"}', 'is JSON without a "token" in it'),
        ("\ufeff" + "A" * 43, "characters a fleet token never has"),
    ],
)
async def test_a_malformed_token_says_what_is_wrong_with_it(tmp_path, content, says):
    token_file = tmp_path / "token.txt"
    token_file.write_text(content)
    run = await run_cli(
        *argv(tmp_path, "--no-scan", "--pin-stdin", "--fleet-url", "https://fleet.example"),
        *("--enroll-token-file", str(token_file), *PLACE),
    )
    assert run.code == 2, run.out + run.err
    assert says in run.err and plain(run.err)
    assert "A" * 40 not in run.err  # the token is a secret: never repeated


def test_the_json_line_create_token_printed_is_taken_as_it_is(tmp_path):
    from provisioning.enrollment import read_token

    token_file = tmp_path / "token.json"
    token_file.write_text('{"token": "' + "x" * 43 + '", "expires_at": "2030-01-01T00:00:00Z"}\n')
    assert read_token(None, token_file) == "x" * 43


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_token_is_taken_or_refused_in_words(text):
    from provisioning.enrollment import check_token

    try:
        token = check_token(text, "the token file t")
    except ProvisioningError as exc:
        message = str(exc)
        assert message and plain(message)
        assert len(text.strip()) < 8 or text.strip() not in message  # never echoed
        return
    assert 16 <= len(token) <= 128 and token.isascii()


async def test_a_fleet_address_without_http_is_refused_in_words(tmp_path):
    run = await run_cli(
        *argv(tmp_path, "--no-scan", "--pin-stdin", "--fleet-url", "127.0.0.1:8470"),
        *("--enroll-token", "A" * 43, *PLACE),
    )
    assert run.code == 2
    assert "'127.0.0.1:8470' is not a web address: it must start with https://" in run.err
    assert plain(run.err)


async def test_a_fleet_that_refuses_the_connection_is_described_in_words(tmp_path, sim):
    port = free_port()
    run = await run_cli(
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"),
        *("--fleet-url", f"http://127.0.0.1:{port}", "--enroll-token", "A" * 43, *PLACE),
    )
    assert run.code == 1
    expected = f"  - enrollment: nothing answers at 127.0.0.1:{port} (connection refused)"
    assert expected in run.out.splitlines(), run.out
    assert plain(run.out + run.err)


async def test_a_server_that_is_not_a_fleet_is_described_in_words(tmp_path, sim):
    not_a_fleet = sim.endpoints["backends_url"]  # an HTTP server, but the government backends
    run = await run_cli(
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"),
        *("--fleet-url", not_a_fleet, "--enroll-token", "A" * 43, *PLACE),
    )
    assert run.code == 1
    assert f"{not_a_fleet} did not answer like a fleet server (HTTP 404)" in run.out, run.out
    assert plain(run.out + run.err)


async def test_a_token_the_fleet_does_not_know_is_described_in_words(tmp_path, sim, fleet):
    run = await run_cli(
        *sim_argv(tmp_path, sim, "--pin-stdin", "--no-receipt"),
        *("--fleet-url", fleet.url, "--enroll-token", "A" * 43, *PLACE),
    )
    assert run.code == 1
    assert "  - enrollment: the fleet does not know this token" in run.out
