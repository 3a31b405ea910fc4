"""Clustering and image segmentation: k-means, agglomerative clustering, mean-shift.

Points are an (n, d) float array X on either backend; results come back on the same device.

* k-means (Lloyd): assign each point to its nearest centre, move each centre to the mean of
  its points, until the centres move less than ``tol * mean(var(X))`` (squared shift, as in
  scikit-learn).  Initialisation by greedy k-means++ (each new centre sampled with probability
  proportional to D(x)^2, the best of ``2 + log k`` candidates kept); the best of ``n_init``
  runs by inertia ``sum_i ||x_i - c_{label_i}||^2``.
* agglomerative: start with singletons, merge the two closest clusters until ``n_clusters``.
  Single linkage ``d(A, B) = min ||a - b||`` is the minimum spanning tree (Prim's algorithm on
  the dense distance matrix) with its ``n_clusters - 1`` longest edges cut.  Complete
  (``max``) and average (``mean``) linkage use the nearest-neighbour chain on one (n, n) matrix
  updated by Lance-Williams::

      complete: d(k, i+j) = max(d(k, i), d(k, j))
      average:  d(k, i+j) = (n_i d(k, i) + n_j d(k, j)) / (n_i + n_j)

* mean-shift: every point is a seed moved by the notes' update (kernel g on ``|x - x_i|^2/h^2``)::

      x <- sum_i x_i g(|(x - x_i)/h|^2) / sum_i g(|(x - x_i)/h|^2)

  with the flat kernel (g = 1 inside radius h) or the Gaussian one (g = exp(-t/2)), until it
  moves less than ``1e-3 h``; converged centres are merged greedily (the centre with the most
  points within h first, suppressing centres within h of it) and each point gets its nearest
  centre, as scikit-learn's ``MeanShift`` does.
"""
from __future__ import annotations

import math

from tinygrad_cv.backend import get_array_module

from ._image import as_float_image
from ._validate import check_distance_safe, check_positive

__all__ = ["kmeans", "agglomerative", "mean_shift", "estimate_bandwidth", "segment_image",
           "pairwise_distances"]

_BLOCK = 4_000_000      # elements of one (rows, n) distance block


def _as_points(X, name="X"):
    xp = get_array_module(X)
    X = xp.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (n, d) array, got shape {tuple(X.shape)}")
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {X.dtype}")
    X = X.astype(xp.float64)
    check_distance_safe(X, name)
    return X


def _sq_dists(X, C):
    """||x - c||^2 for all pairs, (n, k), via the expansion (clipped at 0)."""
    xp = get_array_module(X)
    d = (X * X).sum(1)[:, None] - 2.0 * (X @ C.T) + (C * C).sum(1)[None, :]
    return xp.maximum(d, 0.0)


def _sq_dists_exact(A, B, out=None, tmp=None):
    """``||a - b||^2`` for all pairs, (n, m), from coordinate differences summed feature by
    feature (scipy's ``pdist`` order): one rounding per operation and no BLAS, so the result
    does not depend on a GEMM kernel, and a point's distance to itself is exactly 0 (the
    expansion ``|a|^2 - 2 a.b + |b|^2`` leaves rounding noise of order eps |a|^2 there).
    ``out``/``tmp``: optional (n, m) float64 buffers."""
    xp = get_array_module(A, B)
    shape = (A.shape[0], B.shape[0])
    out = xp.empty(shape, dtype=xp.float64) if out is None else out
    tmp = xp.empty(shape, dtype=xp.float64) if tmp is None else tmp
    for k in range(A.shape[1]):
        target = out if k == 0 else tmp
        xp.subtract(A[:, k, None], B[None, :, k], out=target)
        target *= target
        if k:
            out += tmp
    return out


