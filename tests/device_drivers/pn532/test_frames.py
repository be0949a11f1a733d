"""PN532 parser and encoders against the hand-written golden frames."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_drivers.base import FrameError
from device_drivers.pn532 import frames

FIXTURES = Path(__file__).parent / "fixtures"


def fx(name: str) -> bytes:
    """A golden frame by file name (without .bin)."""
    return (FIXTURES / f"{name}.bin").read_bytes()


def only_frame(raw: bytes) -> frames.Frame:
    """The single information frame in ``raw``."""
    item = frames.decode_frame(raw)
    assert isinstance(item, frames.Frame)
    return item


def test_encoders_match_the_manual() -> None:
    assert frames.ACK == fx("ack") and frames.NACK == fx("nack")
    assert frames.WAKEUP == fx("wakeup")
    assert frames.encode_get_firmware_version() == fx("cmd_get_firmware_version")
    assert frames.encode_sam_configuration() == fx("cmd_sam_configuration")
    assert frames.encode_max_retries() == fx("cmd_rf_max_retries")
    assert frames.encode_in_list_passive_target() == fx("cmd_in_list_passive_target")
    assert frames.encode_answer(0x02, bytes([0x32, 1, 6, 7])) == fx("answer_firmware_version")
    assert frames.encode_answer(0x14) == fx("answer_sam_configuration")
    assert frames.encode_answer(0x4A, b"\x00") == fx("answer_in_list_none")


def test_control_frames_decode() -> None:
    assert frames.decode_frame(fx("ack")) == frames.Ack()
    assert frames.decode_frame(fx("nack")) == frames.Nack()
    assert frames.decode_frame(fx("error_frame")) == frames.ErrorFrame()


def test_commands_decode_as_host_frames() -> None:
    cmd = only_frame(fx("cmd_sam_configuration"))
    assert (cmd.tfi, cmd.code, cmd.params) == (0xD4, 0x14, b"\x01\x14\x01")


def test_firmware_version() -> None:
    version = frames.parse_firmware_version(only_frame(fx("answer_firmware_version")))
    assert version == frames.FirmwareVersion(ic=0x32, ver=1, rev=6, support=7)
    with pytest.raises(FrameError):
        frames.parse_firmware_version(only_frame(fx("answer_sam_configuration")))


@pytest.mark.parametrize(
    ("name", "card", "sens_res", "sel_res", "ats"),
    [
        ("answer_in_list_uid4", "nfc:A1B2C3D4", 0x0004, 0x08, b""),
        ("answer_in_list_uid7", "nfc:04A1B2C3D4E5F6", 0x0044, 0x00, b""),
        (
            "answer_in_list_uid7_ats",
            "nfc:04112233445566",
            0x0344,
            0x20,
            bytes.fromhex("067577810280"),
        ),
    ],
)
def test_in_list_passive_target_answers(
    name: str, card: str, sens_res: int, sel_res: int, ats: bytes
) -> None:
    (target,) = frames.parse_in_list_passive_target(only_frame(fx(name)))
    assert (target.tg, target.card, target.sens_res, target.sel_res, target.ats) == (
        1,
        card,
        sens_res,
        sel_res,
        ats,
    )


def test_no_card_answer_is_empty() -> None:
    assert frames.parse_in_list_passive_target(only_frame(fx("answer_in_list_none"))) == []


@pytest.mark.parametrize(
    "params",
    ["01", "01 01 00 04 08 05 A1 B2 C3 D4 E5", "01 01 00 04 08 04 A1 B2", "00 FF", ""],
)
def test_malformed_target_data_raises(params: str) -> None:
    frame = frames.Frame(tfi=0xD5, code=0x4B, params=bytes.fromhex(params))
    with pytest.raises(FrameError):
        frames.parse_in_list_passive_target(frame)


@pytest.mark.parametrize(
    ("name", "match"),
    [("answer_in_list_uid4_bad_dcs", "data checksum"), ("answer_in_list_uid4_bad_lcs", "length")],
)
def test_checksum_errors_raise_and_are_counted(name: str, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        frames.decode_frame(fx(name))
    dec = frames.FrameDecoder()
    assert dec.feed(fx(name)) == []
    assert dec.frames_bad >= 1 and dec.frames_ok == 0


def test_bad_postamble_raises() -> None:
    with pytest.raises(FrameError, match="postamble"):
        frames.decode_frame(fx("answer_in_list_uid4")[:-1] + b"\x01")


def test_stream_resyncs_on_the_next_start_code() -> None:
    stream = (
        fx("garbage")
        + fx("ack")
        + fx("answer_in_list_uid4_bad_dcs")
        + fx("answer_in_list_uid7")
        + fx("answer_in_list_uid4_bad_lcs")
        + fx("garbage")
        + fx("answer_in_list_uid4")
    )
    dec = frames.FrameDecoder()
    got = dec.feed(stream)
    assert got[0] == frames.Ack()
    cards = [
        t.card
        for f in got
        if isinstance(f, frames.Frame)
        for t in frames.parse_in_list_passive_target(f)
    ]
    assert cards == ["nfc:04A1B2C3D4E5F6", "nfc:A1B2C3D4"]
    assert dec.frames_ok == 3
    assert dec.frames_bad >= 3  # garbage header, bad DCS, bad LCS


def test_byte_by_byte_equals_whole() -> None:
    stream = fx("wakeup") + fx("ack") + fx("answer_in_list_uid7") + fx("answer_firmware_version")
    whole = frames.FrameDecoder().feed(stream)
    dec = frames.FrameDecoder()
    single = [f for b in stream for f in dec.feed(bytes([b]))]
    assert single == whole
    assert len(whole) == 3


@given(st.binary(max_size=400))
def test_random_bytes_never_raise_and_never_give_a_card(data: bytes) -> None:
    dec = frames.FrameDecoder()
    cards = []
    for item in dec.feed(data):
        if isinstance(item, frames.Frame):
            try:
                cards += frames.parse_in_list_passive_target(item)
            except FrameError:
                pass
    assert cards == []


@given(
    st.lists(
        st.tuples(st.binary(max_size=20), st.sampled_from([4, 7, 10]), st.binary(min_size=10)),
        max_size=6,
    ),
    st.integers(0, 2**32),
)
def test_answers_among_noise_all_recovered_in_random_chunks(
    items: list[tuple[bytes, int, bytes]], seed: int
) -> None:
    # Noise without FF cannot forge a start code, so every answer must come through.
    stream = b""
    want = []
    for noise, size, uid_pool in items:
        uid = uid_pool[:size].ljust(size, b"\x01")
        target = bytes([1, 0x00, 0x44, 0x00, size]) + uid
        stream += noise.replace(b"\xff", b"\x00") + frames.encode_answer(0x4A, b"\x01" + target)
        want.append("nfc:" + uid.hex().upper())
    rng = random.Random(seed)
    dec = frames.FrameDecoder()
    got = []
    i = 0
    while i < len(stream):
        n = rng.randint(1, 13)
        for item in dec.feed(stream[i : i + n]):
            assert isinstance(item, frames.Frame)
            got += [t.card for t in frames.parse_in_list_passive_target(item)]
        i += n
    assert got == want
