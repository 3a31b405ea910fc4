"""Classic-vision sub-commands: canny, hough, harris, sift-match, seam-carve, segment, stitch.

Each reads image files (Pillow), runs the ``classic`` algorithm on the chosen device and writes
an image that draws the result.  One convention for all: inputs first, the output image last
(positional); its extension picks the format (any Pillow writes: .png, .jpg, .tif, ...).
Argument values that cannot work (thresholds out of order, a sigma larger than the image, a
seam-carve without a target size) are usage errors (exit 2) found before any work; problems
with the files or the data are one line (exit 1).  Pillow is imported inside the commands.
"""
from __future__ import annotations

import math
import os

from tinygrad_cv.backend import get_array_module, get_default_device, to_numpy
from tinygrad_cv.cli import CLIError, UsageError
from tinygrad_cv.cli.common import (DEVICE_NAMES, encode_image, image_output,
                                    nonnegative_float, nonnegative_int, pil_modules,
                                    positive_float, positive_int, ratio, read_image, to_pil,
                                    write_file)

INLIER_COLOUR = (0, 255, 0)
OUTLIER_COLOUR = (255, 0, 0)


def _save(*pairs):
    """Write each ``(PIL image, path)``; all are encoded before the first is written, so an
    image its format refuses leaves every earlier output in place."""
    encoded = [(encode_image(img, path), path) for img, path in pairs]
    for data, path in encoded:
        write_file(path, data)
        print(f"wrote {path}")


def _gray(rgb):
    from classic._image import to_gray
    return to_gray(rgb)


def _run(fn, *args, **kw):
    """Run an algorithm, reporting its ValueError (bad data) or MemoryError as one CLI line."""
    try:
        return fn(*args, **kw)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except MemoryError:
        raise CLIError("out of memory: the image is too large for this command "
                       "(try a smaller image)") from None


