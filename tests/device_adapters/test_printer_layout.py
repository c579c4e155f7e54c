"""Receipts rendered into python-escpos' Dummy printer and read back."""

from __future__ import annotations

import datetime as dt

import pytest

from device_adapters.errors import DeviceConfigError, PrintJobError
from device_adapters.printer.layout import CHINESE_MODE, INIT, ReceiptRenderer, render_receipt
from device_adapters.printer.preview import CUT, IMAGE, QR, preview
from device_adapters.printer.receipts import (
    SAMPLE_KINDS,
    AnswerReceipt,
    QueueReceipt,
    WorkOrderReceipt,
    sample_receipt,
)
from device_adapters.printer.text import PaperWidth, display_width

WHEN = dt.datetime(2024, 5, 6, 9, 30)
GS_V0 = b"\x1dv0"  # raster image (the QR code rendered by qrcode/Pillow)
GS_K = b"\x1d(k"  # native QR
FULL_CUT = b"\x1dV\x00"


def answer(**changes: object) -> AnswerReceipt:
    receipt = AnswerReceipt(
        community="东葛社区服务中心",
        topic="高龄津贴申领",
        key_points=[
            "年满80周岁、本地户籍的老年人可以申领高龄津贴，按月发放到本人社保卡。",
            "材料齐全的，社区当场受理。",
        ],
        materials=["本人身份证原件", "户口簿", "本人社会保障卡（银行卡）"],
        contact="0771-5551234",
        online_url="https://zwfw.gxzf.gov.cn/eportal/ui?pageId=123",
        printed_at=WHEN,
    )
    for key, value in changes.items():
        setattr(receipt, key, value)
    return receipt


def queue() -> QueueReceipt:
    return QueueReceipt(
        "东葛社区服务中心",
        "A012",
        service="社保业务咨询",
        waiting_ahead=3,
        counter="2号窗口",
        printed_at=WHEN,
    )


def work_order() -> WorkOrderReceipt:
    return WorkOrderReceipt(
        community="东葛社区服务中心",
        number="GX20240506-0007",
        summary="楼道灯不亮，需要维修",
        department="物业服务中心",
        contact_phone="13812345678",
        deadline=dt.date(2024, 5, 13),
        status_url="https://shequ.example.org/tickets/GX20240506-0007",
        printed_at=WHEN,
    )


@pytest.mark.parametrize("paper", [PaperWidth.MM58, PaperWidth.MM80])
@pytest.mark.parametrize("make", [answer, queue, work_order])
def test_every_receipt_fits_the_paper_and_ends_with_a_cut(paper: PaperWidth, make) -> None:
    data = render_receipt(make(), paper)
    assert data.startswith(INIT + CHINESE_MODE)
    assert data.endswith(FULL_CUT)
    text = preview(data)
    assert text.cuts == 1 and text.lines[-1] == CUT
    assert all(display_width(line) <= paper.columns for line in text.lines), text.text
    assert "东葛社区服务中心" in text.lines[0]
    assert "打印时间：2024-05-06 09:30" in text.lines


def test_chinese_goes_out_as_gb18030() -> None:
    data = render_receipt(answer())
    for phrase in ("东葛社区服务中心", "高龄津贴申领", "所需材料：", "□ 户口簿", "咨询电话：0771-5551234"):
        assert phrase.encode("gb18030") in data
    assert "高龄津贴".encode() not in data  # not UTF-8


def test_full_width_punctuation_alone_is_not_printed_as_question_marks() -> None:
    # python-escpos' text() would send "（）：" through a code page and print "???".
    data = render_receipt(answer(materials=["（）：，。"]))
    assert "□ （）：，。".encode("gb18030") in data


def test_answer_receipt_contents() -> None:
    text = preview(render_receipt(answer()))
    assert text.lines[1] == "办事指南"
    assert "事项：高龄津贴申领" in text.lines
    assert "1. 年满80周岁、本地户籍的老年人" in text.lines  # 31 columns; "可" would make 33
    assert any(line.startswith("2. 材料齐全") for line in text.lines)
    assert "□ 本人社会保障卡（银行卡）" in text.lines
    assert text.images == 1 and IMAGE in text.lines
    assert text.lines[text.lines.index(IMAGE) + 3] == "扫码在线办理"


def test_wrapped_key_points_are_indented_under_their_number() -> None:
    lines = preview(render_receipt(answer())).lines
    first = next(i for i, line in enumerate(lines) if line.startswith("1. "))
    assert lines[first + 1].startswith("   ") and not lines[first + 1].startswith("    ")


def test_qr_code_is_rendered_as_an_image_or_natively() -> None:
    as_image = render_receipt(answer())
    assert GS_V0 in as_image and GS_K not in as_image
    native = ReceiptRenderer(qr_native=True).render(answer())
    assert GS_K in native and b"https://zwfw.gxzf.gov.cn/eportal/ui?pageId=123" in native
    assert preview(native).native_qr == 1 and QR in preview(native).lines


def test_no_qr_without_a_url() -> None:
    data = render_receipt(answer(online_url=None))
    assert GS_V0 not in data and "扫码".encode("gb18030") not in data


def test_queue_receipt() -> None:
    data = render_receipt(queue())
    assert b"\x1d!\x22" in data  # GS ! triple width and height for the number
    lines = preview(data).lines
    assert "A012" in lines and "排队取号" in lines
    assert "办理事项：社保业务咨询" in lines and "办理地点：2号窗口" in lines
    assert "前面还有 3 人等候" in lines
    soon = QueueReceipt("东葛社区", "B001", waiting_ahead=0, note=None, printed_at=WHEN)
    assert "马上就到您，请留意叫号" in preview(render_receipt(soon)).lines


def test_work_order_receipt_masks_the_residents_phone() -> None:
    data = render_receipt(work_order())
    lines = preview(data).lines
    assert "工单号：GX20240506-0007" in lines
    assert "联系电话：138****5678" in lines
    assert b"13812345678" not in data
    assert "办理时限：2024-05-13" in lines and "当前状态：受理" in lines
    assert GS_V0 in data and "扫码查看办理进度" in lines


def test_content_cannot_inject_printer_commands() -> None:
    data = render_receipt(answer(topic="高龄\x1dV\x00津贴", key_points=[], materials=[], online_url=None))
    assert data.count(FULL_CUT) == 1 and data.endswith(FULL_CUT)


def test_time_comes_from_the_clock_when_not_given() -> None:
    renderer = ReceiptRenderer(clock=lambda: dt.datetime(2030, 1, 2, 3, 4))
    lines = preview(renderer.render(answer(printed_at=None))).lines
    assert "打印时间：2030-01-02 03:04" in lines


def test_chinese_mode_command_can_be_left_out() -> None:
    assert not ReceiptRenderer(chinese_mode=False).render(queue()).startswith(INIT + CHINESE_MODE)


def test_bad_inputs() -> None:
    with pytest.raises(PrintJobError):
        render_receipt("not a receipt")  # type: ignore[arg-type]
    with pytest.raises(PrintJobError):
        render_receipt(answer(online_url="https://x.example/" + "a" * 700))
    with pytest.raises(DeviceConfigError):
        ReceiptRenderer(paper=76)
    with pytest.raises(PrintJobError):
        ReceiptRenderer(profile="no-such-printer").render(queue())


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_sample_receipts_render(kind: str) -> None:
    assert preview(render_receipt(sample_receipt(kind, now=WHEN))).cuts == 1
    with pytest.raises(ValueError):
        sample_receipt("menu")


def test_rendering_prints_nothing_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    render_receipt(answer())
    assert capsys.readouterr().out == ""
