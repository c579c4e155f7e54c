"""Read back the ESC/POS bytes this package produces as plain text, for tests, logs-free previews and the CLI.

Only the commands ``layout`` emits are understood; an unknown command ends the preview with a marker rather
than guessing at its length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

IMAGE = "[二维码/图像]"
QR = "[二维码]"
CUT = "[切纸]"


@dataclass
class Preview:
    lines: list[str] = field(default_factory=list)
    images: int = 0
    native_qr: int = 0
    cuts: int = 0
    chinese_mode: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def preview(data: bytes) -> Preview:
    out = Preview()
    text = bytearray()
    i = 0
    n = len(data)

    def flush() -> None:
        out.lines.extend(
            text.decode("gb18030", errors="replace").split("\n")[:-1] if text.endswith(b"\n") else []
        )
        text.clear()

    while i < n:
        b = data[i]
        if b == 0x1B and i + 1 < n:  # ESC
            cmd = data[i + 1]
            if cmd == 0x40:  # ESC @
                i += 2
            elif cmd in (0x45, 0x61, 0x74, 0x21, 0x2D, 0x4D, 0x47, 0x7B, 0x33):  # one-parameter commands
                i += 3
            elif cmd == 0x64:  # ESC d n: feed n lines
                text.extend(b"\n" * data[i + 2] if i + 2 < n else b"")
                i += 3
            elif cmd == 0x32:  # ESC 2
                i += 2
            else:
                break
        elif b == 0x1C and i + 1 < n and data[i + 1] in (0x26, 0x2E):  # FS & / FS .
            out.chinese_mode = data[i + 1] == 0x26
            i += 2
        elif b == 0x1D and i + 1 < n:  # GS
            cmd = data[i + 1]
            if cmd == 0x21:  # GS ! n
                i += 3
            elif cmd == 0x76 and data[i + 2 : i + 3] == b"0":  # GS v 0 m xL xH yL yH d…
                width = int.from_bytes(data[i + 4 : i + 6], "little")
                height = int.from_bytes(data[i + 6 : i + 8], "little")
                i += 8 + width * height
                text.extend(IMAGE.encode("gb18030") + b"\n")
                out.images += 1
            elif cmd == 0x28 and data[i + 2 : i + 3] == b"k":  # GS ( k pL pH cn fn …
                length = int.from_bytes(data[i + 3 : i + 5], "little")
                if data[i + 6 : i + 7] == b"Q":  # fn 81: print the stored symbol
                    text.extend(QR.encode("gb18030") + b"\n")
                    out.native_qr += 1
                i += 5 + length
            elif cmd == 0x56:  # GS V m [n]
                mode = data[i + 2] if i + 2 < n else 0
                i += 4 if mode in (65, 66) else 3
                flush()
                out.lines.append(CUT)
                out.cuts += 1
            else:
                break
        elif b == 0x10 and i + 2 < n and data[i + 1] == 0x04:  # DLE EOT n (status query)
            i += 3
        else:
            text.append(b)
            i += 1
    if text and not text.endswith(b"\n"):
        text.extend(b"\n")
    flush()
    return out
