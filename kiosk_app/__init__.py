"""The elderly-friendly touchscreen kiosk (Kivy), started by ``shequ kiosk``.

Layers, from the resident inwards:

- ``screens/`` (one ``.py`` + one ``.kv`` each), ``widgets``, ``theme`` — Kivy; screens show views and call the
  controller;
- ``controller`` (+ ``flows``, ``voice`` for 按住说话) — what each tap does, what is shown and said, what is
  forgotten; no Kivy;
- services injected into the controller: ``client`` (the assistant and its speech recogniser, in-process or
  over HTTP), ``speech`` (the ``accessibility`` TTS seam), ``devices`` (printer and ID-card reader from
  ``device_adapters``), ``microphone`` (PortAudio, a WAV file, or none; the recording thread), ``runner``
  (slow work off the UI thread);
- ``audit`` (the accessibility checks of a widget tree), ``screenshots`` and ``harness`` (driving the app
  without ``App.run``), ``main`` (Kivy set-up in the right order).

Importing this package loads no Kivy: ``kiosk_app.main`` and ``kiosk_app.app`` do, when the kiosk starts.
Errors: :mod:`kiosk_app.errors` (base :class:`~kiosk_app.errors.KioskError`).
"""
