"""A scatter plot of 2-D points coloured by class, drawn into an RGB array on the backend and
written as a PNG with the standard library (``zlib``), so the models need no plotting library.

    image = scatter_image(points, labels)        # uint8 (H, W, 3) backend array
    write_png("pca.png", image)

Layout: a white canvas; the points (each a filled disc of radius 2, in the class's colour,
in a random order; where discs overlap, one of them shows) inside a grey frame with 4% margins; on
the right, one legend row per class: a colour swatch and the class index in a 3x5 pixel font
(scaled 3x).
"""
from __future__ import annotations

import os
import struct
import zlib

from tinygrad_cv import backend

__all__ = ["CLASS_COLOURS", "scatter_image", "encode_png", "write_png"]

# The ten categorical colours of the usual "tab10" palette.
CLASS_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))

# 3x5 bitmaps of the digits, one row per string, '#' = ink.
_DIGITS = ("### #.# #.# #.# ###", ".#. ##. .#. .#. ###", "### ..# ### #.. ###",
           "### ..# ### ..# ###", "#.# #.# ### ..# ..#", "### #.. ### ..# ###",
           "### #.. ### #.# ###", "### ..# ..# ..# ..#", "### #.# ### #.# ###",
           "### #.# ### ..# ###")


def _glyph(digit, xp):
    rows = _DIGITS[int(digit)].split()
    return xp.asarray([[c == "#" for c in row] for row in rows], dtype=bool)


def _text(canvas, text, top, left, scale, colour, xp):
    """Draw the decimal ``text`` (digits only) with its top-left corner at (top, left)."""
    for k, ch in enumerate(text):
        g = _glyph(ch, xp)
        g = xp.repeat(xp.repeat(g, scale, axis=0), scale, axis=1)
        x0 = left + k * 4 * scale
        region = canvas[top:top + g.shape[0], x0:x0 + g.shape[1]]
        region[g[:region.shape[0], :region.shape[1]]] = colour


def scatter_image(points, labels, size=(420, 480), radius=2, seed=0):
    """An RGB uint8 array (H, W, 3) on the points' device: ``points`` (N, 2) (x right, y up),
    ``labels`` (N,) ints in [0, 10)."""
    xp = backend.get_array_module(points)
    points = xp.asarray(points, dtype="float64")
    labels = xp.asarray(labels).astype("int64")
    if points.ndim != 2 or points.shape[1] != 2 or labels.shape != (points.shape[0],):
        raise ValueError(f"scatter_image: expected points (N, 2) and labels (N,), got "
                         f"{tuple(points.shape)} and {tuple(labels.shape)}")
    if points.shape[0] and (int(labels.min()) < 0 or int(labels.max()) >= len(CLASS_COLOURS)):
        raise ValueError(f"scatter_image: labels must be in [0, {len(CLASS_COLOURS)})")
    h, w = int(size[0]), int(size[1])
    legend = 70
    canvas = xp.full((h, w, 3), 255, dtype="uint8")
    plot_w = w - legend
    m_y, m_x = int(0.04 * h), int(0.04 * plot_w)
    canvas[m_y - 2, m_x - 2:plot_w - m_x + 2] = 160
    canvas[h - m_y + 1, m_x - 2:plot_w - m_x + 2] = 160
    canvas[m_y - 2:h - m_y + 2, m_x - 2] = 160
    canvas[m_y - 2:h - m_y + 2, plot_w - m_x + 1] = 160
    colours = xp.asarray(CLASS_COLOURS, dtype="uint8")
    if points.shape[0]:
        lo, hi = points.min(axis=0), points.max(axis=0)
        span = xp.where(hi > lo, hi - lo, 1.0)
        unit = (points - lo) / span
        inset = radius + 3          # the discs stay inside the frame
        left, right = m_x + inset, plot_w - m_x - 1 - inset
        top, bottom = m_y + inset, h - m_y - 1 - inset
        cols = xp.rint(left + unit[:, 0] * (right - left)).astype("int64")
        rows = xp.rint(bottom - unit[:, 1] * (bottom - top)).astype("int64")
        np_ = backend.module_for_device("cpu")
        order = backend.to_device(np_.random.default_rng(seed).permutation(points.shape[0]),
                                  backend.device_of(points))
        rows, cols, labels = rows[order], cols[order], labels[order]
        offsets = [(dy, dx) for dy in range(-radius, radius + 1)
                   for dx in range(-radius, radius + 1) if dy * dy + dx * dx <= radius * radius]
        dy = xp.asarray([o[0] for o in offsets])
        dx = xp.asarray([o[1] for o in offsets])
        pr = xp.clip(rows[:, None] + dy[None], 0, h - 1).ravel()
        pc = xp.clip(cols[:, None] + dx[None], 0, w - 1).ravel()
        canvas.reshape(h * w, 3)[pr * w + pc] = colours[xp.repeat(labels, len(offsets))]
    for c in range(len(CLASS_COLOURS)):
        row = m_y + 8 + c * 28
        canvas[row:row + 15, plot_w + 8:plot_w + 23] = colours[c]
        _text(canvas, str(c), row, plot_w + 32, 3, 40, xp)
    return canvas


def encode_png(image):
    """PNG bytes of a uint8 RGB image (H, W, 3) (or gray (H, W)): 8-bit, no interlace, each
    row with filter type 0, the scanlines deflated by ``zlib``."""
    arr = backend.to_numpy(image)
    if arr.dtype.name != "uint8" or arr.ndim not in (2, 3) or (arr.ndim == 3
                                                               and arr.shape[2] != 3):
        raise ValueError(f"encode_png: expected uint8 (H, W) or (H, W, 3), got {arr.dtype} "
                         f"{tuple(arr.shape)}")
    h, w = arr.shape[:2]
    colour_type = 2 if arr.ndim == 3 else 0
    raw = b"".join(b"\x00" + arr[r].tobytes() for r in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def write_png(path, image):
    """Write ``image`` (see ``encode_png``) to ``path`` atomically; returns ``path``."""
    from tinygrad_cv.io import atomic_write

    path = os.fspath(path)
    atomic_write(path, [encode_png(image)])
    return path
