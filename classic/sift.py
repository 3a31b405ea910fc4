"""SIFT keypoints and descriptors (Lowe 2004), in the parameterisation of Rey-Otero & Delbracio,
"Anatomy of the SIFT method" (IPOL 2014), which scikit-image's ``feature.SIFT`` also follows.

Scale space.  The image is upsampled by ``upsampling`` (bilinear; sample m of octave o sits
at input coordinate ``m * delta_o + (delta_0 - 1) / 2``, delta_o = 2^o / upsampling) and blurred from the assumed blur
``sigma_in`` to the seed blur.  Octave o has sampling distance ``delta_o = delta_0 2^o`` and
``n_scales + 3`` images of blur (in input pixels)::

    sigma(o, s) = (sigma_min / upsampling) * 2^(o + s / n_scales),   s = 0 .. n_scales + 2

each obtained from the previous by a Gaussian of std ``sqrt(sigma_s^2 - sigma_{s-1}^2) / delta_o``
(octave pixels); the next octave starts from image ``s = n_scales`` taken every second pixel.

Keypoints.  DoG ``D_s = L_{s+1} - L_s``; candidates are 3x3x3 extrema with |D| > 0.8 c_dog;
each is refined by the second-order Taylor expansion, offset ``x* = -H^{-1} grad D`` (moving to
the neighbour while an offset exceeds 0.6, at most 5 times); kept when ``|D(x*)| > c_dog`` with
``D(x*) = D + grad D . x* / 2`` and the spatial Hessian passes the edge test
``tr(H)^2 / det(H) < (r + 1)^2 / r`` (r = ``c_edge`` = 10).

Orientation.  Gradients of the nearest Gaussian image in a square of radius ``3 lambda_ori sigma``
weighted by a Gaussian of std ``lambda_ori sigma`` (1.5 sigma) fill a 36-bin histogram, smoothed
6 times by a circular [1, 1, 1]/3 box; every local peak above ``c_max`` (80%) of the maximum gives
a keypoint, its angle refined by a parabola through the peak and its neighbours.

Descriptor.  In the frame rotated by the keypoint's angle and scaled by sigma, the square of
half-width ``lambda_descr (n_hist + 1) / n_hist`` sigma (lambda_descr = 6) around the keypoint
is split into n_hist x n_hist = 4 x 4 cells of n_ori = 8 orientation bins; every gradient is
Gaussian-weighted (std lambda_descr sigma) and spread by trilinear interpolation over (row, col,
angle).  The 128-vector is normalised, clipped at 0.2 and normalised again.

Everything is vectorised per octave: extrema, refinement, and the histograms of all keypoints of
an octave (in chunks) are array operations with scatter-add; loops run over octaves, scales
and refinement steps only.
"""
from __future__ import annotations

import math

from tinygrad_cv.backend import device_of, get_array_module, is_array, scatter_add

from ._image import to_gray
from ._validate import check_finite
from .filters import gaussian_blur

__all__ = ["SIFT", "match_descriptors"]

_MIN_OCTAVE_SIZE = 12    # the smallest side an octave may have
_DETECT_ROWS = 32        # rows per band of the extrema search on the CPU


