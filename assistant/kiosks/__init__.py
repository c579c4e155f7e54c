"""The kiosk fleet (issue 15): kiosks registered with a device token, their heartbeats and health, their
configuration, and the alerts staff get when one goes silent or runs out of paper.

- ``models``: the ``kiosks`` table (migration ``0017_kiosks``);
- ``registry``: registering (the token is shown once, only its SHA-256 is kept), finding a kiosk by its token,
  recording a heartbeat, the configuration a kiosk pulls;
- ``fleet``: ``sweep_kiosks`` (alerts raised once per problem and closed on recovery), ``kiosks_online``, and
  what the console page shows.

Exceptions::

    KioskError           a registration the server refuses (message in Chinese)
"""

from __future__ import annotations

KIOSK_ALERT_KIND = "kiosk"  # Alert.kind of device alerts: not an emergency, never escalated to departments
KIOSK_CHANNEL = "kiosk"


class KioskError(Exception):
    """A kiosk registration refused; the message is for staff, in Chinese."""
