"""Classic-vision sub-commands: canny, hough, harris, sift-match, seam-carve, segment, stitch.

Each reads image files (Pillow), runs the ``classic`` algorithm on the chosen device and writes
a PNG that draws the result.  Pillow is imported inside the commands (an optional extra).
"""
from __future__ import annotations

import math

from tinygrad_cv.backend import get_default_device, to_numpy
from tinygrad_cv.cli import CLIError
from tinygrad_cv.cli.common import (DEVICE_NAMES, pil_modules, positive_float, positive_int,
                                    ratio, read_image, save_png, to_pil)


def _save(img, path):
    save_png(img, path)
    print(f"wrote {path}")


def _gray(rgb):
    from classic._image import to_gray
    return to_gray(rgb)


def _run(fn, *args, **kw):
    """Run an algorithm, reporting its ValueError (bad data) as a one-line CLI error."""
    try:
        return fn(*args, **kw)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _progress(total, desc):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="seam", leave=False)


# ---- commands -----------------------------------------------------------------------------

def cmd_canny(args):
    from classic.edges import canny
    img = read_image(args.image, args.device, gray=True)
    edges = _run(canny, img, sigma=args.sigma, low_threshold=args.low, high_threshold=args.high)
    _save(to_pil(edges), args.output)
    return 0


def cmd_hough(args):
    from classic.edges import canny
    from classic.hough import hough_line, hough_line_peaks
    img = read_image(args.image, args.device)
    edges = _run(canny, _gray(img), sigma=args.sigma)
    acc, thetas, rhos = hough_line(edges)
    _, angles, dists = hough_line_peaks(acc, thetas, rhos, num_peaks=args.num_lines)
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
    _save(pil, args.output)
    return 0


def cmd_harris(args):
    from classic.corners import corner_peaks, harris_response
    img = read_image(args.image, args.device)
    resp = _run(harris_response, _gray(img), k=args.k, sigma=args.sigma)
    pts = to_numpy(corner_peaks(resp, min_distance=args.min_distance, threshold_rel=args.threshold_rel))
    pil = to_pil(img)
    _, ImageDraw = pil_modules()
    draw = ImageDraw.Draw(pil)
    for r, c in pts.tolist():
        draw.ellipse([c - 3, r - 3, c + 3, r + 3], outline=(255, 0, 0), width=1)
    print(f"{len(pts)} corners")
    _save(pil, args.output)
    return 0


def cmd_sift_match(args):
    from classic.sift import SIFT, match_descriptors
    a = read_image(args.image1, args.device)
    b = read_image(args.image2, args.device)
    k1, d1 = _run(SIFT().detect_and_extract, a)
    k2, d2 = _run(SIFT().detect_and_extract, b)
    m = to_numpy(match_descriptors(d1, d2, max_ratio=args.ratio, cross_check=True))
    k1, k2 = to_numpy(k1), to_numpy(k2)
    Image, ImageDraw = pil_modules()
    pa, pb = to_pil(a), to_pil(b)
    canvas = Image.new("RGB", (pa.width + pb.width, max(pa.height, pb.height)))
    canvas.paste(pa, (0, 0))
    canvas.paste(pb, (pa.width, 0))
    draw = ImageDraw.Draw(canvas)
    for i, j in m.tolist():
        r1, c1 = k1[i, :2]
        r2, c2 = k2[j, :2]
        draw.line([(c1, r1), (c2 + pa.width, r2)], fill=(0, 255, 0), width=1)
    print(f"{len(k1)} and {len(k2)} keypoints, {len(m)} matches")
    _save(canvas, args.output)
    return 0


def cmd_seam_carve(args):
    from classic import seam_carving as sc
    img = read_image(args.image, args.device)
    h0, w0 = img.shape[:2]
    h = args.height or h0
    w = args.width or w0
    if w > 2 * w0 - 1 or h > 2 * h0 - 1:
        raise CLIError(f"cannot enlarge {h0}x{w0} to {h}x{w} in one pass (at most 2x per side)")
    total = abs(h - h0) + abs(w - w0)
    with _progress(total, "seams") as bar:
        out = _run(sc.resize, img, (h, w), energy=args.energy, progress=bar.update)
    _save(to_pil(out), args.output)
    if args.seams:
        if w >= w0:
            raise CLIError("--seams draws removed vertical seams: give a smaller --width")
        with _progress(w0 - w, "seams") as bar:
            seams = to_numpy(sc.find_seams(img, w0 - w, energy=args.energy, progress=bar.update))
        pil = to_pil(img)
        px = pil.load()
        for seam in seams.tolist():
            for r, c in enumerate(seam):
                px[c, r] = (255, 0, 0)
        _save(pil, args.seams)
    return 0


