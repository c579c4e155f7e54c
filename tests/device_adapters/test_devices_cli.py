"""``shequ devices …``: results on stdout, failures as one line on stderr with a non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from device_adapters.cli import devices
from device_adapters.idcard.simulator import SamSimulator, Scenario

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")
MakeSim = Callable[..., SamSimulator]
REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> Result:
    return CliRunner().invoke(devices, list(args))


def assert_one_line_error(result: Result, exit_code: int, *fragments: str) -> str:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("错误 / error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("idcard", "idcard-sim", "printer", "status"):
        assert command in result.stdout
    assert "read" in run("idcard", "--help").stdout
    assert "--show-personal" in run("idcard", "read", "--help").stdout
    assert "usb:VID:PID" in run("printer", "test", "--help").stdout


# --- printer ----------------------------------------------------------------------------------------------


def test_printer_test_on_the_dummy_printer_shows_the_receipt() -> None:
    result = run("printer", "test", "--printer", "dummy:", "--receipt", "queue", "--community", "东葛社区")
    assert result.exit_code == 0, result.output
    assert "东葛社区" in result.stdout and "A012" in result.stdout and "[切纸]" in result.stdout
    assert "已打印样张" in result.stdout


@pytest.mark.parametrize("paper", ["58", "80"])
def test_printer_test_writes_to_a_file_printer(tmp_path: Path, paper: str) -> None:
    target = tmp_path / "receipt.bin"
    result = run("printer", "test", "--printer", f"file:{target}", "--paper", paper)
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert "高龄津贴申领".encode("gb18030") in data and data.endswith(b"\x1dV\x00")
    assert "[切纸]" not in result.stdout  # no preview unless asked
    assert "[切纸]" in run("printer", "test", "--printer", f"file:{target}", "--preview").stdout


def test_printer_test_paper_out() -> None:
    assert_one_line_error(run("printer", "test", "--printer", "dummy:?paper=out"), 1, "打印机没有纸了")


def test_printer_test_paper_near_end_prints_and_warns() -> None:
    result = run("printer", "test", "--printer", "dummy:?paper=near_end")
    assert result.exit_code == 0
    assert "打印纸快用完了" in result.stderr


def test_printer_test_unreachable_printer() -> None:
    assert_one_line_error(
        run("printer", "test", "--printer", "file:/nonexistent-dir/lp0"), 1, "打印机没有连接"
    )


@pytest.mark.parametrize(
    ("args", "exit_code", "fragment"),
    [
        (["printer", "test", "--printer", "lpt:1"], 1, "unknown printer type 'lpt'"),
        (["printer", "test", "--printer", "usb:nope"], 1, "usb:VID:PID"),
        (["printer", "test", "--printer", "dummy:", "--paper", "76"], 2, "'76' is not one of '58', '80'"),
        (["printer", "test", "--printer", "dummy:", "--receipt", "menu"], 2, "--receipt"),
        (["printer", "test"], 2, "Missing option '--printer'"),
        (["printer", "tset"], 2, "No such command 'tset'"),
        (["printer", "status", "--printer", "dummy:", "--timeout", "x"], 2, "--timeout"),
    ],
)
def test_printer_bad_arguments(args: list[str], exit_code: int, fragment: str) -> None:
    line = assert_one_line_error(run(*args), exit_code, fragment)
    if exit_code == 2:
        assert "--help" in line


def test_printer_status() -> None:
    ok = run("printer", "status", "--printer", "dummy:")
    assert ok.exit_code == 0 and ok.stdout.startswith("ready")
    out = run("printer", "status", "--printer", "dummy:?paper=out", "--json")
    assert out.exit_code == 1
    data = json.loads(out.stdout)
    assert data["state"] == "paper_out" and data["can_print"] is False and data["message_zh"]


# --- ID card ----------------------------------------------------------------------------------------------


@posix_only
def test_idcard_read_masks_personal_data(make_simulator: MakeSim) -> None:
    sim = make_simulator()
    result = run("idcard", "read", "--port", sim.port, "--timeout", "0.3", "--wait", "3")
    assert result.exit_code == 0, result.output
    assert "姓名：黄**" in result.stdout
    assert "证件号码：4501**********0027" in result.stdout
    assert "所属地区：南宁市青秀区" in result.stdout
    assert "黄桂兰" not in result.output and "450103195203150027" not in result.output
    assert "民族大道100号" not in result.output and "民族大道***号" in result.output


@posix_only
def test_idcard_read_json(make_simulator: MakeSim) -> None:
    sim = make_simulator(card="foreign-2023")
    result = run("idcard", "read", "--port", sim.port, "--json", "--wait", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["card_type"] == "foreign_permanent_2023" and data["masked"] is True
    assert data["name"] == "伊***" and "photo" not in data


@posix_only
def test_idcard_read_show_personal(make_simulator: MakeSim) -> None:
    sim = make_simulator()
    result = run("idcard", "read", "--port", sim.port, "--json", "--show-personal", "--wait", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "黄桂兰" and data["id_number"] == "450103195203150027"
    assert "个人信息" in result.stderr


@posix_only
def test_idcard_read_without_a_card(make_simulator: MakeSim) -> None:
    sim = make_simulator(scenario=Scenario.NO_CARD)
    assert_one_line_error(run("idcard", "read", "--port", sim.port, "--wait", "0.3"), 1, "没有检测到身份证")


@posix_only
def test_idcard_read_card_removed_mid_read(make_simulator: MakeSim) -> None:
    sim = make_simulator(scenario=Scenario.REMOVED_MID_READ)
    result = run("idcard", "read", "--port", sim.port, "--timeout", "0.2", "--wait", "3")
    assert_one_line_error(result, 1, "读卡没有完成")


def test_idcard_read_on_a_missing_port() -> None:
    result = run("idcard", "read", "--port", "/dev/no-such-reader", "--wait", "0.5")
    assert_one_line_error(result, 1, "读卡器没有连接", "/dev/no-such-reader")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["idcard", "read"], "Missing option '--port'"),
        (["idcard", "read", "--port", "/dev/x", "--baud", "12"], "'12' is not one of"),
        (["idcard", "read", "--port", "/dev/x", "--wait", "-1"], "--wait"),
        (["idcard", "reed"], "No such command 'reed'"),
        (["idcard-sim", "--scenario", "fire"], "--scenario"),
        (["status", "--json"], "give --port, --printer or both"),
    ],
)
def test_idcard_bad_arguments(args: list[str], fragment: str) -> None:
    assert_one_line_error(run(*args), 2, fragment)


@posix_only
def test_idcard_sim_prints_its_port_and_stops(tmp_path: Path) -> None:
    link = tmp_path / "reader"
    result = run("idcard-sim", "--duration", "0.2", "--link", str(link), "--card", "hmt")
    assert result.exit_code == 0, result.output
    port = result.stdout.splitlines()[0]
    assert port.startswith("/dev/")
    assert not link.exists()  # the link goes away with the simulator


# --- health -----------------------------------------------------------------------------------------------


@posix_only
def test_devices_status(make_simulator: MakeSim) -> None:
    sim = make_simulator()
    result = run("status", "--port", sim.port, "--printer", "dummy:", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["reader"]["card_present"] is True and data["printer"]["paper"] == "ok"


def test_devices_status_needing_attention() -> None:
    result = run("status", "--printer", "dummy:?paper=out")
    assert result.exit_code == 1
    assert "需要处理" in result.stdout and "打印机没有纸了" in result.stdout


# --- through the shequ command ----------------------------------------------------------------------------


def shequ(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    code = "from assistant.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.slow
def test_shequ_devices_is_attached() -> None:
    process = shequ("devices", "--help")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "idcard-sim" in out
    process = shequ("devices", "printer", "test", "--printer", "nope:")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback" not in err and [line for line in err.splitlines() if line.startswith("错误")]


@pytest.mark.slow
@posix_only
def test_simulator_process_and_reader_process() -> None:
    sim = shequ("devices", "idcard-sim", "--card", "hmt", "--duration", "20")
    try:
        assert sim.stdout is not None
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/"), port
        reader = shequ(
            "--log-level", "WARNING", "devices", "idcard", "read", "--port", port, "--json", "--wait", "5"
        )
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
        assert json.loads(out)["card_type"] == "hmt_residence_permit"
    finally:
        sim.terminate()
        sim.communicate(timeout=10)
    time.sleep(0)
