"""The kiosk's microphone: 16 kHz mono 16-bit audio, one recording at a time, on a background thread.

::

    Microphone (protocol)        where the audio comes from; ``open()`` gives a MicrophoneStream
    ├── SoundDeviceMicrophone    the default input (or a named one) through PortAudio (``sounddevice``)
    ├── FileMicrophone           a recorded WAV played through the same path, in real time or faster
    └── NoMicrophone             voice input switched off
    Listener                     one recording: reads the stream, feeds the EndpointDetector, reports
                                 start, level and the end through ``call_soon`` (Kivy's clock in the app)

The listener never blocks the UI thread and never writes audio anywhere: the recording lives in memory until
the recogniser has read it. ``import sounddevice`` raises ``OSError`` when libportaudio2 is missing; that, no
input device, or a device that cannot be opened is a :class:`~accessibility.errors.MicrophoneError`, whose
``resident_message`` the kiosk shows and says. Logs carry durations and device problems, never audio or text.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from accessibility.audio_input import MAX_RECORDING_SECONDS, SAMPLE_RATE, samples_from_pcm16
from accessibility.errors import MicrophoneError
from accessibility.vad import EndpointDetector, EndpointSettings, EndpointState, level_of
from kiosk_app.pcm import Converter, read_wav_pcm

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.05  # 20 level updates a second
CHUNK_SAMPLES = int(SAMPLE_RATE * CHUNK_SECONDS)
CHUNK_BYTES = CHUNK_SAMPLES * 2
READ_TIMEOUT_SECONDS = 0.1
# A stream that delivers nothing for this long is a broken device, not a quiet room.
NO_AUDIO_SECONDS = 2.0
# The kiosk's own prompt (请说话) is not recorded: recording starts when it is over, or after this long.
GATE_MAX_SECONDS = 4.0
# …and this much more is dropped, for the room's echo of the last syllable.
GATE_TAIL_SECONDS = 0.2
# A recording whose peak never passes this (of 32767) is a muted or dead input: a real room is never that quiet.
DEAD_PEAK = 2


class MicrophoneStream(Protocol):
    def read(self, timeout: float) -> bytes | None:
        """The next chunk of 16 kHz mono 16-bit PCM; ``None`` if none came within ``timeout``; ``b""`` at the
        end of a source that can end (a file without trailing silence)."""
        ...

    def close(self) -> None: ...


class Microphone(Protocol):
    name: str

    def available(self) -> bool:
        """Whether there is something to record from (cheap; no recording)."""
        ...

    def open(self) -> MicrophoneStream:
        """Start capturing; raises :class:`MicrophoneError`."""
        ...


# --- PortAudio -----------------------------------------------------------------------------------------

def _import_sounddevice() -> Any:
    try:
        import sounddevice
    except (OSError, ImportError) as e:  # OSError: libportaudio2 is not installed
        raise MicrophoneError(f"no audio input library: {e}") from e
    return sounddevice


class _SoundDeviceStream:
    def __init__(self, sd: Any, device: int | str | None, on_close: Callable[[], None]) -> None:
        self._on_close = on_close
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=int(MAX_RECORDING_SECONDS * 2 / CHUNK_SECONDS))
        self._problems = 0
        error: Exception | None = None
        self._stream: Any = None
        # 16 kHz mono first (ALSA's default device converts); else the device's own rate, converted here.
        for rate in (SAMPLE_RATE, None):
            try:
                info = sd.query_devices(device, kind="input")
                samplerate = rate or int(info["default_samplerate"])
                self._stream = sd.RawInputStream(samplerate=samplerate, blocksize=int(samplerate * CHUNK_SECONDS),
                                                 device=device, channels=1, dtype="int16", callback=self._callback)
                self._convert = Converter(samplerate, 1)
                break
            except (sd.PortAudioError, ValueError) as e:
                error = e
        if self._stream is None:
            raise MicrophoneError(f"the microphone could not be opened: {error}") from error
        try:
            self._stream.start()
        except sd.PortAudioError as e:
            self._stream.close()
            raise MicrophoneError(f"the microphone could not start: {e}") from e

    def _callback(self, indata: Any, _frames: int, _time: Any, status: Any) -> None:
        if status:
            self._problems += 1
        try:
            self._queue.put_nowait(bytes(indata))
        except queue.Full:
            self._problems += 1

    def read(self, timeout: float) -> bytes | None:
        try:
            return self._convert(self._queue.get(timeout=timeout))
        except queue.Empty:
            return None

    def close(self) -> None:
        if self._problems:
            log.info("microphone: %d overflowed or dropped blocks", self._problems)
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as e:  # closing a stream whose device vanished
            log.warning("microphone did not close cleanly: %s", type(e).__name__)
        finally:
            self._on_close()


class SoundDeviceMicrophone:
    """The default input device (``device=None``), or one by PortAudio index or name."""

    name = "sounddevice"

    def __init__(self, device: int | str | None = None) -> None:
        self.device = device
        self._open = 0
        self._found = True

    def available(self) -> bool:
        try:
            sd = _import_sounddevice()
        except MicrophoneError as e:
            log.warning("no microphone: %s", e)
            return False
        if not self._open and not self._found:
            # PortAudio lists devices once, when it starts: start it again so a microphone plugged in later is
            # found (only with no stream open, and only after a look that found none).
            try:
                sd._terminate()
                sd._initialize()
            except Exception as e:
                log.debug("PortAudio could not be restarted: %s", type(e).__name__)
        try:
            info = sd.query_devices(self.device, kind="input")
            self._found = int(info.get("max_input_channels", 0)) > 0
        except Exception as e:
            log.info("no microphone: %s", type(e).__name__)
            self._found = False
        return self._found

    def open(self) -> MicrophoneStream:
        sd = _import_sounddevice()
        try:
            stream = _SoundDeviceStream(sd, self.device, self._closed)
        except MicrophoneError:
            self._found = False  # unplugged since: the next look starts PortAudio again
            raise
        self._open += 1
        return stream

    def _closed(self) -> None:
        self._open -= 1


# --- a recorded file -----------------------------------------------------------------------------------

class _FileStream:
    def __init__(self, pcm: bytes, speed: float, trailing_silence: bool) -> None:
        self._pcm = pcm
        self._speed = speed
        self._trailing = trailing_silence
        self._position = 0
        self._started = time.monotonic()

    def read(self, timeout: float) -> bytes | None:
        if self._position >= len(self._pcm) and not self._trailing:
            return b""
        if self._speed > 0:
            due = self._started + (self._position / 2 / SAMPLE_RATE) / self._speed
            wait = due - time.monotonic()
            if wait > timeout:
                time.sleep(timeout)
                return None
            if wait > 0:
                time.sleep(wait)
        chunk = self._pcm[self._position : self._position + CHUNK_BYTES]
        chunk += b"\0" * (CHUNK_BYTES - len(chunk))  # past the end: a quiet room
        self._position += CHUNK_BYTES
        return chunk

    def close(self) -> None:
        self._pcm = b""


class FileMicrophone:
    """A recorded WAV (path or bytes) played through the listener as if spoken now.

    ``speed`` 1.0 is real time, 4.0 four times faster, 0 as fast as it can be read. After the file a quiet
    room follows (digital silence) until the recording stops, as after a resident's last word; with
    ``trailing_silence=False`` the stream ends instead."""

    name = "file"

    def __init__(self, source: Path | bytes, *, speed: float = 1.0, trailing_silence: bool = True) -> None:
        self.source = source
        self.speed = speed
        self.trailing_silence = trailing_silence

    def available(self) -> bool:
        return isinstance(self.source, bytes) or Path(self.source).is_file()

    def open(self) -> MicrophoneStream:
        return _FileStream(read_wav_pcm(self.source), self.speed, self.trailing_silence)


class NoMicrophone:
    name = "off"

    def available(self) -> bool:
        return False

    def open(self) -> MicrophoneStream:
        raise MicrophoneError("voice input is switched off (SHEQU_KIOSK_MICROPHONE=off)")


def create_microphone(spec: str = "") -> Microphone:
    """From ``SHEQU_KIOSK_MICROPHONE``: empty → the default input; ``off``; ``file:/path.wav``; a PortAudio
    device index or name."""
    spec = spec.strip()
    if spec.lower() in ("off", "none"):
        return NoMicrophone()
    if spec.startswith("file:"):
        return FileMicrophone(Path(spec[len("file:"):]))
    if not spec or spec.lower() == "default":
        return SoundDeviceMicrophone()
    return SoundDeviceMicrophone(int(spec) if spec.isdigit() else spec)


# --- one recording -------------------------------------------------------------------------------------

class Finish(enum.Enum):
    RELEASED = "released"  # the button was let go, or 说完了
    ENDED = "ended"  # quiet after speech (tap-to-talk)
    NO_SPEECH = "no_speech"  # nothing said (tap-to-talk)
    CAPPED = "capped"  # 15 s
    SOURCE_ENDED = "source_ended"  # a file without trailing silence ran out


@dataclass(frozen=True)
class Recording:
    pcm: bytes
    finish: Finish
    speech_heard: bool  # the detector heard speech begin
    peak: int  # of 32767

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / SAMPLE_RATE

    @property
    def dead(self) -> bool:
        """Digital silence throughout: the input is muted or broken."""
        return self.peak <= DEAD_PEAK

    def samples(self) -> np.ndarray:
        return samples_from_pcm16(self.pcm)


class Listener:
    """One recording on a background thread; every callback runs through ``call_soon`` (the UI thread).

    Until :meth:`end_on_silence` it records until :meth:`stop` (press and hold: letting go stops); after it,
    the detector ends it when the resident has stopped talking or never started (tap to talk). The 15 s cap
    ends it either way. ``gate()`` False holds the recording back (the kiosk is still speaking its prompt).
    """

    def __init__(
        self,
        microphone: Microphone,
        *,
        call_soon: Callable[[Callable[[], None]], None],
        on_started: Callable[[], None],
        on_level: Callable[[float, bool], None],
        on_done: Callable[[Recording], None],
        on_error: Callable[[MicrophoneError], None],
        gate: Callable[[], bool] | None = None,
        settings: EndpointSettings | None = None,
        max_seconds: float = MAX_RECORDING_SECONDS,
    ) -> None:
        self.microphone = microphone
        self._call_soon = call_soon
        self._on_started, self._on_level, self._on_done, self._on_error = on_started, on_level, on_done, on_error
        self._gate = gate
        self._settings = settings or EndpointSettings(max_seconds=max_seconds)
        self._max_bytes = int(max_seconds * SAMPLE_RATE) * 2
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._tap = threading.Event()
        self._recorded = 0
        self._thread = threading.Thread(target=self._run, name="kiosk-microphone", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def end_on_silence(self) -> None:
        self._tap.set()

    def stop(self) -> None:
        self._stop.set()

    def cancel(self) -> None:
        """Stop and drop the audio; no callback comes after this."""
        self._cancel.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def tap(self) -> bool:
        return self._tap.is_set()

    @property
    def seconds(self) -> float:
        """Audio recorded so far."""
        return self._recorded / 2 / SAMPLE_RATE

    def _report(self, callback: Callable[..., None], *args: Any) -> None:
        if self._cancel.is_set():
            return

        def deliver() -> None:
            if not self._cancel.is_set():
                callback(*args)

        self._call_soon(deliver)

    def _run(self) -> None:
        try:
            stream = self.microphone.open()
        except MicrophoneError as e:
            log.warning("microphone (%s) not usable: %s", self.microphone.name, e)
            self._report(self._on_error, e)
            return
        except Exception as e:
            log.error("microphone (%s) failed to open: %s", self.microphone.name, type(e).__name__)
            self._report(self._on_error, MicrophoneError(f"microphone failed: {type(e).__name__}"))
            return
        try:
            recording = self._record(stream)
        except MicrophoneError as e:
            log.warning("microphone (%s) stopped: %s", self.microphone.name, e)
            self._report(self._on_error, e)
            return
        except Exception as e:
            log.error("recording failed: %s", type(e).__name__)
            self._report(self._on_error, MicrophoneError(f"recording failed: {type(e).__name__}"))
            return
        finally:
            try:
                stream.close()
            except Exception as e:
                log.warning("microphone did not close: %s", type(e).__name__)
        if recording is not None:
            log.info("recorded %.1f s (%s, speech %s)", recording.seconds, recording.finish.value,
                     "heard" if recording.speech_heard else "not heard")
            self._report(self._on_done, recording)

    def _record(self, stream: MicrophoneStream) -> Recording | None:
        audio = bytearray()
        detector = EndpointDetector(self._settings)
        heard = False
        started = False
        gated = False
        tail = 0
        opened = last_chunk = time.monotonic()
        finish = Finish.RELEASED
        while True:
            if self._cancel.is_set():
                return None
            if self._stop.is_set():
                finish = Finish.RELEASED
                break
            chunk = stream.read(READ_TIMEOUT_SECONDS)
            now = time.monotonic()
            if chunk is None:
                if now - last_chunk > NO_AUDIO_SECONDS:
                    raise MicrophoneError("the microphone delivers no audio")
                continue
            last_chunk = now
            if not chunk:
                finish = Finish.SOURCE_ENDED
                break
            if not started:
                if self._gate is not None and not self._gate() and now - opened < GATE_MAX_SECONDS:
                    gated = True
                    continue
                if gated and tail < GATE_TAIL_SECONDS * SAMPLE_RATE * 2:
                    tail += len(chunk)
                    continue
                started = True
                self._report(self._on_started)
            audio += chunk
            self._recorded = len(audio)
            state = detector.feed(chunk)
            heard = heard or state in (EndpointState.SPEAKING, EndpointState.ENDED)
            self._report(self._on_level, level_of(chunk), state is EndpointState.SPEAKING)
            if len(audio) >= self._max_bytes or state is EndpointState.CAPPED:
                finish = Finish.CAPPED
                break
            if self._tap.is_set() and state in (EndpointState.ENDED, EndpointState.NO_SPEECH):
                finish = Finish.ENDED if state is EndpointState.ENDED else Finish.NO_SPEECH
                break
        pcm = bytes(audio[: self._max_bytes])
        peak = int(np.max(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)))) if pcm else 0
        return Recording(pcm, finish, heard, peak)
