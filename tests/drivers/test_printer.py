"""The ESC/POS slip printer against the simulated printer on a pty: bytes captured and decoded back."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ConnectionFailed, DriverError
from drivers.printer_escpos import (FS_CHINESE_OFF, FS_CHINESE_ON, PRINTERS, PaperOut,
                                    PrinterOffline, Slip, SlipPrinter, layout, text_width, wrap)
from drivers.sim.printer import (Command, EscposDecodeError, PrinterSimulator, Text, is_cut, parse_escpos,
                                 text_lines)
from kiosk.i18n import catalog

WAIT = 10.0
SLIP = Slip(station="示范市民驿站", name="王*明", time="2025-03-01 09:30",
            readings=("血压 128/82 mmHg", "脉搏 71 次/分"), title="血压正常高值",
            advice="您的血压在正常范围的上限。请少吃盐，多活动，几周后再测一次。",
            note="这是筛查结果，不是诊断。只有医生在不同日子多次测量后才能诊断。")


@pytest.fixture()
def printer_sim(tmp_path):
    sim = PrinterSimulator(link=str(tmp_path / "ttyPRN")).start()
    yield sim
    sim.stop()


def test_slip_bytes_on_the_wire(printer_sim):
    SlipPrinter(printer_sim.path).print_slip(SLIP)
    data = printer_sim.wait_for_cut(WAIT)
    assert data, "no paper cut arrived"
    items = parse_escpos(data)
    # Status asked first (DLE EOT 1, DLE EOT 4), then ESC @ resets the printer.
    assert items[:3] == [Command("DLE 04", b"\x01"), Command("DLE 04", b"\x04"), Command("ESC @")]
    # Chinese text travels inside FS & ... FS . as GB18030.
    assert FS_CHINESE_ON + "王*明  2025-03-01 09:30".encode("gb18030") + FS_CHINESE_OFF in data
    assert FS_CHINESE_ON + "血压 128/82 mmHg".encode("gb18030") + FS_CHINESE_OFF in data
    texts = [i for i in items if isinstance(i, Text)]
    assert texts and all(t.chinese for t in texts)
    # Chinese glyphs are enlarged with FS !: double height for the readings, double size for the title.
    assert Command("FS !", b"\x08") in items and Command("FS !", b"\x0c") in items
    # The job ends with a feed and the cut, and nothing after it.
    assert is_cut(items[-1]) and items[-2] == Command("ESC d", b"\x06")
    assert data.endswith(b"\x1dV\x00")


def test_captured_text_decodes_back_to_the_slip_lines(printer_sim):
    SlipPrinter(printer_sim.path, options={"columns": 32}).print_slip(SLIP)
    lines = [line for line in text_lines(printer_sim.wait_for_cut(WAIT)) if line]
    assert lines == SLIP.lines(32)
    assert lines[0] == "示范市民驿站"
    assert "王*明  2025-03-01 09:30" in lines
    assert "血压正常高值" in lines
    assert "".join(lines).count("这是筛查结果，不是诊断") == 1
    assert all(text_width(line) <= 32 for line in lines)


def test_wide_paper_and_partial_cut(printer_sim):
    SlipPrinter(printer_sim.path, options={"columns": 48, "cut": "partial"}).print_slip(SLIP)
    data = printer_sim.wait_for_cut(WAIT)
    assert [line for line in text_lines(data) if line] == SLIP.lines(48)
    assert data.endswith(b"\x1dV\x01")


def test_rare_character_uses_four_byte_gb18030(printer_sim):
    slip = Slip("驿站", "龑*𠮷", "09:30", ("血糖 6.2 mmol/L",), "血糖正常", "保持。", "筛查。")
    SlipPrinter(printer_sim.path).print_slip(slip)
    data = printer_sim.wait_for_cut(WAIT)
    assert "𠮷".encode("gb18030") in data and len("𠮷".encode("gb18030")) == 4
    assert "龑*𠮷  09:30" in text_lines(data)


def test_unplugged_printer_is_connection_failed(printer_sim):
    printer_sim.unplug()
    with pytest.raises(ConnectionFailed) as info:
        SlipPrinter(printer_sim.path).print_slip(SLIP)
    assert info.value.user_key == "device_offline"
    printer_sim.replug()
    SlipPrinter(printer_sim.path).print_slip(SLIP)
    assert printer_sim.wait_for_cut(WAIT)


def test_paper_out_prints_nothing(printer_sim):
    printer_sim.paper = "out"
    with pytest.raises(PaperOut) as info:
        SlipPrinter(printer_sim.path).print_slip(SLIP)
    assert info.value.user_key == "printer_paper_out"
    items = parse_escpos(printer_sim.captured())
    assert all(isinstance(i, Command) and i.name == "DLE 04" for i in items)


def test_offline_printer_is_connection_failed(printer_sim):
    printer_sim.online = False
    with pytest.raises(PrinterOffline) as info:
        SlipPrinter(printer_sim.path).print_slip(SLIP)
    assert isinstance(info.value, ConnectionFailed) and info.value.user_key == "printer_offline"


def test_status_report_and_printer_without_return_channel(tmp_path):
    with PrinterSimulator(link=str(tmp_path / "p1"), paper="near_end") as sim:
        assert SlipPrinter(sim.path).status() == {"answered": True, "online": True, "paper": "near_end"}
        SlipPrinter(sim.path).print_slip(SLIP)      # near end still prints
        assert sim.wait_for_cut(WAIT)
    with PrinterSimulator(link=str(tmp_path / "p2"), answers_status=False) as sim:
        printer = SlipPrinter(sim.path)
        assert printer.status() == {"answered": False, "online": None, "paper": None}
        printer.print_slip(SLIP)
        assert [line for line in text_lines(sim.wait_for_cut(WAIT)) if line] == SLIP.lines()


def test_usb_address_errors_are_typed():
    with pytest.raises(ConnectionFailed):
        SlipPrinter("usb:not-hex").print_slip(SLIP)
    with pytest.raises(ConnectionFailed):     # no pyusb here, or no such device
        SlipPrinter("usb:0416:5011").print_slip(SLIP)


def test_registry_and_messages():
    assert PRINTERS["escpos"] is SlipPrinter
    zh = catalog("zh_CN")
    assert all(cls.user_message in zh for cls in (PaperOut, PrinterOffline))


# -- the decoder -------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, error", [
    (b"\x1b", "cut off"), (b"\x1b!", "cut off"), (b"\x1bZ", "unknown command"), (b"\x1dV", "cut off"),
    (b"\x1c&\x81", "GB18030"), (b"ab\x07", "control byte"),
])
def test_decoder_rejects_bad_streams(raw, error):
    with pytest.raises(EscposDecodeError, match=error):
        parse_escpos(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_decoder_fuzz_only_typed_errors(data):
    try:
        items = parse_escpos(data)
    except EscposDecodeError:
        return
    assert all(isinstance(i, (Command, Text)) for i in items)
    text_lines(data)


cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
line_text = st.text(alphabet=st.one_of(cjk, st.sampled_from(list("0123456789/ .:mmHgmol*L，。"))), max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.builds(Slip, station=line_text, name=line_text, time=line_text, readings=st.lists(line_text, max_size=3).map(tuple),
                 title=line_text, advice=line_text, note=line_text), st.sampled_from([32, 48]))
def test_any_slip_renders_and_decodes_back(slip, columns):
    data = SlipPrinter("loop://", options={"columns": columns}).render(slip)
    assert [line for line in text_lines(data) if line] == slip.lines(columns)
    assert is_cut(parse_escpos(data)[-1])


@settings(max_examples=200, deadline=None)
@given(line_text, st.integers(4, 48))
def test_wrap_keeps_every_character_within_the_width(text, columns):
    lines = wrap(text, columns)
    assert all(text_width(line) <= columns for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


@settings(max_examples=200, deadline=None)
@given(line_text, st.integers(8, 48))
def test_wrap_never_starts_a_line_with_closing_punctuation(text, columns):
    from drivers.linebreak import CLOSING
    lines = wrap(text, columns)
    assert not [line for line in lines[1:] if line[:1] in CLOSING and text_width(line) < columns]


def test_slip_keeps_chinese_phrases_together_and_punctuation_off_line_starts():
    """Seen on a printed slip: 事/情, 帮/忙 and 正常高/值 split across lines, lines starting with ，."""
    from drivers.linebreak import bad_breaks
    slip = Slip(station="示范市民驿站", name="王*明", time="2025-03-01 09:30", readings=("血压 135/85 mmHg",),
                title="血压正常高值", advice="您的血压在正常高值范围，有事情需要帮忙时，请找工作人员（在服务台），"
                                            "平时少吃盐，多活动，几周后再测一次。",
                note="这是筛查结果，不是诊断。只有医生在不同日子多次测量后才能诊断。")
    for columns in (32, 48):
        for _size, text, half in ((2, slip.title, True), (1, slip.advice, False), (1, slip.note, False)):
            lines = wrap(text, columns // 2 if half else columns)
            assert not bad_breaks(text, lines), (columns, lines)
    lines = wrap(slip.advice, 32)
    assert "正常高值" in "".join(lines) and not any(line.endswith("正常高") for line in lines)


def test_layout_marks_readings_and_title_large():
    sizes = dict((line, size) for size, line in layout(SLIP, 32) if line)
    assert sizes["血压 128/82 mmHg"] == 3 and sizes["血压正常高值"] == 2 and sizes["示范市民驿站"] == 1


def test_render_refuses_unencodable_text():
    with pytest.raises(DriverError):
        SlipPrinter("loop://").render(Slip("站", "\ud800", "t", (), "x", "y", "z"))


def test_journaled_measurement_prints_in_chinese(printer_sim, tmp_path):
    from datetime import datetime

    from drivers.readings import BloodPressureReading, DeviceInfo
    from kiosk.health import assess_bp
    from kiosk.health_records import build_slip, record_measurement
    from kiosk.journal import Journal

    with Journal(tmp_path / "j.sqlite3", "st-1") as journal:
        reading = BloodPressureReading(186, 112, 90, DeviceInfo("omron-hbp9030", "Omron HBP-9030"),
                                       taken_at=datetime(2025, 3, 1, 9, 30))
        rec, alert = record_measurement(journal, "pk-1", reading, assess_bp(186, 112), station_id="st-1")
        SlipPrinter(printer_sim.path).print_slip(build_slip(rec, station_name="示范市民驿站", masked_name="王*明"))
    lines = [line for line in text_lines(printer_sim.wait_for_cut(WAIT)) if line]
    assert "血压 186/112 毫米汞柱" in lines and "王*明  2025-03-01 09:30" in lines
    assert alert is not None
