"""The secrets the fleet hands to people: enrollment and re-key tokens go on a command line."""

from fleet.auth import new_secret_token, token_hash


def test_no_token_starts_with_a_dash_that_kiosk_provision_would_read_as_an_option():
    # One urlsafe draw in 64 starts with "-": 3,000 draws without the guard all but surely
    # contain one (the chance of none is under 1e-20).
    tokens = [new_secret_token() for _ in range(3000)]
    assert not [token for token, _ in tokens if token.startswith("-")]
    assert all(hashed == token_hash(token) for token, hashed in tokens)
