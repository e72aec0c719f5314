"""The manifest: one canonical encoding, a signature only trusted keys satisfy, version rules,
and a parser that answers anything with a reason code."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from wire.update.errors import Refusal, UpdateRefused
from wire.update.manifest import FileEntry, Manifest, RuntimeRef, public_key_text, runtime_digest

KEY = Ed25519PrivateKey.generate()
TRUSTED = [public_key_text(KEY)]


def manifest(version: str = "1.1.0", min_version: str = "1.0.0", **changes) -> Manifest:
    runtime = (FileEntry("runtime/six.py", "a" * 64, 10, False),)
    app = (FileEntry("app/kiosk/cli.py", "b" * 64, 20, False),
           FileEntry("catalog/reference_catalog.json", "c" * 64, 30, False))
    made = Manifest(version, min_version, "3.11", 1_700_000_000,
                    RuntimeRef(runtime_digest(runtime), True), runtime + app)
    return dataclasses.replace(made, **changes).signed_with(KEY)


def refusal(call) -> Refusal:
    with pytest.raises(UpdateRefused) as caught:
        call()
    return caught.value.reason


def test_round_trip_is_canonical_and_the_digest_names_it():
    signed = manifest()
    data = signed.to_bytes()
    assert Manifest.from_bytes(data) == signed
    assert json.loads(data) == json.loads(json.dumps(json.loads(data), sort_keys=True))
    # The same content with other spacing is not this release's encoding.
    spaced = json.dumps(json.loads(data), indent=1, sort_keys=True).encode()
    assert refusal(lambda: Manifest.from_bytes(spaced)) is Refusal.BAD_MANIFEST
    assert manifest().digest() == signed.digest()
    assert manifest(version="1.1.1").digest() != signed.digest()


def test_a_trusted_signature_verifies_and_the_announced_digest_is_held_to():
    signed = manifest()
    signed.verify(TRUSTED)
    signed.verify(TRUSTED, signed.digest())
    assert refusal(lambda: signed.verify(TRUSTED, "0" * 64)) is Refusal.DIGEST_MISMATCH


def test_changed_content_breaks_the_signature():
    signed = manifest()
    tampered = dataclasses.replace(signed, min_version="0.1")  # signature kept
    assert refusal(lambda: tampered.verify(TRUSTED)) is Refusal.BAD_SIGNATURE
    garbage = dataclasses.replace(signed, signature="not base64!")
    assert refusal(lambda: garbage.verify(TRUSTED)) is Refusal.BAD_SIGNATURE


def test_a_key_the_kiosk_does_not_trust_is_refused_even_under_a_trusted_keys_id():
    other = Ed25519PrivateKey.generate()
    signed_by_other = dataclasses.replace(manifest(), key_id="", signature="").signed_with(other)
    assert refusal(lambda: signed_by_other.verify(TRUSTED)) is Refusal.UNTRUSTED_KEY
    posing = dataclasses.replace(signed_by_other, key_id=manifest().key_id)
    assert refusal(lambda: posing.verify(TRUSTED)) is Refusal.BAD_SIGNATURE


@pytest.mark.parametrize("running,bundle,minimum,reason", [
    ("1.1.0", "1.1.0", "0", Refusal.NOT_NEWER),
    ("1.1.0", "1.0.9", "0", Refusal.NOT_NEWER),
    ("1.1.0", "1.10.0", "1.2.0", Refusal.BELOW_MINIMUM),
    ("1.1.0", "1.1.1", "1.1.0", None),
    ("1.9.0", "1.10.0", "0", None),  # versions compare as versions, not strings
    (None, "0.1.0", "9.0", None),  # an empty machine takes its first release
])
def test_no_downgrade_and_no_skipping_a_required_release(running, bundle, minimum, reason):
    signed = manifest(version=bundle, min_version=minimum)
    if reason is None:
        signed.check_installable(running, "3.11")
    else:
        assert refusal(lambda: signed.check_installable(running, "3.11")) is reason


def test_a_release_for_another_python_is_refused():
    assert refusal(lambda: manifest().check_installable("1.0.0", "3.12")) is Refusal.WRONG_PYTHON


@pytest.mark.parametrize("path", ["../etc/passwd", "app/../../x", "/abs/path", "app//x", "app",
                                  "app/./x", "other/x", "app\\x", "app/x\0y"])
def test_paths_outside_the_parts_are_refused(path):
    body = json.loads(manifest().to_bytes())
    body["files"][1]["path"] = path
    assert refusal(lambda: Manifest.from_bytes(json.dumps(body).encode())) is Refusal.BAD_MANIFEST


def test_runtime_files_must_match_the_runtime_digest():
    good = manifest()
    lying = dataclasses.replace(good, runtime=RuntimeRef("d" * 64, True))
    assert refusal(lambda: Manifest.from_bytes(lying.to_bytes())) is Refusal.BAD_MANIFEST


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=6), max_leaves=30))
def test_the_parser_answers_anything_with_a_reason(data):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(UpdateRefused) as caught:
        Manifest.from_bytes(raw)
    assert caught.value.reason is Refusal.BAD_MANIFEST


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_real_manifest_with_any_field_replaced_is_refused_or_reparsed(data):
    body = json.loads(manifest().to_bytes())
    key = data.draw(st.sampled_from(sorted(body)))
    body[key] = data.draw(st.none() | st.integers() | st.text(max_size=8) | st.booleans()
                          | st.lists(st.integers(), max_size=2))
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    try:
        parsed = Manifest.from_bytes(encoded)
    except UpdateRefused as refused:
        assert refused.reason is Refusal.BAD_MANIFEST
    else:
        assert parsed.to_bytes() == encoded


def test_public_key_text_is_what_kiosk_toml_holds():
    raw = base64.b64decode(TRUSTED[0])
    assert len(raw) == 32
    assert manifest().key_id == hashlib.sha256(raw).hexdigest()[:16]
