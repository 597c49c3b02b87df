#!/usr/bin/env python3
"""Draws Portico's icon (a rounded teal square with a white arch: a portico/doorway) as RGBA PNGs.

Pure Python (zlib), so it runs anywhere; the PNGs in icons/ are committed and this script regenerates them.
"""
import math
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "icons"


def png(size: int) -> bytes:
    teal = (14, 116, 144)
    rows = []
    r = size * 0.22  # corner radius
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            cx, cy = x + 0.5, y + 0.5
            # rounded-square mask with 1px antialiasing
            dx = max(r - cx, 0, cx - (size - r))
            dy = max(r - cy, 0, cy - (size - r))
            d = math.hypot(dx, dy) - r
            a = max(0.0, min(1.0, 0.5 - d))
            col = teal
            # the arch: a doorway of white columns and a semicircular top
            u, v = cx / size, cy / size
            inside_outer = (0.28 <= u <= 0.72 and 0.42 <= v <= 0.80) or ((u - 0.5) ** 2 + (v - 0.42) ** 2 <= 0.22 ** 2 and v <= 0.42)
            inside_inner = (0.38 <= u <= 0.62 and 0.45 <= v <= 0.80) or ((u - 0.5) ** 2 + (v - 0.45) ** 2 <= 0.12 ** 2 and v <= 0.45)
            if inside_outer and not inside_inner:
                col = (255, 255, 255)
            if 0.20 <= u <= 0.80 and 0.80 <= v <= 0.86:
                col = (255, 255, 255)
            row += bytes([col[0], col[1], col[2], int(a * 255)])
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        (OUT / name).write_bytes(png(size))
        print("wrote", OUT / name)
