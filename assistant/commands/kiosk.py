"""``shequ kiosk [--fullscreen] [--screenshots DIR]``: the touchscreen kiosk (Kivy, imported only here)."""

from __future__ import annotations

from pathlib import Path

import click

from assistant.commands.common import UserError
from assistant.settings import get_settings


@click.command()
@click.option("--fullscreen", is_flag=True,
              help="kiosk mode: full screen, no cursor, Escape does not exit (also SHEQU_KIOSK_FULLSCREEN)")
@click.option("--screenshots", "screenshots", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="render every screen with sample content into DIR as PNG and exit")
def kiosk(fullscreen: bool, screenshots: Path | None) -> None:
    """Start the elderly-friendly self-service kiosk."""
    settings = get_settings()
    try:
        # Kivy is heavy and opens a window: loaded only when this command runs, never by the server.
        from kiosk_app.errors import KioskError
        from kiosk_app.main import run_kiosk, run_screenshots
    except ImportError as exc:
        raise UserError(f"the kiosk needs Kivy: pip install -e '.[kiosk]' ({exc.name} is missing)") from exc
    try:
        if screenshots is not None:
            if screenshots.exists() and not screenshots.is_dir():
                raise UserError(f"{screenshots} is not a directory")
            written = run_screenshots(settings, screenshots)
            for path in written:
                click.echo(str(path))
            click.echo(f"{len(written)} screenshots in {screenshots}")
            return
        run_kiosk(settings, fullscreen=fullscreen)
    except KioskError as exc:
        raise UserError(str(exc)) from exc
