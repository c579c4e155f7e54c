"""``shequ kiosk``: help without Kivy, clear one-line errors, and the screenshot mode end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def shequ(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return run(f"import sys; sys.argv = ['shequ', *{list(args)!r}]; from assistant.cli import main; main()",
               env, timeout)


def test_help_and_the_server_never_load_kivy() -> None:
    result = run(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from assistant.cli import cli, _attach_subcommands\n"
        "_attach_subcommands()\n"
        "out = CliRunner().invoke(cli, ['kiosk', '--help']).output\n"
        "import assistant.api.main\n"
        "print(out)\n"
        "print('KIVY', 'kivy' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "--fullscreen" in result.stdout and "--screenshots" in result.stdout
    assert "KIVY False" in result.stdout


def test_bad_kiosk_setting_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = shequ("kiosk", env={"SHEQU_KIOSK_TOUCH_INPUT": "mouse,probesysfs", "SHEQU_VAR_DIR": str(tmp_path)},
                   timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "SHEQU_KIOSK_TOUCH_INPUT" in result.stderr


@pytest.mark.slow
@pytest.mark.gui
def test_screenshots_of_every_screen(tmp_path: Path, kiosk_settings: Settings) -> None:
    out = tmp_path / "shots"
    env = {
        # The session's knowledge base and var dir: its intent model is trained already.
        "SHEQU_VAR_DIR": str(kiosk_settings.var_dir),
        "SHEQU_KB_DATA_DIR": str(kiosk_settings.kb_data_dir),
        "SHEQU_INDEX_DIR": str(kiosk_settings.resolved_index_dir()),
        "SHEQU_DATABASE_URL": kiosk_settings.resolved_database_url(),
        "SHEQU_KIOSK_HOME_CATEGORIES": "yanglao,shebao",
        "SDL_VIDEODRIVER": "offscreen",
    }
    result = shequ("kiosk", "--screenshots", str(out), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    pictures = sorted(out.glob("*.png"))
    names = {p.stem.split("-", 1)[1] for p in pictures}
    assert {"home", "category", "answer", "clarify", "handoff", "keypad", "idcard-signed-in", "idle-warning",
            "printer-out-of-paper", "reader-unplugged", "home-high-contrast"} <= names
    for picture in pictures:
        with Image.open(picture) as image:
            assert image.size == (1920, 1080)
            assert max(ImageStat.Stat(image.convert("L")).stddev) > 10, f"{picture.name} is blank"
    assert (out / "audit.txt").read_text(encoding="utf-8").strip() == "no findings on any screen"


@pytest.mark.slow
@pytest.mark.gui
def test_a_short_screen_shows_four_choices_a_page_and_passes_the_audit(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The shipped knowledge base: its long titles (社区老年食堂（助餐）怎么用餐和享受补贴) wrap onto a second line
    # at 1280 px, which three rows of choices left no room for.
    out = tmp_path / "shots"
    env = {
        "SHEQU_VAR_DIR": str(tmp_path / "var"),
        "SHEQU_INDEX_DIR": str(tmp_path_factory.getbasetemp() / "shipped-kb-index"),
        "SHEQU_DATABASE_URL": "",
        "SHEQU_KIOSK_WINDOW_SIZE": "1280x800",
        "SHEQU_KIOSK_TTS": "fake",
        "SDL_VIDEODRIVER": "offscreen",
    }
    result = shequ("kiosk", "--screenshots", str(out), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with Image.open(out / "02-category.png") as image:
        assert image.size == (1280, 800)
    assert (out / "audit.txt").read_text(encoding="utf-8").strip() == "no findings on any screen"