def cmd_segment(args):
    from classic.clustering import segment_image
    img = read_image(args.image, args.device)
    labels = _run(segment_image, img, k=args.k, method=args.method, features=args.features,
                  bandwidth=args.bandwidth, spatial_weight=args.spatial_weight, seed=args.seed)
    lab = to_numpy(labels)
    rgb = to_numpy(img)
    out = rgb.copy()
    n = int(lab.max()) + 1
    for i in range(n):                      # paint every segment with its mean colour
        sel = lab == i
        if sel.any():
            out[sel] = rgb[sel].mean(axis=0)
    print(f"{n} segments")
    _save(to_pil(out), args.output)
    return 0


def cmd_stitch(args):
    from classic.stitching import stitch
    images = [read_image(p, args.device) for p in args.images]
    pano = _run(stitch, images, method=args.features, max_ratio=args.ratio)
    _save(to_pil(pano), args.output)
    return 0


# ---- registration ---------------------------------------------------------------------------

def _common(p):
    p.add_argument("--device", default=None, choices=DEVICE_NAMES,
                   help=f"array backend (default: {get_default_device()})")


def register(subparsers):
    p = subparsers.add_parser("canny", help="Canny edges of an image, written as a PNG")
    p.add_argument("image")
    p.add_argument("output")
    p.add_argument("--sigma", type=positive_float, default=1.0)
    p.add_argument("--low", type=float, default=None, help="low threshold (default 0.1)")
    p.add_argument("--high", type=float, default=None, help="high threshold (default 0.2)")
    _common(p)
    p.set_defaults(func=cmd_canny)

    p = subparsers.add_parser("hough", help="straight lines (Canny + Hough) drawn on the image")
    p.add_argument("image")
    p.add_argument("output")
    p.add_argument("--sigma", type=positive_float, default=2.0)
    p.add_argument("--num-lines", type=positive_int, default=10)
    _common(p)
    p.set_defaults(func=cmd_hough)

    p = subparsers.add_parser("harris", help="Harris corners drawn on the image")
    p.add_argument("image")
    p.add_argument("output")
    p.add_argument("--k", type=positive_float, default=0.05)
    p.add_argument("--sigma", type=positive_float, default=1.0)
    p.add_argument("--min-distance", type=positive_int, default=5)
    p.add_argument("--threshold-rel", type=ratio, default=0.01)
    _common(p)
    p.set_defaults(func=cmd_harris)

    p = subparsers.add_parser("sift-match", help="SIFT matches between two images, side by side")
    p.add_argument("image1")
    p.add_argument("image2")
    p.add_argument("output")
    p.add_argument("--ratio", type=ratio, default=0.8, help="Lowe's ratio (default 0.8)")
    _common(p)
    p.set_defaults(func=cmd_sift_match)

    p = subparsers.add_parser("seam-carve", help="content-aware resize by seam carving")
    p.add_argument("image")
    p.add_argument("output")
    p.add_argument("--width", type=positive_int, default=None)
    p.add_argument("--height", type=positive_int, default=None)
    p.add_argument("--energy", choices=("backward", "forward"), default="backward")
    p.add_argument("--seams", metavar="PNG", default=None,
                   help="also draw the removed vertical seams on the input into this PNG")
    _common(p)
    p.set_defaults(func=cmd_seam_carve)

    p = subparsers.add_parser("segment", help="cluster pixels into segments (mean colours)")
    p.add_argument("image")
    p.add_argument("output")
    p.add_argument("--k", type=positive_int, default=4)
    p.add_argument("--method", choices=("kmeans", "meanshift", "agglomerative"), default="kmeans")
    p.add_argument("--features", choices=("color", "color+position"), default="color")
    p.add_argument("--bandwidth", type=positive_float, default=None)
    p.add_argument("--spatial-weight", type=positive_float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    _common(p)
    p.set_defaults(func=cmd_segment)

    p = subparsers.add_parser("stitch", help="stitch overlapping images into a panorama")
    p.add_argument("images", nargs="+", help="two or more overlapping images, in order")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--features", choices=("sift", "harris"), default="sift")
    p.add_argument("--ratio", type=ratio, default=0.8)
    _common(p)
    p.set_defaults(func=cmd_stitch)
