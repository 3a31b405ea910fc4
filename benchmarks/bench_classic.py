"""Speed of classic/ against scikit-image, scikit-learn and OpenCV (no assertions).

    python benchmarks/bench_classic.py [--repeat 7] [--device cpu|cuda]

Times canny, hough_line, Harris, KNN 5-fold cross-validation and PCA on the 512x512
camera image and the 8x8 digits; prints the median of several runs (ms) and the ratio
ours / reference (< 1: ours is faster).
"""
import argparse
import os
import sys

import cv2
import numpy as np
from skimage import data, feature, transform
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SkPCA
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from classic import corners, edges, hough, knn, linalg  # noqa: E402
from tinygrad_cv.backend import synchronize, to_device  # noqa: E402
from benchmarks.timing import median_times  # noqa: E402


def median_ms(fn, repeat, device="cpu"):
    return 1e3 * median_times([fn], repeat, sync=lambda: synchronize(device))[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    r, dev = args.repeat, args.device

    camera = data.camera().astype(np.float64) / 255.0
    camera_u8 = data.camera()
    camera_edges = feature.canny(camera, 2.0)
    X, y = load_digits(return_X_y=True)
    cam, cam_edges = to_device(camera, dev), to_device(camera_edges, dev)
    Xd, yd = to_device(X, dev), to_device(y, dev)
    cv_float = camera.astype(np.float32)

    def cv_harris():
        return cv2.cornerHarris(cv_float, 3, 3, 0.05)

    def sk_knn_cv():
        folds = KFold(5, shuffle=True, random_state=0)
        return cross_val_score(KNeighborsClassifier(1, algorithm="brute"), X, y, cv=folds)

    def cv_knn_cv():
        Xf = X.astype(np.float32)
        for held in np.array_split(np.random.default_rng(0).permutation(len(X)), 5):
            train = np.setdiff1d(np.arange(len(X)), held)
            matches = cv2.BFMatcher(cv2.NORM_L2).match(Xf[held], Xf[train])
            nearest = np.array([m.trainIdx for m in matches])
            (y[train][nearest] == y[held]).mean()

    rows = [
        ("canny (camera, sigma 1)", lambda: edges.canny(cam, 1.0),
         "skimage", lambda: feature.canny(camera, 1.0),
         "cv2.Canny", lambda: cv2.Canny(camera_u8, 25, 51)),
        ("hough_line (camera edges)", lambda: hough.hough_line(cam_edges),
         "skimage", lambda: transform.hough_line(camera_edges),
         "cv2.HoughLines", lambda: cv2.HoughLines(camera_edges.astype(np.uint8), 1, np.pi / 180, 100)),
        ("harris (camera)", lambda: corners.harris_response(cam),
         "skimage", lambda: feature.corner_harris(camera),
         "cv2.cornerHarris", cv_harris),
        ("KNN 5-fold CV, k=1 (digits)", lambda: knn.cross_validate_k(Xd, yd, [1], folds=5),
         "sklearn", sk_knn_cv, "cv2.BFMatcher", cv_knn_cv),
        ("PCA 20 comps (digits)", lambda: linalg.PCA(20).fit(Xd).transform(Xd),
         "sklearn", lambda: SkPCA(20, svd_solver="full").fit(X).transform(X), None, None),
    ]
    print(f"device {dev}, median of {r} runs, ratio = ours / reference")
    header = f"{'task':30s} {'ours ms':>9s} {'ref':>9s} {'ref ms':>8s} {'ratio':>6s} {'opencv':>17s} {'cv ms':>7s} {'ratio':>6s}"
    print(header)
    print("-" * len(header))
    for name, ours, ref_name, ref, cv_name, cv in rows:
        t_ours = median_ms(ours, r, dev)
        t_ref = median_ms(ref, r)
        line = f"{name:30s} {t_ours:9.2f} {ref_name:>9s} {t_ref:8.2f} {t_ours / t_ref:6.2f}"
        if cv is not None:
            t_cv = median_ms(cv, r)
            line += f" {cv_name:>17s} {t_cv:7.2f} {t_ours / t_cv:6.1f}"
        print(line)


if __name__ == "__main__":
    main()
