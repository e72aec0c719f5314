"""ICAO Doc 9303 Part 11, Appendix D (worked example of BAC and secure messaging), byte for byte.

Every hex string asserted here is copied from the appendix, not produced by our code:
D.2 (key derivation from the MRZ "L898902C<369080619406236"), D.3 (mutual authentication
and session keys) and D.4 (the protected SELECT EF.COM and the two READ BINARY commands
with the chip's answers).
"""

from __future__ import annotations

import pytest

from drivers.bac import (
    AuthenticationRefused,
    derive_bac_keys,
    external_authenticate_data,
    mrz_information,
    perform_bac,
    session_keys_from,
)
from drivers.icao9303 import FileAccess, IcaoReader, parse_ef_com
from drivers.secure_messaging import SecureMessaging, SecureMessagingError

H = bytes.fromhex

# D.2
MRZ_INFORMATION = "L898902C<369080619406236"
K_SEED = H("239AB9CB282DAF66231DC5A4DF6BFBAE")
K_ENC = H("AB94FDECF2674FDFB9B391F85D7F76F2")
K_MAC = H("7962D9ECE03D1ACD4C76089DCE131543")
# D.3
RND_IC = H("4608F91988702212")
RND_IFD = H("781723860C06C226")
K_IFD = H("0B795240CB7049B01C19B33E32804F0B")
EXT_AUTH_DATA = H(
    "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A7"
)
EXT_AUTH_RESPONSE = H(
    "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449"
)
KS_ENC = H("979EC13B1CBFE9DCD01AB0FED307EAE5")
KS_MAC = H("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = H("887022120C06C226")
# D.4
SELECT_EF_COM = H("00A4020C02011E")
SELECT_PROTECTED = H("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800")
SELECT_RAPDU = H("990290008E08FA855A5D4C50A8ED")
READ4 = H("00B0000004")
READ4_PROTECTED = H("0CB000000D9701048E08ED6705417E96BA5500")
READ4_RAPDU = H("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED")
READ18 = H("00B0000412")
READ18_PROTECTED = H("0CB000040D9701128E082EA28A70F3C7B53500")
READ18_RAPDU = H(
    "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D74"
)
EF_COM = H("60145F0104303130365F36063034303030305C026175")


def test_d2_mrz_information_and_keys() -> None:
    assert mrz_information("L898902C", "690806", "940623") == MRZ_INFORMATION
    keys = derive_bac_keys("L898902C", "690806", "940623")
    assert keys.seed == K_SEED
    assert keys.k_enc == K_ENC
    assert keys.k_mac == K_MAC
    assert "AB94" not in repr(keys)


def test_d3_external_authenticate_and_session_keys() -> None:
    keys = derive_bac_keys("L898902C", "690806", "940623")
    assert external_authenticate_data(keys, RND_IC, RND_IFD, K_IFD) == EXT_AUTH_DATA
    session = session_keys_from(keys, EXT_AUTH_RESPONSE, RND_IC, RND_IFD, K_IFD)
    assert (session.ks_enc, session.ks_mac, session.ssc) == (KS_ENC, KS_MAC, SSC)


class Script:
    """A far side that answers the appendix's commands with the appendix's answers only."""

    def __init__(self, exchanges: list[tuple[bytes | None, bytes, int]]) -> None:
        self.exchanges = list(exchanges)
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        expected, data, sw = self.exchanges.pop(0)
        assert expected is None or apdu == expected, apdu.hex().upper()
        return data, sw


def test_d3_d4_whole_exchange_through_the_reader() -> None:
    card = Script(
        [
            (H("0084000008"), RND_IC, 0x9000),
            (H("0082000028") + EXT_AUTH_DATA + H("28"), EXT_AUTH_RESPONSE, 0x9000),
            (SELECT_PROTECTED, SELECT_RAPDU, 0x9000),
            (READ4_PROTECTED, READ4_RAPDU, 0x9000),
            (READ18_PROTECTED, READ18_RAPDU, 0x9000),
        ]
    )
    keys = derive_bac_keys("L898902C", "690806", "940623")
    session = perform_bac(card, keys, rnd_ifd=RND_IFD, k_ifd=K_IFD)
    sm = SecureMessaging(card, session.ks_enc, session.ks_mac, session.ssc)
    # the appendix selects EF.COM, reads its 4-byte header first, then 18 bytes
    reader = IcaoReader(sm, FileAccess(max_read=231, greedy=False))
    assert reader.read_file(0x011E) == EF_COM
    assert sm.ssc == H("887022120C06C22C")
    assert not card.exchanges
    assert parse_ef_com(EF_COM).data_groups == (1, 2)


def test_d4_each_protected_apdu_and_ssc() -> None:
    sm = SecureMessaging(None, KS_ENC, KS_MAC, SSC)  # type: ignore[arg-type]
    assert sm.protect(SELECT_EF_COM) == SELECT_PROTECTED
    assert sm.ssc == H("887022120C06C227")
    assert sm.unprotect(SELECT_RAPDU, 0x9000) == (b"", 0x9000)
    assert sm.ssc == H("887022120C06C228")
    assert sm.protect(READ4) == READ4_PROTECTED
    assert sm.ssc == H("887022120C06C229")
    assert sm.unprotect(READ4_RAPDU, 0x9000) == (H("60145F01"), 0x9000)
    assert sm.ssc == H("887022120C06C22A")
    assert sm.protect(READ18) == READ18_PROTECTED
    assert sm.ssc == H("887022120C06C22B")
    assert sm.unprotect(READ18_RAPDU, 0x9000) == (EF_COM[4:], 0x9000)


@pytest.mark.parametrize("flip", [0, 5, len(READ4_RAPDU) - 1])
def test_d4_a_changed_response_byte_fails_the_mac(flip: int) -> None:
    sm = SecureMessaging(None, KS_ENC, KS_MAC, H("887022120C06C228"))  # type: ignore[arg-type]
    sm.protect(READ4)
    tampered = bytearray(READ4_RAPDU)
    tampered[flip] ^= 0x01
    with pytest.raises(SecureMessagingError):
        sm.unprotect(bytes(tampered), 0x9000)


def test_d3_wrong_mrz_is_refused() -> None:
    card = Script(
        [
            (H("0084000008"), RND_IC, 0x9000),
            (None, b"", 0x6300),  # ICAO: 6300 when the chip's check fails
        ]
    )
    keys = derive_bac_keys("L898902C", "690806", "940624")
    with pytest.raises(AuthenticationRefused):
        perform_bac(card, keys, rnd_ifd=RND_IFD, k_ifd=K_IFD)


def test_d3_a_chip_answer_under_other_keys_is_refused() -> None:
    keys = derive_bac_keys("L898902C", "690806", "940623")
    forged = bytearray(EXT_AUTH_RESPONSE)
    forged[3] ^= 0xFF
    with pytest.raises(AuthenticationRefused):
        session_keys_from(keys, bytes(forged), RND_IC, RND_IFD, K_IFD)
