"""PACE's computations (drivers/pace.py) against the worked examples of ICAO Doc 9303 Part 11
(Appendix G, Generic Mapping: the ECDH example on brainpoolP256r1 and the DH example on
RFC 5114's 1024-bit group), byte for byte: the password key, the nonce, the mapped generator,
the key agreement, the session keys and both authentication tokens. Then what a chip could send
wrong: a point off the curve, a key outside the group, a broken EF.CardAccess. Then PACE on the
wire (drivers/pace_session.py) against the simulated chip's APDU handler: a chip offering PACE
beside BAC and a PACE-only chip read under AES secure messaging, a wrong MRZ refused, BAC
refused by the PACE-only chip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import pace
from drivers.bac import derive_bac_keys, perform_bac
from drivers.icao9303 import IcaoReader
from drivers.iso7816 import ChipError
from drivers.pace import PROTOCOLS, RFC5114_1024_160, PaceError
from drivers.pace_session import PaceRefused, perform_pace, read_card_access
from simulator.icao_chip import IcaoChip, TravelDocumentHolder
from simulator.icao_chip.shapes import ChipShape
from tests.drivers.test_icao9303 import ChipTransport


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# Appendix G.1: the MRZ T22000129 / 640812 / 101031, id-PACE-ECDH-GM-AES-CBC-CMAC-128 on
# brainpoolP256r1 (EF.CardAccess: parameter 13).
ECDH_CARD_ACCESS = h("31 14 30 12 06 0A 04 00 7F 00 07 02 02 04 02 02 02 01 02 02 01 0D")
ECDH = {
    "password": h("7E2D2A41 C74EA0B3 8CD36F86 3939BFA8 E9032AAD"),
    "k_pi": h("89DED1B2 6624EC1E 634C1989 302849DD"),
    "z": h("95A3A016 522EE98D 01E76CB6 B98B42C3"),
    "s": h("3F00C4D3 9D153F2B 2A214A07 8D899B22"),
    "map_secret": h("7F4EF07B 9EA82FD7 8AD689B3 8D0BC78C F21F249D 953BC46F 4C6E1925 9C010F99"),
    "map_public": h("04 7ACF3EFC 982EC455 65A4B155 129EFBC7 4650DCBF A6362D89 6FC70262 E0C2CC5E"
                    "544552DC B6725218 799115B5 5C9BAA6D 9F6BC3A9 618E70C2 5AF71777 A9C4922D"),
    "map_chip": h("04 824FBA91 C9CBE26B EF53A0EB E7342A3B F178CEA9 F45DE0B7 0AA60165 1FBA3F57"
                  "30D8C879 AAA9C9F7 3991E61B 58F4D52E B87A0A0C 709A49DC 63719363 CCD13C54"),
    "mapped": h("04 8CED63C9 1426D4F0 EB1435E7 CB1D74A4 6723A0AF 21C89634 F65A9AE8 7A9265E2"
                "8C879506 743F8611 AC33645C 5B985C80 B5F09A0B 83407C1B 6A4D857A E76FE522"),
    "eph_secret": h("A73FB703 AC1436A1 8E0CFA5A BB3F7BEC 7A070E7A 6788486B EE230C4A 22762595"),
    "eph_public": h("04 2DB7A64C 0355044E C9DF1905 14C625CB A2CEA487 54887122 F3A5EF0D 5EDD301C"
                    "3556F3B3 B186DF10 B857B58F 6A7EB80F 20BA5DC7 BE1D43D9 BF850149 FBB36462"),
    "eph_chip": h("04 9E880F84 2905B8B3 181F7AF7 CAA9F0EF B743847F 44A306D2 D28C1D9E C65DF6DB"
                  "7764B222 77A2EDDC 3C265A9F 018F9CB8 52E111B7 68B32690 4B59A019 3776F094"),
    "shared": h("28768D20 701247DA E81804C9 E780EDE5 82A9996D B4A31502 0B273319 7DB84925"),
    "ks_enc": h("F5F0E35C 0D7161EE 6724EE51 3A0D9A7F"),
    "ks_mac": h("FE251C78 58B356B2 4514B3BD 5F4297D1"),
    "t_terminal": h("C2B0BD78 D94BA866"),   # over the chip's ephemeral key
    "t_chip": h("3ABB9674 BCE93C08"),       # over the terminal's
}


def test_ef_card_access_offers_ecdh_gm_aes_128_on_brainpool_p256r1():
    (info,) = pace.pace_infos(ECDH_CARD_ACCESS)
    assert info.protocol is PROTOCOLS["0.4.0.127.0.7.2.2.4.2.2"]
    assert (info.version, info.parameter_id) == (2, 13) and pace.choose([info]) is info


def test_the_ecdh_generic_mapping_worked_example_byte_for_byte():
    protocol = PROTOCOLS["0.4.0.127.0.7.2.2.4.2.2"]
    curve = pace.pace_infos(ECDH_CARD_ACCESS)[0].domain
    password = pace.mrz_password("T22000129", "640812", "101031")
    assert password == ECDH["password"]
    k_pi = pace.password_key(password, protocol)
    assert k_pi == ECDH["k_pi"]
    s = pace.decrypt_nonce(k_pi, ECDH["z"], protocol)
    assert s == ECDH["s"]
    map_secret = int.from_bytes(ECDH["map_secret"], "big")
    assert pace.public_key(map_secret, pace.generator_of(curve), curve) == ECDH["map_public"]
    mapped = pace.map_nonce(s, map_secret, ECDH["map_chip"], curve)
    assert pace.encode_point(mapped, curve) == ECDH["mapped"]
    eph_secret = int.from_bytes(ECDH["eph_secret"], "big")
    assert pace.public_key(eph_secret, mapped, curve) == ECDH["eph_public"]
    shared = pace.shared_secret(eph_secret, ECDH["eph_chip"], curve)
    assert shared == ECDH["shared"]
    keys = pace.session_keys(shared, protocol)
    assert (keys.enc, keys.mac) == (ECDH["ks_enc"], ECDH["ks_mac"])
    assert pace.auth_token(keys.mac, protocol, ECDH["eph_chip"]) == ECDH["t_terminal"]
    assert pace.auth_token(keys.mac, protocol, ECDH["eph_public"]) == ECDH["t_chip"]


# Appendix G.2: the same MRZ, id-PACE-DH-GM-AES-CBC-CMAC-128 on RFC 5114's 1024-bit group.
DH = {
    "z": h("854D8DF5 827FA685 2D1A4FA7 01CDDDCA"),
    "s": h("FA5B7E3E 49753A0D B9178B7B 9BD898C8"),
    "map_secret": h("5265030F 751F4AD1 8B08AC56 5FC7AC95 2E41618D"),
    "map_public": h("23FB3749 EA030D2A 25B278D2 A562047A DE3F01B7 4F17A154 02CB7352 CA7D2B3E"
                    "B71C343D B13D1DEB CE9A3666 DBCFC920 B49174A6 02CB4796 5CAA73DC 702489A4"
                    "4D41DB91 4DE9613D C5E98C94 160551C0 DF86274B 9359BC04 90D01B03 AD54022D"
                    "CB4F57FA D6322497 D7A1E28D 46710F46 1AFE710F BBBC5F8B A166F431 1975EC6C"),
    "map_chip": h("78879F57 225AA808 0D52ED0F C890A4B2 5336F699 AA89A2D3 A189654A F70729E6"
                  "23EA5738 B26381E4 DA19E004 706FACE7 B235C2DB F2F38748 312F3C98 C2DD4882"
                  "A41947B3 24AA1259 AC22579D B93F7085 655AF308 89DBB845 D9E6783F E42C9F24"
                  "49400306 254C8AE8 EE9DD812 A804C0B6 6E8CAFC1 4F84D825 8950A91B 44126EE6"),
    "mapped": h("7C9CBFE9 8F9FBDDA 8D143506 FA7D9306 F4CB17E3 C71707AF F5E1C1A1 23702496"
                "84D64EE3 7AF44B8D BD9D45BF 6023919C BAA027AB 97ACC771 666C8E98 FF483301"
                "BFA4872D EDE9034E DFACB708 14166B7F 36067682 9B826BEA 57291B5A D69FBC84"
                "EF1E7790 32A30580 3F743417 93E86974 2D401325 B37EE856 5FFCDEE6 18342DC5"),
    "eph_secret": h("89CCD99B 0E8D3B1F 11E1296D CA68EC53 411CF2CA"),
    "eph_chip": h("075693D9 AE941877 573E634B 6E644F8E 60AF17A0 076B8B12 3D920107 4D36152B"
                  "D8B3A213 F53820C4 2ADC79AB 5D0AEEC3 AEFB9139 4DA476BD 97B9B14D 0A65C1FC"
                  "71A0E019 CB08AF55 E1F72900 5FBA7E3F A5DC4189 9238A250 767A6D46 DB974064"
                  "386CD456 743585F8 E5D90CC8 B4004B1F 6D866C79 CE0584E4 9687FF61 BC29AEA1"),
    "eph_public": h("907D89 E2D425A1 78AA81AF 4A7774EC 8E388C11 5CAE6703 1E85EECE 520BD911"
                    "551B9AE4 D04369F2 9A02626C 86FBC674 7CC7BC35 2645B616 1A2A42D4 4EDA80A0"
                    "8FA8D61B 76D3A154 AD8A5A51 786B0BC0 71470578 71A92221 2C5F67F4 31731722"
                    "36B7747D 1671E6D6 92A3C7D4 0A0C3C5C E397545D 015C175E B5130551 EDBC2EE5"
                    "D4"),
    "ks_enc": h("2F7F46AD CC9E7E52 1B45D192 FAFA9126"),
    "ks_mac": h("805A1D27 D45A5116 F73C5446 9462B7D8"),
    "t_terminal": h("B46DD9BD 4D98381F"),
    "t_chip": h("917F37B5 C0E6D8D1"),
}


def test_the_dh_generic_mapping_worked_example_byte_for_byte():
    protocol = PROTOCOLS["0.4.0.127.0.7.2.2.4.1.2"]
    group = RFC5114_1024_160
    k_pi = pace.password_key(pace.mrz_password("T22000129", "640812", "101031"), protocol)
    s = pace.decrypt_nonce(k_pi, DH["z"], protocol)
    assert s == DH["s"]
    map_secret = int.from_bytes(DH["map_secret"], "big")
    assert pace.public_key(map_secret, group.g, group) == DH["map_public"]
    mapped = pace.map_nonce(s, map_secret, DH["map_chip"], group)
    assert mapped == int.from_bytes(DH["mapped"], "big")
    eph_secret = int.from_bytes(DH["eph_secret"], "big")
    assert pace.public_key(eph_secret, mapped, group) == DH["eph_public"]
    keys = pace.session_keys(pace.shared_secret(eph_secret, DH["eph_chip"], group), protocol)
    assert (keys.enc, keys.mac) == (DH["ks_enc"], DH["ks_mac"])
    assert pace.auth_token(keys.mac, protocol, DH["eph_chip"]) == DH["t_terminal"]
    assert pace.auth_token(keys.mac, protocol, DH["eph_public"]) == DH["t_chip"]


def test_a_key_off_the_curve_or_outside_the_group_is_refused():
    curve = pace.DOMAINS[13]
    off = bytearray(ECDH["map_chip"])
    off[-1] ^= 1
    with pytest.raises(PaceError, match="not on the curve"):
        pace.map_nonce(ECDH["s"], 5, bytes(off), curve)
    with pytest.raises(PaceError, match="uncompressed point"):
        pace.shared_secret(5, ECDH["eph_chip"][:-1], curve)
    with pytest.raises(PaceError, match="not in the group"):
        pace.map_nonce(DH["s"], 5, (1).to_bytes(128, "big"), RFC5114_1024_160)
    with pytest.raises(PaceError, match="not whole blocks"):
        pace.decrypt_nonce(bytes(16), b"\x01" * 15, PROTOCOLS["0.4.0.127.0.7.2.2.4.2.2"])


def test_two_terminals_and_a_chip_agree_only_on_their_own_run():
    # The mapping and the agreement as both sides run them, with fresh keys each time.
    curve = pace.DOMAINS[12]
    protocol = PROTOCOLS["0.4.0.127.0.7.2.2.4.2.4"]
    nonce = bytes(range(32))
    terminal, chip = pace.private_key(curve), pace.private_key(curve)
    g = pace.generator_of(curve)
    on_terminal = pace.map_nonce(nonce, terminal, pace.public_key(chip, g, curve), curve)
    on_chip = pace.map_nonce(nonce, chip, pace.public_key(terminal, g, curve), curve)
    assert on_terminal == on_chip
    a, b = pace.private_key(curve), pace.private_key(curve)
    k1 = pace.shared_secret(a, pace.public_key(b, on_chip, curve), curve)
    k2 = pace.shared_secret(b, pace.public_key(a, on_terminal, curve), curve)
    assert k1 == k2 and len(pace.session_keys(k1, protocol).enc) == 32


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_as_ef_card_access_give_protocols_or_a_plain_refusal(data):
    try:
        infos = pace.pace_infos(data)
    except PaceError:
        return
    assert all(i.protocol.oid in PROTOCOLS for i in infos)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=65, max_size=65))
def test_any_65_bytes_as_a_chip_key_give_a_secret_or_a_plain_refusal(data):
    curve = pace.DOMAINS[13]
    try:
        secret = pace.shared_secret(12345, data, curve)
    except PaceError:
        return
    assert len(secret) == 32


# --- PACE on the wire, against the simulated chip (its APDU handler as the far side) -------

HOLDER = TravelDocumentHolder(
    document_number="C01234567", birth_date="900115", sex="M", expiry_date="330115",
    surname="LI", given_names="XIAO MING",
)  # fmt: skip
DG1 = 0x0101


def opened(chip: IcaoChip, number: str = "C01234567") -> IcaoReader:
    wire = ChipTransport(chip)
    card_access = read_card_access(wire)
    assert card_access is not None
    info = pace.choose(pace.pace_infos(card_access))
    assert info is not None and info.protocol.oid == "0.4.0.127.0.7.2.2.4.2.2"
    session = perform_pace(wire, info, pace.mrz_password(number, "900115", "330115"))
    reader = IcaoReader(session)
    reader.select_application()
    return reader


@pytest.mark.parametrize("shape", [ChipShape.PACE, ChipShape.NO_BAC])
def test_a_pace_chip_is_read_under_aes_secure_messaging(shape):
    chip = IcaoChip(HOLDER, shape={shape})
    reader = opened(chip)
    assert reader.read_file(DG1) == chip.file(DG1)
    assert repr(reader.transport) == "AesSecureMessaging(<session>)"


def test_a_wrong_mrz_is_refused_by_pace_and_bac_is_refused_on_a_pace_only_chip():
    chip = IcaoChip(HOLDER, shape={ChipShape.NO_BAC})
    with pytest.raises(PaceRefused):
        opened(chip, number="C01234568")
    wire = ChipTransport(chip)
    IcaoReader(wire).select_application()
    with pytest.raises(ChipError):
        perform_bac(wire, derive_bac_keys("C01234567", "900115", "330115"))


def test_a_bac_only_chip_offers_no_pace():
    assert read_card_access(ChipTransport(IcaoChip(HOLDER))) is None
