#!/usr/bin/env python3
"""Draws the web app's icons: a white "G" on the theme colour.

Writes icon-192.png and icon-512.png (a rounded square, transparent corners, purpose "any") and
icon-maskable-512.png (full-bleed background, the mark inside the maskable safe zone, the
central circle of 80% of the width) next to this script. Standard library only: the shapes are
signed distance functions, sampled once per pixel and anti-aliased over one pixel; the PNG is
written with zlib and struct.

Run again after changing the colours or the shapes: `python3 assets/web/make-icons.py`.
"""

import math
import os
import struct
import zlib

# The theme colour (also in manifest.webmanifest and index.html) and the mark's colour.
THEME = (0x1D, 0x3B, 0x2A)
MARK = (0xFF, 0xFF, 0xFF)

# The "G", in units where the mark's box spans -1..1: a ring arc of this mid radius and
# half thickness, open in its upper right, and a bar from the centre to the ring's right side.
RING_MID = 0.72
RING_HALF = 0.17
ARC_START = math.radians(40)  # the upper terminal (angles counter-clockwise from +x, y up)
BAR_LEFT = 0.02


def box(px, py, x0, y0, x1, y1):
    """Signed distance from (px, py) to the axis-aligned box [x0, x1] × [y0, y1]."""
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2, (y1 - y0) / 2
    dx, dy = abs(px - cx) - hx, abs(py - cy) - hy
    outside = math.hypot(max(dx, 0.0), max(dy, 0.0))
    return outside + min(max(dx, dy), 0.0)


def rounded_square(px, py, half, radius):
    """Signed distance to a square of half side `half` centred at 0 with corner `radius`."""
    dx, dy = abs(px) - (half - radius), abs(py) - (half - radius)
    outside = math.hypot(max(dx, 0.0), max(dy, 0.0))
    return outside + min(max(dx, dy), 0.0) - radius


def letter_g(x, y):
    """Signed distance to the "G" mark (negative inside)."""
    angle = math.atan2(y, x) % (2 * math.pi)
    if angle >= ARC_START:
        ring = abs(math.hypot(x, y) - RING_MID) - RING_HALF
    else:
        # Outside the arc's span: distance to its rounded ends.
        ends = []
        for a in (ARC_START, 0.0):
            ex, ey = RING_MID * math.cos(a), RING_MID * math.sin(a)
            ends.append(math.hypot(x - ex, y - ey))
        ring = min(ends) - RING_HALF
    bar = box(x, y, BAR_LEFT, -RING_HALF, RING_MID + RING_HALF, RING_HALF)
    return min(ring, bar)


def coverage(distance, pixel):
    """Fraction of a pixel covered by a shape at signed `distance` (in the same units)."""
    return min(1.0, max(0.0, 0.5 - distance / pixel))


def draw(size, maskable):
    """RGBA rows of one icon of `size`×`size` pixels."""
    half = size / 2
    # Mark box half size in pixels: the maskable mark stays well inside the safe circle
    # (radius 40% of the width); the other icons fill more of their rounded square.
    mark_half = size * (0.27 if maskable else 0.31)
    rows = []
    for j in range(size):
        row = bytearray()
        for i in range(size):
            # Pixel centre, in pixels from the icon's centre, y up.
            px, py = i + 0.5 - half, half - (j + 0.5)
            if maskable:
                bg = 1.0
            else:
                bg = coverage(rounded_square(px, py, half, size * 0.22), 1.0)
            g = coverage(letter_g(px / mark_half, py / mark_half), 1.0 / mark_half)
            alpha = max(bg, g)
            if alpha <= 0.0:
                row += b"\0\0\0\0"
                continue
            # White over the theme colour; the background's own edge only sets alpha.
            rgb = [MARK[k] * g + THEME[k] * (1.0 - g) for k in range(3)]
            row += bytes(round(c) for c in rgb) + bytes([round(alpha * 255)])
        rows.append(bytes(row))
    return rows


def png(width, height, rows):
    """A PNG file (8-bit RGBA, no filtering) holding `rows`."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    raw = b"".join(b"\0" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ):
        path = os.path.join(here, name)
        with open(path, "wb") as f:
            f.write(png(size, size, draw(size, maskable)))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