def _progress(total, desc):
    """A tqdm bar on a terminal; nothing when stderr is redirected (disable=None)."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="seam", leave=False, disable=None)


def _distinct_output(args, inputs):
    """The outputs (``output``, and ``seams`` where the command has it) must not overwrite
    an input or each other."""
    outputs = [args.output] + ([args.seams] if getattr(args, "seams", None) else [])
    taken = {os.path.realpath(path): "an input" for path in inputs}
    for out in outputs:
        real = os.path.realpath(out)
        if real in taken:
            raise UsageError(f"the output {out!r} is also {taken[real]}: give another path")
        taken[real] = "an output"


def _check_sigma(sigma, image, name="--sigma"):
    """A Gaussian wider than the image only smooths it flat (and its kernel can exhaust the
    memory): ``classic.filters.check_sigma_fits``'s rule, as a usage error."""
    from classic.filters import check_sigma_fits
    try:
        check_sigma_fits(sigma, image.shape, name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# ---- commands -----------------------------------------------------------------------------

def cmd_canny(args):
    from classic.edges import canny
    low = 0.1 if args.low is None else args.low
    high = 0.2 if args.high is None else args.high
    if low > high:
        raise UsageError(f"the low threshold ({low:g}) must not exceed the high one ({high:g})")
    _distinct_output(args, [args.image])
    img = read_image(args.image, args.device, gray=True)
    _check_sigma(args.sigma, img)
    edges = _run(canny, img, sigma=args.sigma, low_threshold=low, high_threshold=high)
    print(f"{int(to_numpy(edges).sum())} edge pixels")
    _save((to_pil(edges), args.output))
    return 0


def cmd_hough(args):
    from classic.edges import canny
    from classic.hough import hough_line, hough_line_peaks
    _distinct_output(args, [args.image])
    img = read_image(args.image, args.device)
    _check_sigma(args.sigma, img)
    edges = _run(canny, _gray(img), sigma=args.sigma)
    acc, thetas, rhos = _run(hough_line, edges)
    _, angles, dists = _run(hough_line_peaks, acc, thetas, rhos, num_peaks=args.num_lines)
    pil = to_pil(img)
    _, ImageDraw = pil_modules()
    draw = ImageDraw.Draw(pil)
    h, w = img.shape[:2]
    big = 2 * (h + w)
    for theta, rho in zip(to_numpy(angles).tolist(), to_numpy(dists).tolist()):
        # points with x cos(theta) + y sin(theta) = rho
        c, s = math.cos(theta), math.sin(theta)
        x0, y0 = rho * c, rho * s
        draw.line([(x0 - big * s, y0 + big * c), (x0 + big * s, y0 - big * c)], fill=(255, 0, 0), width=2)
    print(f"{len(to_numpy(angles))} lines")
    _save((pil, args.output))
    return 0


def cmd_harris(args):
    from classic.corners import corner_peaks, harris_response
    _distinct_output(args, [args.image])
    img = read_image(args.image, args.device)
    _check_sigma(args.sigma, img)
    resp = _run(harris_response, _gray(img), k=args.k, sigma=args.sigma)
    pts = to_numpy(_run(corner_peaks, resp, min_distance=args.min_distance,
                        threshold_rel=args.threshold_rel))
    pil = to_pil(img)
    _, ImageDraw = pil_modules()
    draw = ImageDraw.Draw(pil)
    for r, c in pts.tolist():
        draw.ellipse([c - 3, r - 3, c + 3, r + 3], outline=(255, 0, 0), width=1)
    print(f"{len(pts)} corners")
    _save((pil, args.output))
    return 0


def _match_inliers(k1, k2, m, threshold, seed=0):
    """Inliers (bool (M,), numpy) of a RANSAC homography through the matched keypoints, or
    None when fewer than 4 matches leave nothing to fit."""
    from classic.ransac import ProjectiveTransform, ransac
    if len(m) < 4:
        return None
    src = k1[m[:, 0]][:, 1::-1].astype("float64")          # (row, col) -> (x, y)
    dst = k2[m[:, 1]][:, 1::-1].astype("float64")
    _, inliers = _run(ransac, (src, dst), ProjectiveTransform, 4, threshold, max_trials=2000,
                      rng=seed)
    return None if inliers is None else to_numpy(inliers)


def cmd_sift_match(args):
    from classic.sift import SIFT, match_descriptors
    _distinct_output(args, [args.image1, args.image2])
    a = read_image(args.image1, args.device)
    b = read_image(args.image2, args.device)
    k1, d1 = _run(SIFT().detect_and_extract, a)
    k2, d2 = _run(SIFT().detect_and_extract, b)
    m = to_numpy(_run(match_descriptors, d1, d2, max_ratio=args.ratio, cross_check=True))
    k1, k2, d1, d2 = to_numpy(k1), to_numpy(k2), to_numpy(d1), to_numpy(d2)
    np = get_array_module(m)                # the drawing works on host (numpy) arrays
    inliers = _match_inliers(k1, k2, m, args.ransac_threshold)
    fit = ("too few matches for a homography" if inliers is None
           else f"{int(inliers.sum())} RANSAC inliers of a homography")
    if inliers is None:
        inliers = np.zeros(len(m), dtype=bool)
    # the matches of smallest descriptor distance are drawn
    dist = np.linalg.norm(d1[m[:, 0]].astype("float64") - d2[m[:, 1]], axis=1)
    order = np.argsort(dist, kind="stable")
    if args.max_matches:
        order = order[:args.max_matches]
    Image, ImageDraw = pil_modules()
    pa, pb = to_pil(a), to_pil(b)
    canvas = Image.new("RGB", (pa.width + pb.width, max(pa.height, pb.height)))
    canvas.paste(pa, (0, 0))
    canvas.paste(pb, (pa.width, 0))
    draw = ImageDraw.Draw(canvas)
    for idx in order[::-1].tolist():                        # the best matches end on top
        i, j = m[idx]
        r1, c1 = k1[i, :2]
        r2, c2 = k2[j, :2]
        colour = INLIER_COLOUR if inliers[idx] else OUTLIER_COLOUR
        draw.line([(c1, r1), (c2 + pa.width, r2)], fill=colour, width=1)
    print(f"{len(k1)} and {len(k2)} keypoints, {len(m)} matches, {fit}; drew {len(order)} "
          "(green: inliers, red: outliers)")
    _save((canvas, args.output))
    return 0


def cmd_seam_carve(args):
    from classic import seam_carving as sc
    if args.width is None and args.height is None:
        raise UsageError("give the target size: --width and/or --height")
    _distinct_output(args, [args.image])
    img = read_image(args.image, args.device)
    h0, w0 = img.shape[:2]
    h = args.height or h0
    w = args.width or w0
    for new, old, side in ((w, w0, "--width"), (h, h0, "--height")):
        if new > 2 * old - 1:
            raise UsageError(f"{side} {new}: cannot enlarge {old} pixels to {new} in one pass "
                             f"(at most {2 * old - 1}, just under 2x)")
    if args.seams and w >= w0:
        raise UsageError("--seams draws the removed vertical seams: give a --width smaller "
                         f"than the image's ({w0})")
    total = abs(h - h0) + abs(w - w0)
    with _progress(total, "seams") as bar:
        out = _run(sc.resize, img, (h, w), energy=args.energy, progress=bar.update)
    if args.seams:
        with _progress(w0 - w, "seams") as bar:
            seams = to_numpy(_run(sc.find_seams, img, w0 - w, energy=args.energy,
                                  progress=bar.update))
    outputs = [(to_pil(out), args.output)]
    if args.seams:
        pil = to_pil(img)
        px = pil.load()
        for seam in seams.tolist():
            for r, c in enumerate(seam):
                px[c, r] = (255, 0, 0)
        outputs.append((pil, args.seams))
    _save(*outputs)
    return 0


def _check_segments(args, image):
    """``--k`` segments need at least k pixels to cluster: every pixel for kmeans, a sample of
    at most ``segment_image``'s ``max_samples`` for agglomerative (meanshift takes no k)."""
    import inspect

    from classic.clustering import segment_image
    if args.method == "meanshift":
        return
    h, w = image.shape[:2]
    limit, what = h * w, f"the image has pixels ({h}x{w})"
    samples = inspect.signature(segment_image).parameters["max_samples"].default
    if args.method == "agglomerative" and samples < limit:
        limit, what = samples, f"the {samples} sampled pixels agglomerative clusters"
    if args.k > limit:
        raise UsageError(f"--k {args.k} is more segments than {what}: use at most {limit}")


def cmd_segment(args):
    from classic.clustering import segment_image
    _distinct_output(args, [args.image])
    img = read_image(args.image, args.device)
    _check_segments(args, img)
    bandwidth = args.bandwidth
    labels = _run(segment_image, img, k=args.k, method=args.method, features=args.features,
                  bandwidth=bandwidth, spatial_weight=args.spatial_weight, seed=args.seed)
    lab = to_numpy(labels)
    rgb = to_numpy(img)
    out = rgb.copy()
    n = int(lab.max()) + 1
    for i in range(n):                      # paint every segment with its mean colour
        sel = lab == i
        if sel.any():
            out[sel] = rgb[sel].mean(axis=0)
    note = ""
    if args.method == "meanshift" and bandwidth is None:
        note = " (mean-shift bandwidth estimated from the pixels)"
    print(f"{n} segments{note}")
    _save((to_pil(out), args.output))
    return 0


def cmd_stitch(args):
    from classic.stitching import stitch
    if len(args.images) < 2:
        raise UsageError(f"give at least 2 input images before the output, got "
                         f"{len(args.images)}")
    _distinct_output(args, args.images)
    images = [read_image(p, args.device) for p in args.images]

    def report(i, inliers, matches):
        print(f"{args.images[i]} -> {args.images[i - 1]}: {inliers} RANSAC inliers of "
              f"{matches} matches")

    try:
        pano = _run(stitch, images, method=args.features, max_ratio=args.ratio,
                    residual_threshold=args.ransac_threshold, min_inliers=args.min_inliers,
                    min_inlier_ratio=args.min_inlier_ratio, on_pair=report)
    except CLIError as exc:                 # name the files instead of images[i]
        message = str(exc)
        for i, path in enumerate(args.images):
            message = message.replace(f"images[{i}]", path)
        raise CLIError(message) from None
    print(f"panorama {pano.shape[0]}x{pano.shape[1]}")
    _save((to_pil(pano), args.output))
    return 0


# ---- registration ---------------------------------------------------------------------------

def _common(p):
    p.add_argument("--device", default=None, choices=DEVICE_NAMES,
                   help=f"array backend to run on (default: {get_default_device()})")


def _io(p, inputs=("image",)):
    for name in inputs:
        p.add_argument(name, help="input image (any format Pillow reads)")
    p.add_argument("output", type=image_output,
                   help="output image; its extension picks the format (.png, .jpg, .tif, ...)")


def register(subparsers):
    p = subparsers.add_parser("canny", help="Canny edges of an image, written as an image",
                              description="Canny edge detector (Gaussian blur, Sobel gradient, "
                                          "non-maximum suppression, hysteresis) on the gray "
                                          "image; writes the edges in white on black.")
    _io(p)
    p.add_argument("--sigma", type=positive_float, default=1.0,
                   help="std of the Gaussian blur in pixels, at most the image side "
                        "(default: %(default)s)")
    p.add_argument("--low", type=nonnegative_float, default=None,
                   help="low hysteresis threshold on the gradient magnitude of the [0, 1] "
                        "image; weak edges above it are kept when connected to strong ones "
                        "(default: 0.1)")
    p.add_argument("--high", type=nonnegative_float, default=None,
                   help="high threshold, >= --low: pixels above it are strong edges "
                        "(default: 0.2)")
    _common(p)
    p.set_defaults(func=cmd_canny)

    p = subparsers.add_parser("hough", help="straight lines (Canny + Hough) drawn on the image")
    _io(p)
    p.add_argument("--sigma", type=positive_float, default=2.0,
                   help="std of the Canny blur in pixels, at most the image side "
                        "(default: %(default)s)")
    p.add_argument("--num-lines", type=positive_int, default=10,
                   help="at most this many strongest lines are drawn (default: %(default)s)")
    _common(p)
    p.set_defaults(func=cmd_hough)

    p = subparsers.add_parser("harris", help="Harris corners drawn on the image")
    _io(p)
    p.add_argument("--k", type=positive_float, default=0.05,
                   help="k of the response det(H) - k tr(H)^2 (default: %(default)s)")
    p.add_argument("--sigma", type=positive_float, default=1.0,
                   help="std of the Gaussian window of the structure tensor, at most the "
                        "image side (default: %(default)s)")
    p.add_argument("--min-distance", type=positive_int, default=5,
                   help="minimum distance in pixels between corners and from the border "
                        "(default: %(default)s)")
    p.add_argument("--threshold-rel", type=ratio, default=0.01,
                   help="keep corners whose response exceeds this fraction of the largest "
                        "(default: %(default)s)")
    _common(p)
    p.set_defaults(func=cmd_harris)

    p = subparsers.add_parser("sift-match", help="SIFT matches between two images, side by side",
                              description="SIFT keypoints of both images, matched by Lowe's "
                                          "ratio test and cross-checking; a RANSAC homography "
                                          "through the matches splits them into inliers (green) "
                                          "and outliers (red).")
    _io(p, ("image1", "image2"))
    p.add_argument("--ratio", type=ratio, default=0.8,
                   help="Lowe's ratio: keep a match when its distance is below this fraction "
                        "of the second-nearest one (default: %(default)s)")
    p.add_argument("--ransac-threshold", type=positive_float, default=2.0, metavar="PX",
                   help="a match is an inlier of the homography when it lands within this "
                        "many pixels (default: %(default)s)")
    p.add_argument("--max-matches", type=nonnegative_int, default=100, metavar="N",
                   help="draw the N matches of smallest descriptor distance, 0 for all "
                        "(default: %(default)s)")
    _common(p)
    p.set_defaults(func=cmd_sift_match)

    p = subparsers.add_parser("seam-carve", help="content-aware resize by seam carving",
                              description="Removes (or duplicates) the seams of least energy "
                                          "until the image has the requested size; at least "
                                          "one of --width and --height is required.")
    _io(p)
    p.add_argument("--width", type=positive_int, default=None,
                   help="target width in pixels, below twice the input's (default: unchanged)")
    p.add_argument("--height", type=positive_int, default=None,
                   help="target height in pixels, below twice the input's (default: unchanged)")
    p.add_argument("--energy", choices=("backward", "forward"), default="backward",
                   help="backward: gradient magnitude of the image; forward: the edges a "
                        "removal creates (default: %(default)s)")
    p.add_argument("--seams", metavar="IMAGE", default=None, type=image_output,
                   help="also draw the removed vertical seams on the input into this image "
                        "(needs a smaller --width; default: not drawn)")
    _common(p)
    p.set_defaults(func=cmd_seam_carve)

    p = subparsers.add_parser("segment", help="cluster pixels into segments (mean colours)")
    _io(p)
    p.add_argument("--k", type=positive_int, default=4,
                   help="number of segments for kmeans and agglomerative (default: "
                        "%(default)s)")
    p.add_argument("--method", choices=("kmeans", "meanshift", "agglomerative"), default="kmeans",
                   help="clustering of the pixel features (default: %(default)s)")
    p.add_argument("--features", choices=("color", "color+position"), default="color",
                   help="cluster colours alone, or colours and positions (default: "
                        "%(default)s)")
    p.add_argument("--bandwidth", type=positive_float, default=None,
                   help="mean-shift kernel radius in feature units (colours in [0, 1]) "
                        "(default: estimated from the pixels like scikit-learn's "
                        "estimate_bandwidth, quantile 0.3)")
    p.add_argument("--spatial-weight", type=positive_float, default=1.0,
                   help="scale of the position features (row, col in [0, 1]) with "
                        "--features color+position (default: %(default)s)")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="random seed of the initialisation and pixel sampling "
                        "(default: %(default)s)")
    _common(p)
    p.set_defaults(func=cmd_segment)

    p = subparsers.add_parser("stitch", help="stitch overlapping images into a panorama",
                              description="Each image is registered to the previous one "
                                          "(features, matching, RANSAC homography) and all are "
                                          "warped into the first one's frame.  A pair whose "
                                          "homography has too few inliers is refused (the "
                                          "images do not overlap).")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="two or more overlapping images, each overlapping the previous one")
    p.add_argument("output", type=image_output,
                   help="output image; its extension picks the format (.png, .jpg, .tif, ...)")
    p.add_argument("--features", choices=("sift", "harris"), default="sift",
                   help="keypoints and descriptors: SIFT, or Harris corners with grey patches "
                        "(default: %(default)s)")
    p.add_argument("--ratio", type=ratio, default=0.8,
                   help="Lowe's ratio of the descriptor matching (default: %(default)s)")
    p.add_argument("--ransac-threshold", type=positive_float, default=2.0, metavar="PX",
                   help="inlier distance of the RANSAC homography in pixels (default: "
                        "%(default)s)")
    p.add_argument("--min-inliers", type=positive_int, default=10, metavar="N",
                   help="refuse a pair whose homography has fewer inliers (4 points fit any "
                        "homography) (default: %(default)s)")
    p.add_argument("--min-inlier-ratio", type=ratio, default=0.25, metavar="R",
                   help="refuse a pair whose inliers are a smaller fraction of its matches "
                        "(default: %(default)s)")
    _common(p)
    p.set_defaults(func=cmd_stitch)
