"""The warning banner and the notice screens on a real (hidden) Kivy window: above every screen, never over a
button, tappable, by the accessibility numbers in the themes; and the screenshot mode's pictures of them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kiosk_testkit import setup_kivy_for_tests
from PIL import Image

from accessibility import FakeTtsEngine
from assistant.settings import Settings
from kiosk_app.client import InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.samples import SAMPLE_WARNINGS
from kiosk_app.views import SCREENS, WARNING

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def kivy_ready() -> Iterator[None]:
    setup_kivy_for_tests()
    yield


@pytest.mark.parametrize(("theme", "larger"), [("normal", False), ("high_contrast", True)])
def test_a_warning_stays_above_every_screen_and_covers_no_button(
        theme: str, larger: bool, kiosk_settings: Settings, in_process_client: InProcessAssistantClient) -> None:
    from kiosk_app.app import KioskApp
    from kiosk_app.audit import audit_banner, audit_screen
    from kiosk_app.bulletins import parse_board
    from kiosk_app.harness import KioskHarness, visible
    from kiosk_app.microphone import FileMicrophone
    from kiosk_app.runner import InlineRunner
    from kiosk_app.samples import sample_bulletins, sample_voice_wav
    from kiosk_app.screenshots import sample_devices, visit_every_screen

    config = KioskConfig(home_categories=("yanglao", "shebao"), theme=theme, larger_text=larger, tts="fake")
    devices, reader, printer = sample_devices()
    app = KioskApp(config, kiosk_settings, client=in_process_client, tts=FakeTtsEngine(), devices=devices,
                   runner=InlineRunner(), microphone=FileMicrophone(sample_voice_wav()))
    harness = KioskHarness(app)
    banner = app.ui.warning
    findings: list[str] = []
    visited: dict[str, str] = {}
    without_banner: list[str] = []

    def capture(label: str) -> None:
        visited[label] = harness.screen_name
        if not (visible(banner) and banner.height > 0):
            without_banner.append(label)
        findings.extend(map(str, audit_screen(harness.screen, label)))
        findings.extend(map(str, audit_banner(banner, harness.screen, label)))

    try:
        harness.app.stop_bulletins()
        app.controller.bulletins.update(parse_board(sample_bulletins(("blue", "yellow", "orange", "red"))))
        harness.pump(3)
        visit_every_screen(harness, reader, printer, capture)
    finally:
        harness.close()
    assert set(visited.values()) == set(SCREENS)
    assert visited["warning-detail"] == WARNING  # a real tap on the banner opened it
    assert without_banner == ["home-notice"]  # the one picture taken with notices only
    assert findings == []


def test_the_audit_finds_a_banner_laid_over_a_button() -> None:
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.screenmanager import Screen

    from kiosk_app.audit import audit_banner
    from kiosk_app.views import WarningBannerView
    from kiosk_app.warning_banner import WarningBanner
    from kiosk_app.widgets import KioskButton

    screen = Screen(name="home", size=(1920, 1080))
    layout = FloatLayout(size=(1920, 1080))
    screen.add_widget(layout)
    button = KioskButton(text="返回", size_hint=(None, None), size=(300, 120), pos=(0, 960))
    layout.add_widget(button)
    banner = WarningBanner(size_hint=(None, None), width=1920, pos=(0, 960))
    layout.add_widget(banner)
    banner.show_warning(WarningBannerView(1, "暴雨橙色预警", "", "#F08000", "#FFFFFF"))  # white on orange: 2.7:1
    rules = {f.rule for f in audit_banner(banner, screen)}
    assert {"covered-by-warning", "text-contrast"} <= rules


@pytest.mark.slow
def test_screenshots_show_each_level_in_its_colours(tmp_path: Path, kiosk_settings: Settings) -> None:
    out = tmp_path / "shots"
    env = {**os.environ,
           "SHEQU_VAR_DIR": str(kiosk_settings.var_dir), "SHEQU_KB_DATA_DIR": str(kiosk_settings.kb_data_dir),
           "SHEQU_INDEX_DIR": str(kiosk_settings.resolved_index_dir()),
           "SHEQU_DATABASE_URL": kiosk_settings.resolved_database_url(),
           "SHEQU_KIOSK_HOME_CATEGORIES": "yanglao,shebao", "SDL_VIDEODRIVER": "offscreen"}
    code = f"import sys; sys.argv = ['shequ', 'kiosk', '--screenshots', {str(out)!r}]; " \
           "from assistant.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    names = {p.stem.split("-", 1)[1]: p for p in out.glob("*.png")}
    assert {"home-notice", "notices", "notice-detail", "warning-detail"} <= set(names)
    for level, warning in SAMPLE_WARNINGS.items():
        with Image.open(names[f"warning-{level}"]) as image:
            # Inside the banner's border, left of its text: the level's background.
            pixel = image.convert("RGB").getpixel((12, 12))
        expected = str(warning["colors"]["background"])  # type: ignore[index]
        assert "#{:02X}{:02X}{:02X}".format(*pixel) == expected, level
    with Image.open(names["home-notice"]) as image:
        assert image.convert("RGB").getpixel((12, 12)) != (165, 0, 0)  # no warning yet: no banner
    assert (out / "audit.txt").read_text(encoding="utf-8").strip() == "no findings on any screen"