def _upsample(img, factor):
    """Bilinear upsampling by an integer ``factor``, pixel centres aligned: sample m at input
    coordinate ``(m + 1/2) / factor - 1/2`` (clamped at the edges), as
    ``skimage.transform.rescale``.

    Output sample ``m = factor q + p`` (phase p) lies at ``q + t_p`` with the fixed offset
    ``t_p = (p + 1/2) / factor - 1/2``, so each axis is ``factor`` blends of two shifted copies of
    the edge-padded input (weights ``1 - frac(t_p)``, ``frac(t_p)``).
    """
    xp = get_array_module(img)
    if factor == 1:
        return img
    for axis in (0, 1):
        n = img.shape[axis]
        padded = xp.pad(img, [(1, 1) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        shape = list(img.shape)
        shape[axis] = n * factor
        out = xp.empty(shape, dtype=img.dtype)
        for p in range(factor):
            t = (p + 0.5) / factor - 0.5
            lo = math.floor(t)
            frac = xp.asarray(t - lo, dtype=img.dtype)
            a = padded[(slice(1 + lo, 1 + lo + n),) if axis == 0 else (slice(None), slice(1 + lo, 1 + lo + n))]
            b = padded[(slice(2 + lo, 2 + lo + n),) if axis == 0 else (slice(None), slice(2 + lo, 2 + lo + n))]
            target = (slice(p, None, factor),) if axis == 0 else (slice(None), slice(p, None, factor))
            out[target] = a * (1 - frac) + b * frac
        img = out
    return img


def _valid_max(a, axis, reduce=None):
    """max (or ``reduce``) of each 3-window along ``axis`` (the result is 2 shorter there)."""
    xp = get_array_module(a)
    reduce = xp.maximum if reduce is None else reduce
    n = a.shape[axis]
    take = [slice(None)] * a.ndim

    def part(lo):
        t = list(take)
        t[axis] = slice(lo, n - 2 + lo)
        return a[tuple(t)]

    out = reduce(part(0), part(1))
    return reduce(out, part(2), out=out)


def _max3(a, reduce=None):
    """3x3x3 maximum (or ``reduce``, e.g. ``xp.minimum``) at every interior point of a
    (S, H, W) array: (S-2, H-2, W-2), separably along x, y, then s."""
    return _valid_max(_valid_max(_valid_max(a, 2, reduce), 1, reduce), 0, reduce)


def _derivatives(D, s, y, x):
    """Gradient (K, 3) and Hessian (K, 3, 3) of D (S, H, W) at integer points, order (s, y, x)."""
    xp = get_array_module(D)

    def at(ds, dy, dx):
        return D[s + ds, y + dy, x + dx]

    c = at(0, 0, 0)
    g = xp.stack([(at(1, 0, 0) - at(-1, 0, 0)) / 2,
                  (at(0, 1, 0) - at(0, -1, 0)) / 2,
                  (at(0, 0, 1) - at(0, 0, -1)) / 2], axis=1)
    hss = at(1, 0, 0) + at(-1, 0, 0) - 2 * c
    hyy = at(0, 1, 0) + at(0, -1, 0) - 2 * c
    hxx = at(0, 0, 1) + at(0, 0, -1) - 2 * c
    hsy = (at(1, 1, 0) - at(1, -1, 0) - at(-1, 1, 0) + at(-1, -1, 0)) / 4
    hsx = (at(1, 0, 1) - at(1, 0, -1) - at(-1, 0, 1) + at(-1, 0, -1)) / 4
    hyx = (at(0, 1, 1) - at(0, 1, -1) - at(0, -1, 1) + at(0, -1, -1)) / 4
    H = xp.stack([xp.stack([hss, hsy, hsx], 1), xp.stack([hsy, hyy, hyx], 1),
                  xp.stack([hsx, hyx, hxx], 1)], axis=1)
    return c, g, H


def _solve3(H, g):
    """x = -H^{-1} g for a batch of symmetric 3x3 systems via the adjugate; (x, ok)."""
    xp = get_array_module(H)
    a, b, c = H[:, 0, 0], H[:, 0, 1], H[:, 0, 2]
    d, e, f = H[:, 1, 1], H[:, 1, 2], H[:, 2, 2]
    A = d * f - e * e
    B = c * e - b * f
    C = b * e - c * d
    E = a * f - c * c
    F = b * c - a * e
    I_ = a * d - b * b
    det = a * A + b * B + c * C
    ok = xp.abs(det) > 1e-12
    det = xp.where(ok, det, 1.0)
    g0, g1, g2 = g[:, 0], g[:, 1], g[:, 2]
    x = -xp.stack([A * g0 + B * g1 + C * g2,
                   B * g0 + E * g1 + F * g2,
                   C * g0 + F * g1 + I_ * g2], axis=1) / det[:, None]
    return x, ok


def _chunks(sigmas, radius_per_sigma, budget=3_000_000):
    """Keypoint index chunks, sorted by sigma, each with its patch radius (ints)."""
    xp = get_array_module(sigmas)
    order = xp.argsort(sigmas)
    n = int(order.shape[0])
    s_sorted = sigmas[order]
    i = 0
    while i < n:
        r = int(math.ceil(float(s_sorted[min(n - 1, i + 63)]) * radius_per_sigma))
        side = 2 * r + 1
        step = max(1, budget // (side * side))
        j = min(n, i + step)
        r = int(math.ceil(float(s_sorted[j - 1]) * radius_per_sigma))
        yield order[i:j], r
        i = j


class SIFT:
    """SIFT detector and descriptor extractor (defaults of scikit-image's ``feature.SIFT``).

    ``detect_and_extract(image)`` returns ``(keypoints, descriptors)``: keypoints (N, 4) float
    rows ``(row, col, sigma, orientation)`` in input-image pixels (orientation in radians,
    [0, 2 pi), counter-clockwise in (x = col, y = row) coordinates), descriptors (N, 128) float32
    of unit norm.  They are also kept as attributes ``keypoints``, ``descriptors``, ``positions``,
    ``sigmas``, ``orientations``, ``octaves``.

    ``n_octaves=None`` uses as many octaves as fit (at most 8); an explicit number that does not
    fit the image (last octave smaller than 12 pixels) raises ``ValueError``.
    """

    def __init__(self, upsampling=2, n_octaves=None, n_scales=3, sigma_min=1.6, sigma_in=0.5,
                 c_dog=0.04 / 3, c_edge=10, n_bins=36, lambda_ori=1.5, c_max=0.8,
                 lambda_descr=6, n_hist=4, n_ori=8):
        if upsampling not in (1, 2, 4):
            raise ValueError(f"upsampling must be 1, 2 or 4, got {upsampling}")
        if n_octaves is not None and int(n_octaves) < 1:
            raise ValueError(f"n_octaves must be >= 1, got {n_octaves}")
        if int(n_scales) < 1:
            raise ValueError(f"n_scales must be >= 1, got {n_scales}")
        self.upsampling = upsampling
        self.n_octaves = None if n_octaves is None else int(n_octaves)
        self.n_scales = int(n_scales)
        self.sigma_min = float(sigma_min)
        self.sigma_in = float(sigma_in)
        # the threshold is given for n_scales = 3 and rescaled for other n_scales
        self.c_dog = (2 ** (1 / self.n_scales) - 1) / (2 ** (1 / 3) - 1) * c_dog
        self.c_edge = float(c_edge)
        self.n_bins = int(n_bins)
        self.lambda_ori = float(lambda_ori)
        self.c_max = float(c_max)
        self.lambda_descr = float(lambda_descr)
        self.n_hist = int(n_hist)
        self.n_ori = int(n_ori)
        self.keypoints = self.descriptors = None

    # -- scale space ---------------------------------------------------------------------------
    def _octave_count(self, shape):
        s0 = min(shape) * self.upsampling
        fit = int(math.floor(math.log2(s0 / _MIN_OCTAVE_SIZE))) + 1 if s0 >= _MIN_OCTAVE_SIZE else 0
        if fit < 1:
            raise ValueError(f"image of shape {tuple(shape)} is too small for SIFT: the smallest "
                             f"side times upsampling must be at least {_MIN_OCTAVE_SIZE}")
        if self.n_octaves is None:
            return min(8, fit)
        if self.n_octaves > fit:
            raise ValueError(f"image of shape {tuple(shape)} is too small for {self.n_octaves} "
                             f"octaves (at most {fit} fit with upsampling={self.upsampling})")
        return self.n_octaves

    def scale_space(self, image):
        """Gaussian octaves: list of (n_scales + 3, h_o, w_o) arrays, and the sigma table."""
        gray = to_gray(image, dtype="float32")
        xp = get_array_module(gray)
        n_oct = self._octave_count(gray.shape)
        n, k = self.n_scales, self.n_scales + 3
        delta0 = 1.0 / self.upsampling
        seed_sigma = self.sigma_min / self.upsampling           # input pixels
        sigmas = [[seed_sigma * 2 ** (o + s / n) for s in range(k)] for o in range(n_oct)]
        img = _upsample(gray, self.upsampling)
        pre = math.sqrt(max(seed_sigma ** 2 - self.sigma_in ** 2, 0.0)) / delta0
        if pre > 0:
            img = gaussian_blur(img, pre)
        octaves = []
        for o in range(n_oct):
            delta = delta0 * 2 ** o
            stack = xp.empty((k,) + img.shape, dtype=xp.float32)
            stack[0] = img
            for s in range(1, k):
                inc = math.sqrt(sigmas[o][s] ** 2 - sigmas[o][s - 1] ** 2) / delta
                stack[s] = gaussian_blur(stack[s - 1], inc)
            octaves.append(stack)
            if o + 1 < n_oct:
                img = stack[n][::2, ::2]
        return octaves, sigmas

    # -- detection -----------------------------------------------------------------------------
    def _detect_octave(self, D):
        """Refined extrema of one DoG octave: (s, y, x) float offsets-applied coordinates."""
        xp = get_array_module(D)
        S, h, w = D.shape
        thr = 0.8 * self.c_dog
        # 3x3x3 extrema over bands of rows (with a one-row halo) so that the dozen passes of
        # the max/min filters run in cache on the CPU; flat interior indices in raster order
        rows = h if device_of(D) == "cuda" else _DETECT_ROWS
        found = []
        for r0 in range(1, h - 1, rows):
            r1 = min(h - 1, r0 + rows)
            band = D[:, r0 - 1:r1 + 1]
            inner = band[1:-1, 1:-1, 1:-1]
            mx = _max3(band)
            mn = _max3(band, xp.minimum)
            cand = ((inner >= mx) & (inner > thr)) | ((inner <= mn) & (inner < -thr))
            cs, cy, cx = xp.nonzero(cand)
            found.append((cs * (h - 2) + cy + (r0 - 1)) * (w - 2) + cx)
        flat = xp.sort(xp.concatenate(found))
        s, rest = flat // ((h - 2) * (w - 2)) + 1, flat % ((h - 2) * (w - 2))
        y, x = rest // (w - 2) + 1, rest % (w - 2) + 1
        lim = xp.asarray([S - 2, h - 2, w - 2])
        pos = xp.stack([s, y, x], axis=1)
        for it in range(5):
            val, g, H = _derivatives(D, pos[:, 0], pos[:, 1], pos[:, 2])
            val, g, H = val.astype(xp.float64), g.astype(xp.float64), H.astype(xp.float64)
            off, ok = _solve3(H, g)
            pos, off, val, g, H = pos[ok], off[ok], val[ok], g[ok], H[ok]
            if it == 4:
                break
            move = (xp.where(off > 0.6, 1, 0) - xp.where(off < -0.6, 1, 0)).astype(pos.dtype)
            new = pos + move
            inside = ((new >= 1) & (new <= lim[None, :])).all(1)
            move = move * inside[:, None]
            if not bool((move != 0).any()):
                break
            pos = pos + move
        good = (xp.abs(off) < 0.6).all(1)
        val = val + 0.5 * (g * off).sum(1)
        good &= xp.abs(val) > self.c_dog
        hyy, hxx, hyx = H[:, 1, 1], H[:, 2, 2], H[:, 1, 2]
        det = hyy * hxx - hyx * hyx
        tr = hyy + hxx
        r = self.c_edge
        # tr^2 / det < (r + 1)^2 / r as written: a negative det (saddle) passes (scikit-image
        # passes it only when |tr^2 / det| <= the bound; keeping them gives more correct
        # matches under rotation and scaling, test_classic_sift)
        good &= (det != 0) & (tr * tr / xp.where(det != 0, det, 1) < (r + 1) ** 2 / r)
        return pos[good].astype(xp.float64) + off[good]

    # -- gradients at sample points ----------------------------------------------------------------
    @staticmethod
    def _gradient_at(flat_L, index, width):
        """Central differences of the flattened Gaussian stack at flat ``index`` (interior points):
        magnitude and angle ``arctan2(-dI/dy, dI/dx)`` (counter-clockwise, y down), float32."""
        xp = get_array_module(flat_L)
        gx = (flat_L[index + 1] - flat_L[index - 1]) / 2
        gy = (flat_L[index + width] - flat_L[index - width]) / 2
        return xp.sqrt(gx * gx + gy * gy), xp.arctan2(-gy, gx)

    # -- orientation -----------------------------------------------------------------------------
    def _orientations(self, L, scale_idx, yx, sig):
        """Dominant orientations; returns (keypoint index, angle) for every histogram peak.

        The square window of each keypoint is a (K, side, side) grid; its Gaussian weight is the
        outer product of a row and a column factor (zero outside the image / the 3 lambda sigma
        radius), and one ``bincount`` fills all K histograms.
        """
        xp = get_array_module(L)
        _, h, w = L.shape
        flat_L = L.reshape(-1)
        nb = self.n_bins
        idx_out, ang_out = [], []
        for ch, r in _chunks(sig, 3 * self.lambda_ori):
            K = int(ch.shape[0])
            d = xp.arange(-r, r + 1)
            lam = (self.lambda_ori * sig[ch])[:, None]
            factors = []
            for axis, size in ((0, h), (1, w)):
                c = xp.rint(yx[ch, axis]).astype(xp.int64)
                p = c[:, None] + d[None, :]                       # (K, side) pixel coordinate
                dist = p - yx[ch, axis][:, None]
                ok = (p >= 1) & (p < size - 1) & (xp.abs(dist) <= 3 * lam)
                factors.append((xp.exp(-dist * dist / (2 * lam * lam)) * ok, xp.clip(p, 1, size - 2)))
            (wy, py), (wx, px) = factors
            rows = (scale_idx[ch][:, None] * h + py) * w
            index = rows[:, :, None] + px[:, None, :]
            m, a = self._gradient_at(flat_L, index, w)
            wgt = (wy[:, :, None] * wx[:, None, :]) * m
            # a in [-pi, pi]: the integer modulo maps the nearest bin into 0 .. nb-1
            b = xp.rint(a * (nb / (2 * math.pi))).astype(xp.int64) % nb
            flat = (xp.arange(K)[:, None, None] * nb + b).reshape(-1)
            hist = xp.bincount(flat, weights=wgt.reshape(-1), minlength=K * nb).reshape(K, nb)
            for _ in range(6):
                hist = (xp.roll(hist, 1, axis=1) + hist + xp.roll(hist, -1, axis=1)) / 3
            left, right = xp.roll(hist, 1, axis=1), xp.roll(hist, -1, axis=1)
            peak = ((hist > left) & (hist > right)
                    & (hist >= self.c_max * hist.max(axis=1, keepdims=True)))
            kk, bb = xp.nonzero(peak)
            hl, hc, hr = left[kk, bb], hist[kk, bb], right[kk, bb]
            denom = hl - 2 * hc + hr
            frac = xp.where(denom != 0, 0.5 * (hl - hr) / xp.where(denom != 0, denom, 1), 0)
            theta = ((bb + frac) * (2 * math.pi / nb)) % (2 * math.pi)
            idx_out.append(ch[kk])
            ang_out.append(theta)
        if not idx_out:
            return xp.zeros(0, dtype=xp.int64), xp.zeros(0, dtype=xp.float64)
        return xp.concatenate(idx_out), xp.concatenate(ang_out)

    # -- descriptor -----------------------------------------------------------------------------
    def _descriptors(self, L, scale_idx, yx, sig, theta):
        """Descriptors of keypoints with angle ``theta`` (counter-clockwise, y up).

        Rotated coordinates ``u = (dx cos + dy sin) / sigma``, ``v = (-dx sin + dy cos) / sigma``
        (dy measured downwards, the frame turned by ``-theta``) are sums of a row and a column
        term, so the (K, side, side) window mask costs two broadcast additions; the pixels inside
        are gathered once and their 8 trilinear votes are scatter-added (float32) into a histogram
        padded by one cell on each side (votes beyond the 4 x 4 cells fall into the padding).
        """
        xp = get_array_module(L)
        _, h, w = L.shape
        flat_L = L.reshape(-1)
        nh, no = self.n_hist, self.n_ori
        half = self.lambda_descr * (nh + 1) / nh          # half-width in units of sigma
        K_all = int(sig.shape[0])
        out = xp.zeros((K_all, nh * nh * no), dtype=xp.float32)
        cell = 2 * self.lambda_descr / nh
        npad = nh + 2                                      # cells -1 .. nh
        f32 = xp.float32
        for ch, r in _chunks(sig, math.sqrt(2) * half):
            K = int(ch.shape[0])
            side = 2 * r + 1
            d = xp.arange(-r, r + 1)
            s = sig[ch][:, None]
            # frame turned by -theta in image coordinates (y down)
            c, sn = xp.cos(-theta[ch])[:, None], xp.sin(-theta[ch])[:, None]
            cy = xp.rint(yx[ch, 0]).astype(xp.int64)
            cx = xp.rint(yx[ch, 1]).astype(xp.int64)
            py = cy[:, None] + d[None, :]                  # (K, side)
            px = cx[:, None] + d[None, :]
            dy = py - yx[ch, 0][:, None]
            dx = px - yx[ch, 1][:, None]
            u_x, u_y = (dx * c / s).astype(f32), (dy * sn / s).astype(f32)
            v_x, v_y = (-dx * sn / s).astype(f32), (dy * c / s).astype(f32)
            row_ok = (py >= 1) & (py < h - 1)
            col_ok = (px >= 1) & (px < w - 1)
            u = u_y[:, :, None] + u_x[:, None, :]
            v = v_y[:, :, None] + v_x[:, None, :]
            valid = (xp.abs(u) < half) & (xp.abs(v) < half)
            valid &= row_ok[:, :, None]
            valid &= col_ok[:, None, :]
            sel = xp.flatnonzero(valid)                    # only the pixels inside the frame
            ky = sel // side                               # keypoint * side + row
            kk = ky // side
            kx = kk * side + (sel - ky * side)             # keypoint * side + column
            u = u.reshape(-1)[sel]
            v = v.reshape(-1)[sel]
            rows = (scale_idx[ch][:, None] * h + py) * w
            index = rows.reshape(-1)[ky] + px.reshape(-1)[kx]
            m, a = self._gradient_at(flat_L, index, w)
            # angle relative to the keypoint, in the turned frame: theta - a lies in (-pi, 3 pi),
            # so orientation bins run over [-no/2, 3 no/2]; they get an offset of no and the
            # 3 no wide axis is folded modulo no once the (small) histogram is summed
            a = theta[ch].astype(f32)[kk] - a
            wgt = m * xp.exp(-(u * u + v * v) / f32(2 * self.lambda_descr ** 2))
            # continuous bin coordinates: cell centres at integer positions 0 .. nh-1
            fv = v / f32(cell) + f32((nh - 1) / 2)
            fu = u / f32(cell) + f32((nh - 1) / 2)
            fo = a * f32(no / (2 * math.pi)) + f32(no)
            iv, iu, io = xp.floor(fv), xp.floor(fu), xp.floor(fo)
            tv, tu, to = fv - iv, fu - iu, fo - io
            nwide = 3 * no
            base = ((kk * npad + (iv.astype(xp.int64) + 1)) * npad + (iu.astype(xp.int64) + 1)) * nwide
            base += io.astype(xp.int64)
            by_angle = ((0, wgt * (1 - to)), (1, wgt * to))
            size = K * npad * npad * nwide                 # float32 votes, scatter-added
            hist = xp.zeros(size, dtype=f32)
            for bv in (0, 1):
                wv = tv if bv else 1 - tv
                for bu in (0, 1):
                    wvu = wv * (tu if bu else 1 - tu)
                    cell_base = base + (bv * npad + bu) * nwide
                    for bo, wo in by_angle:
                        scatter_add(hist, cell_base + bo if bo else cell_base, wvu * wo)
            hist = hist.reshape(K, npad, npad, 3, no).sum(axis=3, dtype=xp.float64)
            hist = hist[:, 1:-1, 1:-1].reshape(K, -1)
            hist /= xp.maximum(xp.linalg.norm(hist, axis=1, keepdims=True), 1e-12)
            hist = xp.minimum(hist, 0.2)
            hist /= xp.maximum(xp.linalg.norm(hist, axis=1, keepdims=True), 1e-12)
            out[ch] = hist.astype(xp.float32)
        return out

    # -- driver ---------------------------------------------------------------------------------
    def detect_and_extract(self, image):
        octaves, sigmas = self.scale_space(image)
        xp = get_array_module(octaves[0])
        n = self.n_scales
        delta0 = 1.0 / self.upsampling
        seed_sigma = self.sigma_min / self.upsampling
        kps, descs, octs = [], [], []
        for o, L in enumerate(octaves):
            delta = delta0 * 2 ** o
            D = L[1:] - L[:-1]
            pts = self._detect_octave(D)                       # (K, 3): s, y, x (octave pixels)
            if pts.shape[0] == 0:
                continue
            s_cont = pts[:, 0]
            sig_in = seed_sigma * 2.0 ** (o + s_cont / n)      # input pixels
            sig_o = sig_in / delta                             # octave pixels
            scale_idx = xp.clip(xp.rint(s_cont).astype(xp.int64), 0, n + 2)
            yx = pts[:, 1:]
            kidx, theta = self._orientations(L, scale_idx, yx, sig_o)
            if kidx.shape[0] == 0:
                continue
            desc = self._descriptors(L, scale_idx[kidx], yx[kidx], sig_o[kidx], theta)
            shift = (delta0 - 1) / 2                           # centre-aligned upsampling
            kp = xp.stack([yx[kidx, 0] * delta + shift, yx[kidx, 1] * delta + shift,
                           sig_in[kidx], theta], axis=1)
            kps.append(kp)
            descs.append(desc)
            octs.append(xp.full(kp.shape[0], o, dtype=xp.int64))
        if kps:
            keypoints, descriptors = xp.concatenate(kps), xp.concatenate(descs)
            self.octaves = xp.concatenate(octs)
        else:
            keypoints = xp.zeros((0, 4), dtype=xp.float64)
            descriptors = xp.zeros((0, self.n_hist ** 2 * self.n_ori), dtype=xp.float32)
            self.octaves = xp.zeros(0, dtype=xp.int64)
        self.keypoints, self.descriptors = keypoints, descriptors
        self.positions = keypoints[:, :2]
        self.sigmas = keypoints[:, 2]
        self.orientations = keypoints[:, 3]
        return keypoints, descriptors


def _two_nearest(a, b, dist):
    """For each row of ``a``: its nearest row of ``b`` (the smaller index on ties), that
    distance and the second-nearest one (inf when ``b`` has one row).  ``dist`` (n_a, n_b),
    possibly a transposed view, is changed and restored.

    The two candidates come from ``dist`` (the matrix-product expansion, whose rounding leaves
    ~1e-8 between equal descriptors) and their distances are recomputed from coordinate
    differences, so equal descriptors are exactly 0 apart, as scipy's ``cdist`` has them.
    """
    xp = get_array_module(a, b)
    n = a.shape[0]
    rows = xp.arange(n)
    if b.shape[0] == 1:
        nearest = xp.zeros(n, dtype=xp.int64)
        diff = a - b[0]
        return nearest, xp.sqrt((diff * diff).sum(1)), xp.full(n, xp.inf)
    # the two smallest of each row by two argmins (the first hidden under inf, then restored):
    # much faster than a partition of the whole matrix
    first = xp.argmin(dist, axis=1)
    hidden = dist[rows, first]
    dist[rows, first] = xp.inf
    cand = xp.stack([first, xp.argmin(dist, axis=1)], axis=1)        # (n, 2)
    dist[rows, first] = hidden
    diff = a[:, None, :] - b[cand]
    exact = xp.sqrt((diff * diff).sum(2))
    swap = (exact[:, 1] < exact[:, 0]) | ((exact[:, 1] == exact[:, 0]) & (cand[:, 1] < cand[:, 0]))
    first = swap.astype(xp.int64)
    return cand[rows, first], exact[rows, first], exact[rows, 1 - first]


def match_descriptors(d1, d2, max_ratio=0.8, cross_check=True, max_distance=None):
    """Nearest-neighbour matches ``(M, 2)`` int64 of (index in d1, index in d2), Euclidean.

    A match survives Lowe's ratio test ``dist_1st / dist_2nd < max_ratio`` (max_ratio=1 turns it
    off; a zero dist_2nd counts as machine epsilon, so exact duplicates match) and, with
    ``cross_check``, only when each descriptor is the other's nearest neighbour.  Distances of
    the nearest candidates are exact (from differences): equal descriptors are 0 apart.
    """
    for name, d in (("d1", d1), ("d2", d2)):
        if not is_array(d):
            raise ValueError(f"{name} must be a numpy or cupy array, got {type(d).__name__}")
        if d.dtype.kind not in "biuf":
            raise ValueError(f"{name} has unsupported dtype {d.dtype}; expected real numbers")
    xp = get_array_module(d1, d2)
    if d1.ndim != 2 or d2.ndim != 2 or d1.shape[1] != d2.shape[1]:
        raise ValueError(f"descriptors must be (N, D) arrays of equal D, got "
                         f"{tuple(d1.shape)} and {tuple(d2.shape)}")
    if not 0 < float(max_ratio) <= 1:
        raise ValueError(f"max_ratio must lie in (0, 1], got {max_ratio}")
    if d1.shape[0] == 0 or d2.shape[0] == 0:
        return xp.zeros((0, 2), dtype=xp.int64)
    a = d1.astype(xp.float64)
    b = d2.astype(xp.float64)
    check_finite(a, "d1")
    check_finite(b, "d2")
    dist = xp.sqrt(xp.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :], 0))
    i1 = xp.arange(a.shape[0])
    nn12, best, second = _two_nearest(a, b, dist)
    keep = xp.ones(a.shape[0], dtype=bool)
    if cross_check:
        nn21, _, _ = _two_nearest(b, a, dist.T)
        keep &= nn21[nn12] == i1
    if max_distance is not None:
        keep &= best < max_distance
    if max_ratio < 1 and b.shape[0] > 1:
        # a second neighbour as close as the first, both exact (distance 0), passes as in
        # scikit-image: 0 / 0 is taken as 0 / eps
        second = xp.where(second == 0, xp.finfo(xp.float64).eps, second)
        keep &= best < max_ratio * second
    idx = xp.nonzero(keep)[0]
    return xp.stack([idx, nn12[idx]], axis=1).astype(xp.int64)
