"""k-nearest-neighbour classification (notes 9.1 and the KNN image-classification section).

Distances between every test row a_i and training row b_j, without Python loops over rows:

    L2:  d_ij = sqrt(max(||a_i||^2 + ||b_j||^2 - 2 a_i . b_j, 0))   (one matrix product)
    L1:  d_ij = sum_f |a_if - b_jf|                                  (broadcast, in row blocks)

A test row gets the most frequent label among its k nearest training rows (ties in the
vote go to the smallest label; among equal distances at the k-th place any row may be
chosen).
"""
from __future__ import annotations

from tinygrad_cv.backend import get_array_module, is_array

from ._validate import as_float_array

# bytes of the (rows, n_train, features) temporary of one L1 block
_L1_BLOCK_BYTES = 64 * 2 ** 20


def pairwise_distances(a, b, metric="l2"):
    """(n_a, n_b) matrix of L2 or L1 distances between the rows of ``a`` and ``b``."""
    xp = get_array_module(a, b)
    if metric == "l2":
        sq = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
        return xp.sqrt(xp.maximum(sq, 0.0))
    if metric == "l1":
        rows = max(1, _L1_BLOCK_BYTES // max(1, b.shape[0] * b.shape[1] * a.itemsize))
        out = xp.empty((a.shape[0], b.shape[0]), dtype=a.dtype)
        for start in range(0, a.shape[0], rows):
            block = a[start:start + rows]
            out[start:start + rows] = xp.abs(block[:, None, :] - b[None, :, :]).sum(axis=2)
        return out
    raise ValueError(f"unknown metric {metric!r}; expected 'l2' or 'l1'")


def _flatten(x, name):
    x = as_float_array(x, name, ndim=None, min_rows=1)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (N, ...) with features, got {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1)


def _check_labels(y):
    if not is_array(y):
        raise ValueError(f"y must be a numpy or cupy array of labels, got {type(y).__name__}")


def k_nearest(distances, k):
    """Column indices (rows, k) of the k smallest entries of each row, nearest first
    (a partial sort: argmin for k = 1, else argpartition then a sort of the k)."""
    xp = get_array_module(distances)
    if k == 1:
        return distances.argmin(axis=1)[:, None]
    part = xp.argpartition(distances, k - 1, axis=1)[:, :k]
    order = xp.argsort(xp.take_along_axis(distances, part, axis=1), axis=1, kind="stable")
    return xp.take_along_axis(part, order, axis=1)


def _vote(neighbour_labels, n_classes):
    """Majority label of each row of ``neighbour_labels`` (rows of class indices); ties go
    to the smallest class index."""
    xp = get_array_module(neighbour_labels)
    rows = neighbour_labels.shape[0]
    counts = xp.zeros((rows, n_classes), dtype=xp.int64)
    row_index = xp.repeat(xp.arange(rows), neighbour_labels.shape[1])
    flat = row_index * n_classes + neighbour_labels.ravel()
    counts = xp.bincount(flat, minlength=rows * n_classes).reshape(rows, n_classes)
    return counts.argmax(axis=1)


class KNearestNeighbor:
    """k-NN classifier: ``train(X, y)`` (alias ``fit``) stores the data, ``predict(X, k)``
    votes among the k nearest training rows.  X: (N, ...) flattened to (N, D); y: (N,)."""

    def __init__(self, metric="l2"):
        if metric not in ("l2", "l1"):
            raise ValueError(f"unknown metric {metric!r}; expected 'l2' or 'l1'")
        self.metric = metric
        self.X_train = None
        self.y_train = None

    def train(self, X, y):
        X = _flatten(X, "X")
        _check_labels(y)
        xp = get_array_module(X, y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have shape ({X.shape[0]},), got {tuple(y.shape)}")
        self.classes_, self._y_index = xp.unique(y, return_inverse=True)
        self._y_index = self._y_index.reshape(-1)
        self.X_train, self.y_train = X, y
        return self

    fit = train

    def compute_distances(self, X):
        """(n_test, n_train) distances from each row of ``X`` to each training row."""
        self._check_trained()
        X = _flatten(X, "X")
        if X.shape[1] != self.X_train.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features, the training data {self.X_train.shape[1]}")
        return pairwise_distances(X.astype(self.X_train.dtype), self.X_train, self.metric)

    def neighbours(self, X, k):
        """Indices (n_test, k) of the k nearest training rows, nearest first."""
        k = self._check_k(k)
        distances = self.compute_distances(X)
        return k_nearest(distances, k)

    def predict(self, X, k=1):
        """Predicted labels (n_test,) by majority vote of the k nearest training rows."""
        nearest = self.neighbours(X, k)
        votes = _vote(self._y_index[nearest], int(self.classes_.shape[0]))
        return self.classes_[votes]

    def _check_trained(self):
        if self.X_train is None:
            raise ValueError("the classifier is not trained: call train(X, y) first")

    def _check_k(self, k):
        self._check_trained()
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if k > self.X_train.shape[0]:
            raise ValueError(f"k={k} exceeds the {self.X_train.shape[0]} training rows")
        return k


def fold_indices(n, folds=5, shuffle=True, seed=0, like=None):
    """Split range(n) into ``folds`` parts (the first n % folds one longer), after a seeded
    shuffle when ``shuffle``.  Returns a list of index arrays."""
    xp = get_array_module(like) if like is not None else get_array_module()
    if not isinstance(folds, int) or folds < 2 or folds > n:
        raise ValueError(f"folds must be an int in [2, {n}], got {folds!r}")
    order = xp.arange(n)
    if shuffle:
        order = xp.argsort(xp.random.default_rng(seed).random(n), kind="stable")
    sizes = [n // folds + (1 if i < n % folds else 0) for i in range(folds)]
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    return [order[bounds[i]:bounds[i + 1]] for i in range(folds)]


def cross_validate_k(X, y, ks, folds=5, metric="l2", shuffle=True, seed=0):
    """k-fold cross-validation of the neighbour count (the notes: 5 folds).

    Each fold is held out once while the others train; one distance matrix and one sort
    per fold serve every k.  Returns ``(best_k, accuracies)`` with accuracies (len(ks),
    folds) and best_k the k of highest mean accuracy (the smallest such k on ties).
    """
    X = _flatten(X, "X")
    _check_labels(y)
    xp = get_array_module(X, y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},), got {tuple(y.shape)}")
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be a non-empty list of positive ints, got {ks}")
    parts = fold_indices(X.shape[0], folds, shuffle, seed, like=X)
    classes, y_index = xp.unique(y, return_inverse=True)
    y_index = y_index.reshape(-1)
    n_classes = int(classes.shape[0])
    accuracies = xp.zeros((len(ks), folds), dtype=xp.float64)
    for f, held_out in enumerate(parts):
        train = xp.concatenate([p for i, p in enumerate(parts) if i != f])
        if max(ks) > train.shape[0]:
            raise ValueError(f"k={max(ks)} exceeds the {train.shape[0]} training rows of a fold")
        distances = pairwise_distances(X[held_out], X[train], metric)
        order = k_nearest(distances, max(ks))
        neighbour_labels = y_index[train][order]
        truth = y_index[held_out]
        for i, k in enumerate(ks):
            predicted = _vote(neighbour_labels[:, :k], n_classes)
            accuracies[i, f] = (predicted == truth).mean()
    mean = accuracies.mean(axis=1)
    best_k = ks[int(mean.argmax())]
    return best_k, accuracies
