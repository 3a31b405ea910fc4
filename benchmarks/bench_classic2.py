"""Speed of classic II beside the reference libraries (median of repeats, ratio ours/reference).

    python benchmarks/bench_classic2.py [--repeats N] [--device cpu|cuda]

SIFT on scikit-image's camera vs skimage.feature.SIFT and OpenCV SIFT; seam carving of 50
columns off chelsea vs the PyPI `seam-carving` package; k-means vs scikit-learn's KMeans.
Ours and the references take turns in every repeat (the machine may be shared).
No assertions: it prints the figures.
"""
import argparse
import os
import sys
import warnings

import numpy as np
from skimage import data

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from classic import clustering, seam_carving  # noqa: E402
from classic.sift import SIFT  # noqa: E402
from tinygrad_cv.backend import synchronize, to_device  # noqa: E402
from benchmarks.timing import median_times  # noqa: E402


def bench(fns, repeats, device="cpu"):
    """Median seconds of each callable, timed in alternating blocks (benchmarks/timing.py)."""
    return median_times(fns, repeats, sync=lambda: synchronize(device))


def row(name, ours, refs):
    parts = [f"{name:<34s} ours {ours * 1e3:8.1f} ms"]
    for ref_name, ref in refs:
        parts.append(f"{ref_name} {ref * 1e3:8.1f} ms (ratio {ours / ref:5.2f})")
    print(" | ".join(parts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    r, dev = args.repeats, args.device

    # SIFT on camera (512 x 512)
    import cv2
    from skimage.feature import SIFT as SkSIFT
    cam = data.camera()
    cam_f = to_device(cam / 255.0, dev)
    ours, sk, cv = bench([lambda: SIFT().detect_and_extract(cam_f),
                          lambda: SkSIFT().detect_and_extract(cam / 255.0),
                          lambda: cv2.SIFT_create().detectAndCompute(cam, None)], r, dev)
    row("SIFT camera 512x512", ours, [("skimage", sk), ("opencv", cv)])

    # seam carving: 50 columns off chelsea (300 x 451 RGB)
    import seam_carving as sc_pkg
    chelsea = data.chelsea()
    h, w = chelsea.shape[:2]
    f = chelsea.astype(np.float32) / 255
    f_dev = to_device(f, dev)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, ref = bench([lambda: seam_carving.resize(f_dev, (h, w - 50)),
                           lambda: sc_pkg.resize(f, (w - 50, h))], r, dev)
    row("seam carving chelsea -50 cols", ours, [("seam-carving", ref)])

    # k-means: colours of china.jpg (subsampled), k = 8, n_init = 10
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_sample_image
    X = load_sample_image("china.jpg")[::4, ::4].reshape(-1, 3) / 255.0
    X_dev = to_device(X, dev)
    ours, ref = bench([lambda: clustering.kmeans(X_dev, 8, n_init=10, seed=0),
                       lambda: KMeans(8, n_init=10, random_state=0).fit(X)], r, dev)
    row(f"k-means k=8 n={len(X)}", ours, [("sklearn", ref)])

    # agglomerative average linkage, 2000 points
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.datasets import make_blobs
    P, _ = make_blobs(2000, centers=6, random_state=0)
    P_dev = to_device(P, dev)
    ours, ref = bench([lambda: clustering.agglomerative(P_dev, 6, "average"),
                       lambda: AgglomerativeClustering(6, linkage="average").fit(P)], r, dev)
    row("agglomerative average n=2000", ours, [("sklearn", ref)])


if __name__ == "__main__":
    main()
