"""Array layout helpers shared by the convolution algorithms.

Shapes: x (N, C, H, W), w (O, Cg, kh, kw) with ``Cg = C / G`` for ``G`` groups, y (N, O, Ho, Wo)::

    Ho = (H + pad_top + pad_bottom - dilation * (kh - 1) - 1) // stride + 1

``IM2COL_MAX_BYTES`` bounds every column buffer: the algorithms process larger batches in
chunks of samples (``chunk_size``).  On the intra-op threads (``threads.py``) each thread works
through its samples in chunks of ``THREAD_CHUNK_BYTES`` (``thread_chunk``) in its own work
buffers (``work_buffer``), and a sum over samples (weight and bias gradients) is one partial
per thread, added by the caller (``split_sum``).
"""
from __future__ import annotations

from .... import backend, threads

IM2COL_MAX_BYTES = 1 << 25  # 32 MiB per column-buffer chunk
THREAD_CHUNK_BYTES = 2 << 20   # column bytes one thread builds and multiplies at a time


def out_size(size, pad_total, k, stride, dilation):
    """Output length along one axis: (size + pad_total - dilation (k - 1) - 1) // stride + 1."""
    return (size + pad_total - dilation * (k - 1) - 1) // stride + 1


def pad_hw(x, top, bottom, left, right):
    """Zero-pad the last two axes (negative amounts crop; cropping alone is a view); the
    samples split over the threads."""
    if top == bottom == left == right == 0:
        return x
    n, c, h, w = x.shape
    src = x[:, :, max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    if max(top, bottom, left, right) <= 0:
        return src
    xp = backend.get_array_module(x)
    out = xp.empty((n, c, h + top + bottom, w + left + right), dtype=x.dtype)
    t, l = max(top, 0), max(left, 0)
    sh, sw = src.shape[2:]

    def part(start, stop):
        mine = out[start:stop]
        mine[:, :, :t] = 0                   # the border only: the interior is overwritten
        mine[:, :, t + sh:] = 0
        mine[:, :, t:t + sh, :l] = 0
        mine[:, :, t:t + sh, l + sw:] = 0
        mine[:, :, t:t + sh, l:l + sw] = src[start:stop]
    threads.for_ranges(part, n, out.size, like=x)
    return out


def dilate_pad(dy, stride, top, bottom, left, right):
    """Insert ``stride - 1`` zeros between elements of the last two axes, then pad (negative
    amounts crop); the samples split over the threads."""
    sh, sw = stride
    if sh == sw == 1:
        return pad_hw(dy, top, bottom, left, right)
    xp = backend.get_array_module(dy)
    n, c, h, w = dy.shape
    hd, wd = (h - 1) * sh + 1, (w - 1) * sw + 1
    t, l = max(top, 0), max(left, 0)
    out = xp.empty((n, c, hd + t + max(bottom, 0), wd + l + max(right, 0)), dtype=dy.dtype)

    def part(start, stop):
        mine = out[start:stop]
        mine[...] = 0
        mine[:, :, t:t + hd:sh, l:l + wd:sw] = dy[start:stop]
    threads.for_ranges(part, n, out.size, like=dy)
    return out[:, :, max(-top, 0):out.shape[2] - max(-bottom, 0),
               max(-left, 0):out.shape[3] - max(-right, 0)]


def flip_transpose(w, groups):
    """(O, Cg, kh, kw) -> (C, Og, kh, kw) with both spatial axes reversed, per group."""
    o, cg, kh, kw = w.shape
    og = o // groups
    wt = w.reshape(groups, og, cg, kh, kw).transpose(0, 2, 1, 3, 4).reshape(groups * cg, og, kh, kw)
    return wt[:, :, ::-1, ::-1]


def chunk_size(n, per_sample_bytes):
    """Samples per chunk (at least 1, at most n) whose buffers stay within IM2COL_MAX_BYTES."""
    return max(1, min(n, IM2COL_MAX_BYTES // max(per_sample_bytes, 1)))


def thread_chunk(per_sample_bytes):
    """Samples per chunk one thread builds and multiplies at a time (at least 1): buffers
    within THREAD_CHUNK_BYTES, which stay in its cache (a per-thread ``threads.scratch``)."""
    return max(1, THREAD_CHUNK_BYTES // max(int(per_sample_bytes), 1))


def gemm_work(macs):
    """The split work (``threads.usable``'s elements) of products of ``macs`` multiply-adds:
    ``macs / threads.MACS_PER_ELEMENT``, as ``threads.matmul`` counts it (a product of fewer
    multiply-adds runs faster on one thread than split: a 1x1 convolution of 64 4x4 maps
    96 -> 64, 6.3M, measured 0.92x split; 3x3 32 -> 64 at 4x4, 19M per product, 1.22x)."""
    return macs // threads.MACS_PER_ELEMENT


def work_buffer(shape, dtype, like, slot):
    """A thread's work array (contents arbitrary): its reusable ``threads.scratch`` buffer
    ``slot`` up to 4 * THREAD_CHUNK_BYTES (a chunk: no fresh pages per call), a fresh array
    beyond (a single sample larger than that: no large buffer held by the thread for good)."""
    xp = backend.get_array_module(like)
    size = 1
    for d in shape:
        size *= int(d)
    if size * xp.dtype(dtype).itemsize > 4 * THREAD_CHUNK_BYTES:
        return xp.empty(shape, dtype=dtype)
    return threads.scratch(shape, dtype, like, slot)


def split_sum(part, count, work, shape, dtype, like):
    """``sum_t part(t's range)``: range(count) (samples) split over the intra-op threads as
    ``threads.usable(like, work)`` allows; ``part(start, stop, out)`` writes its range's sum
    into ``out`` (a ``shape`` partial allocated here, one per thread; zeros for an empty
    range), and the partials are added here.  With one thread: ``part(0, count, out)``."""
    xp = backend.get_array_module(like)
    ranges = threads.split(count, threads.usable(like, work))
    partials = xp.empty((len(ranges),) + tuple(shape), dtype=dtype)
    threads.run([lambda i=i, s=s, e=e: part(s, e, partials[i]) for i, (s, e) in enumerate(ranges)])
    return threads.add_partials(partials)


def add_bias(y, b):
    """y (N, O, H, W) += b (O,) in place, the samples split over the threads."""
    b4 = b.reshape(1, -1, 1, 1)

    def part(start, stop):
        y[start:stop] += b4
    threads.for_ranges(part, y.shape[0], y.size, like=y)
    return y


def bias_grad(dy):
    """dL/db (O,) = the sum of dy (N, O, Ho, Wo) over the samples and positions (samples split
    over the threads)."""
    def part(start, stop, out):
        dy[start:stop].sum(axis=(0, 2, 3), out=out)
    return split_sum(part, dy.shape[0], dy.size, dy.shape[1:2], dy.dtype, dy)