def _row_blocks(n_rows, n_cols):
    """Row ranges ``(start, stop)`` whose (rows, n_cols) blocks hold about ``_BLOCK`` values."""
    step = max(1, _BLOCK // max(n_cols, 1))
    return [(s, min(n_rows, s + step)) for s in range(0, n_rows, step)]


def pairwise_distances(X, chunk=256):
    """Exact Euclidean distances (n, n): ``sqrt(sum_k (x_ik - x_jk)^2)`` from differences,
    summed feature by feature (scipy's ``pdist`` order) over blocks of ``chunk`` rows."""
    X = _as_points(X)
    xp = get_array_module(X)
    n = X.shape[0]
    D = xp.empty((n, n), dtype=xp.float64)
    tmp = xp.empty((min(chunk, n), n), dtype=xp.float64)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        acc = _sq_dists_exact(X[s:e], X, out=D[s:e], tmp=tmp[: e - s])
        xp.sqrt(acc, out=acc)
    return D


# ---- k-means ------------------------------------------------------------------------------

def _kmeans_plusplus(X, k, rng, xp):
    """Greedy k-means++ (Arthur & Vassilvitskii), the variant scikit-learn uses."""
    n = X.shape[0]
    trials = 2 + int(math.log(k))
    centres = xp.empty((k, X.shape[1]), dtype=X.dtype)
    first = rng.integers(0, n, size=1)
    centres[0] = X[first[0]]
    closest = _sq_dists(X, centres[:1])[:, 0]
    pot = closest.sum()
    for c in range(1, k):
        r = rng.random(trials) * pot
        cand = xp.searchsorted(xp.cumsum(closest), r)
        cand = xp.minimum(cand, n - 1)
        d_cand = xp.minimum(closest[None, :], _sq_dists(X[cand], X).reshape(trials, n))
        pots = d_cand.sum(1)
        best = xp.argmin(pots)
        centres[c] = X[cand[best]]
        closest = d_cand[best]
        pot = pots[best]
    return centres


def _lloyd(X, centres, max_iter, tol, xp):
    k = centres.shape[0]
    x2 = (X * X).sum(1)
    for _ in range(max_iter):
        d = xp.maximum(x2[:, None] - 2.0 * (X @ centres.T) + (centres * centres).sum(1)[None, :], 0)
        labels = xp.argmin(d, axis=1)
        onehot = (labels[:, None] == xp.arange(k)[None, :]).astype(X.dtype)
        counts = onehot.sum(0)
        sums = onehot.T @ X
        new = xp.where(counts[:, None] > 0, sums / xp.maximum(counts, 1)[:, None], centres)
        empty = counts == 0
        if bool(empty.any()):       # relocate empty clusters to the farthest points
            far = xp.argsort(-d[xp.arange(X.shape[0]), labels])[: int(empty.sum())]
            new[xp.nonzero(empty)[0]] = X[far]
        shift = ((new - centres) ** 2).sum()
        centres = new
        if float(shift) <= tol:
            break
    d = xp.maximum(x2[:, None] - 2.0 * (X @ centres.T) + (centres * centres).sum(1)[None, :], 0)
    labels = xp.argmin(d, axis=1)
    inertia = d[xp.arange(X.shape[0]), labels].sum()
    return centres, labels, inertia


def kmeans(X, k, n_init=10, max_iter=300, seed=None, tol=1e-4):
    """k-means with k-means++ initialisation: ``(centers (k, d), labels (n,), inertia)``.

    ``n_init`` restarts from different seeds; the run of least inertia wins.  ``tol`` is relative
    to the mean per-feature variance of X (scikit-learn's convention).
    """
    X = _as_points(X)
    xp = get_array_module(X)
    n = X.shape[0]
    k = int(k)
    if k < 1 or k > n:
        raise ValueError(f"k must be between 1 and the number of points ({n}), got {k}")
    if int(n_init) < 1 or int(max_iter) < 1:
        raise ValueError("n_init and max_iter must be >= 1")
    tol = check_positive(tol, "tol", allow_zero=True)
    abs_tol = float(tol) * float(X.var(axis=0).mean())
    rng = xp.random.default_rng(seed)
    best = None
    for _ in range(int(n_init)):
        centres = _kmeans_plusplus(X, k, rng, xp)
        c, lab, inertia = _lloyd(X, centres, int(max_iter), abs_tol, xp)
        if best is None or float(inertia) < float(best[2]):
            best = (c, lab, inertia)
    return best


# ---- agglomerative ------------------------------------------------------------------------

def _roots(parent, xp):
    """Follow parent pointers (a forest) to the roots by pointer jumping: a tree of depth d
    needs ceil(log2 d) + 1 passes, so n.bit_length() + 1 always suffice."""
    for _ in range(int(parent.shape[0]).bit_length() + 1):
        nxt = parent[parent]
        if bool((nxt == parent).all()):
            return parent
        parent = nxt
    raise RuntimeError("parent pointers contain a cycle")     # a bug, never the data


def _compact(labels, xp):
    _, inv = xp.unique(labels, return_inverse=True)
    return inv.reshape(-1)


def _single_linkage(D, n_clusters, xp):
    """Prim's MST on the dense matrix, then cut the ``n_clusters - 1`` longest edges."""
    n = D.shape[0]
    in_tree = xp.zeros(n, dtype=bool)
    in_tree[0] = True
    best = D[0].copy()
    best_from = xp.zeros(n, dtype=xp.int64)
    parent = xp.arange(n)
    weight = xp.full(n, -xp.inf)
    order = []
    for _ in range(n - 1):
        cand = xp.where(in_tree, xp.inf, best)
        v = int(xp.argmin(cand))
        in_tree[v] = True
        parent[v] = best_from[v]
        weight[v] = best[v]
        order.append(v)
        closer = D[v] < best
        best = xp.where(closer, D[v], best)
        best_from = xp.where(closer, v, best_from)
    if n_clusters > 1:
        cut = xp.argsort(-weight)[: n_clusters - 1]       # the longest edges (root has -inf)
        parent[cut] = cut
    return _compact(_roots(parent, xp), xp)


def _nn_chain(D, linkage, xp):
    """Nearest-neighbour chain: merges as (slot_a, slot_b, height) in discovery order.

    Slots are reused: the merged cluster lives in slot_b.  D is modified in place.
    """
    n = D.shape[0]
    D[xp.arange(n), xp.arange(n)] = xp.inf
    dead = xp.zeros(n, dtype=D.dtype)  # +inf on merged-away slots, added to each row read
    row = xp.empty(n, dtype=D.dtype)    # (one strided column write per merge instead of two)
    size = [1] * n
    alive = [True] * n
    active = n
    start = 0
    chain = []
    merges = []
    # every cluster (n leaves + n - 1 merges) is pushed once and every merge pops two, so the
    # chain needs at most 3n steps (4n leaves room for ties broken by rounding)
    for _ in range(4 * n):
        if active <= 1:
            break
        if not chain:                   # any active cluster can start a chain
            while not alive[start]:
                start += 1
            chain.append(start)
        a = chain[-1]
        xp.add(D[a], dead, out=row)
        b = int(xp.argmin(row))
        if len(chain) > 1 and float(row[chain[-2]]) <= float(row[b]):
            b = chain[-2]
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            h = float(row[b])
            if linkage == "complete":
                new = xp.maximum(D[a], D[b])
            else:
                new = (size[a] * D[a] + size[b] * D[b]) / (size[a] + size[b])
            D[b, :] = new
            D[:, b] = new
            D[b, b] = xp.inf
            dead[a] = xp.inf
            merges.append((a, b, h))
            size[b] += size[a]
            alive[a] = False
            active -= 1
        else:
            chain.append(b)
    else:
        if active > 1:
            raise RuntimeError("nearest-neighbour chain did not finish")   # a bug, never the data
    return merges


def agglomerative(X, n_clusters=2, linkage="single"):
    """Agglomerative clustering of X (n, d), Euclidean distances: labels (n,) in 0..n_clusters-1.

    ``linkage``: 'single' (minimum spanning tree), 'complete' or 'average' (nearest-neighbour
    chain with Lance-Williams updates); memory O(n^2).
    """
    X = _as_points(X)
    xp = get_array_module(X)
    n = X.shape[0]
    n_clusters = int(n_clusters)
    if n_clusters < 1 or n_clusters > n:
        raise ValueError(f"n_clusters must be between 1 and the number of points ({n}), got {n_clusters}")
    if linkage not in ("single", "complete", "average"):
        raise ValueError(f"linkage must be 'single', 'complete' or 'average', got {linkage!r}")
    D = pairwise_distances(X)
    if linkage == "single":
        return _single_linkage(D, n_clusters, xp)
    merges = _nn_chain(D, linkage, xp)
    # Dendrogram: sort merges by height (stable: a child always precedes its parent), then
    # apply the first n - n_clusters of them as parent pointers.
    order = sorted(range(len(merges)), key=lambda m: merges[m][2])
    slot_id = list(range(n))            # current cluster id held by each slot
    created = {}
    for m in range(len(merges)):        # ids in discovery order: merge m creates id n + m
        a, b, _ = merges[m]
        created[m] = (slot_id[a], slot_id[b])
        slot_id[b] = n + m
    parent = list(range(2 * n - 1))
    for m in order[: n - n_clusters]:
        ia, ib = created[m]
        parent[ia] = parent[ib] = n + m
    p = xp.asarray(parent, dtype=xp.int64)
    return _compact(_roots(p, xp)[:n], xp)


# ---- mean-shift -----------------------------------------------------------------------------

def mean_shift(X, bandwidth, kernel="flat", max_iter=300, seeds=None):
    """Mean-shift clustering: ``(centers (m, d), labels (n,))``.

    Every point (or each row of ``seeds``) climbs the kernel density estimate with the notes'
    update until it moves less than ``1e-3 * bandwidth`` or ``max_iter`` updates are done;
    converged centres within ``bandwidth`` of a denser one are merged; points take the nearest
    centre.  Distances are exact (:func:`_sq_dists_exact`), so a point is always within any
    bandwidth of itself; every loop is bounded (``max_iter`` updates, one merge pass per seed).
    """
    X = _as_points(X)
    xp = get_array_module(X)
    h = check_positive(bandwidth, "bandwidth")
    if kernel not in ("flat", "gaussian"):
        raise ValueError(f"kernel must be 'flat' or 'gaussian', got {kernel!r}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    h2 = h * h
    S = X.copy() if seeds is None else _as_points(seeds, "seeds").copy()
    if S.shape[1] != X.shape[1]:
        raise ValueError(f"seeds have {S.shape[1]} features, X has {X.shape[1]}")
    n = X.shape[0]
    moving = xp.ones(S.shape[0], dtype=bool)
    stop = 1e-3 * h
    for _ in range(int(max_iter)):
        idx = xp.nonzero(moving)[0]
        if idx.size == 0:
            break
        for lo, hi in _row_blocks(int(idx.size), n):
            rows = idx[lo:hi]
            d2 = _sq_dists_exact(S[rows], X)
            if kernel == "flat":
                w = (d2 <= h2).astype(X.dtype)
            else:
                w = xp.exp(-0.5 * d2 / h2)
            tot = w.sum(1)
            ok = tot > 0
            new = xp.where(ok[:, None], (w @ X) / xp.maximum(tot, 1e-300)[:, None], S[rows])
            shift = xp.sqrt(((new - S[rows]) ** 2).sum(1))
            S[rows] = new
            moving[rows] = ok & (shift > stop)
    # intensity: points within the bandwidth of each converged centre
    within = xp.concatenate([(_sq_dists_exact(S[lo:hi], X) <= h2).sum(1)
                             for lo, hi in _row_blocks(S.shape[0], n)])
    keep = within > 0
    S, within = S[keep], within[keep]
    if S.shape[0] == 0:
        raise ValueError("no seed has any point within the bandwidth; increase bandwidth")
    # order by intensity (desc), then by coordinates (desc), like scikit-learn
    keys = [S[:, j] for j in range(S.shape[1] - 1, -1, -1)] + [within]
    order = xp.lexsort(xp.stack(keys))[::-1]
    S = S[order]
    # greedy suppression: each pass keeps the densest remaining centre and drops it and every
    # centre within h of it, so at most one pass per centre
    alive = xp.ones(S.shape[0], dtype=bool)
    centres = []
    for _ in range(S.shape[0]):
        rest = xp.nonzero(alive)[0]
        if rest.size == 0:
            break
        i = int(rest[0])
        centres.append(i)
        alive &= _sq_dists_exact(S[i:i + 1], S)[0] > h2
        alive[i] = False
    C = S[xp.asarray(centres)]
    labels = xp.concatenate([xp.argmin(_sq_dists_exact(X[lo:hi], C), axis=1)
                             for lo, hi in _row_blocks(n, C.shape[0])])
    return C, labels


def estimate_bandwidth(X, quantile=0.3, n_samples=None, seed=None):
    """A mean-shift bandwidth from the data, as scikit-learn's ``estimate_bandwidth``: the mean
    over the points of the distance to their k-th nearest neighbour, the point itself counting
    as the first, with ``k = max(1, int(n * quantile))``::

        h = (1 / n) sum_i ||x_i - x_(k)(i)||

    on all points, or on ``n_samples`` of them drawn at random (``seed``) when given.
    Distances are exact; memory is bounded by working over blocks of rows.
    """
    X = _as_points(X)
    xp = get_array_module(X)
    q = float(quantile)
    if not 0.0 < q <= 1.0:
        raise ValueError(f"quantile must lie in (0, 1], got {quantile}")
    if n_samples is not None:
        m = int(n_samples)
        if m < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        if m < X.shape[0]:
            rng = xp.random.default_rng(seed)
            X = X[xp.argsort(rng.random(X.shape[0]))[:m]]
    n = X.shape[0]
    k = max(1, int(n * q))
    total = 0.0
    for lo, hi in _row_blocks(n, n):
        d2 = _sq_dists_exact(X[lo:hi], X)
        total += float(xp.sqrt(xp.partition(d2, k - 1, axis=1)[:, k - 1]).sum())
    return total / n


# ---- segmentation ---------------------------------------------------------------------------

def _features(img, features, spatial_weight):
    xp = get_array_module(img)
    h, w = img.shape[:2]
    col = img.reshape(h * w, -1)
    if features == "color":
        return col
    if features != "color+position":
        raise ValueError(f"features must be 'color' or 'color+position', got {features!r}")
    rr, cc = xp.meshgrid(xp.arange(h) / max(h - 1, 1), xp.arange(w) / max(w - 1, 1), indexing="ij")
    pos = xp.stack([rr.reshape(-1), cc.reshape(-1)], axis=1) * spatial_weight
    return xp.concatenate([col.astype(xp.float64), pos], axis=1)


def segment_image(image, k=4, method="kmeans", features="color", bandwidth=None,
                  spatial_weight=1.0, max_samples=2000, seed=0, linkage="average"):
    """Segment ``image`` (H, W[, C]) by clustering per-pixel features: label image (H, W) int.

    Features are the colour (values in [0, 1]) or colour plus the position (row, col scaled to
    [0, 1] times ``spatial_weight``).  ``method``: 'kmeans' (on every pixel, k clusters),
    'meanshift' (``bandwidth``; None estimates it with :func:`estimate_bandwidth`, quantile 0.3,
    on the sampled pixels) or 'agglomerative' (``linkage``, k clusters); the last two cluster a
    random subset of ``max_samples`` pixels (their cost is quadratic) and give every pixel the
    label of the nearest cluster mean.
    """
    img = as_float_image(image)
    xp = get_array_module(img)
    h, w = img.shape[:2]
    F = _features(img, features, float(spatial_weight)).astype(xp.float64)
    n = F.shape[0]
    if method == "kmeans":
        _, labels, _ = kmeans(F, k, n_init=3, seed=seed)
        return labels.reshape(h, w)
    if method not in ("meanshift", "agglomerative"):
        raise ValueError(f"method must be 'kmeans', 'meanshift' or 'agglomerative', got {method!r}")
    rng = xp.random.default_rng(seed)
    # a random subset via argsort of uniforms: CuPy's Generator has no permutation()
    sub = F if n <= max_samples else F[xp.argsort(rng.random(n))[:max_samples]]
    if method == "meanshift":
        if bandwidth is None:
            bandwidth = estimate_bandwidth(sub, quantile=0.3)
            if bandwidth <= 0:
                raise ValueError("cannot estimate a mean-shift bandwidth: most sampled pixels "
                                 "are identical; give a bandwidth")
        centres, _ = mean_shift(sub, bandwidth)
    else:
        if int(k) > sub.shape[0]:
            raise ValueError(f"k must be between 1 and the number of points ({sub.shape[0]}), got {k}")
        lab = agglomerative(sub, int(k), linkage)
        m = int(lab.max()) + 1
        onehot = (lab[:, None] == xp.arange(m)[None, :]).astype(xp.float64)
        centres = (onehot.T @ sub) / onehot.sum(0)[:, None]
    out = xp.empty(n, dtype=xp.int64)
    for lo, hi in _row_blocks(n, centres.shape[0]):
        out[lo:hi] = xp.argmin(_sq_dists_exact(F[lo:hi], centres), axis=1)
    return out.reshape(h, w)
