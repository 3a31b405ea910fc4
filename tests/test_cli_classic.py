"""The classic CLI commands on real images: each writes its PNG; bad files exit 1, bad args 2."""
import numpy as np
import pytest
from skimage import data

from tinygrad_cv.cli import main

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    img = data.astronaut()[::2, ::2]
    Image.fromarray(img).save(d / "a.png")
    Image.fromarray(img[0:200, 0:160]).save(d / "left.png")
    Image.fromarray(img[20:220, 90:256]).save(d / "right.png")
    (d / "broken.png").write_bytes(b"not a png at all")
    (d / "empty.png").write_bytes(b"")
    png = (d / "a.png").read_bytes()
    (d / "truncated.png").write_bytes(png[: len(png) // 2])
    bad = bytearray(png)
    bad[12:16] = b"IHDX"                          # a critical chunk Pillow does not know
    (d / "badchunk.png").write_bytes(bytes(bad))
    for name in ("camera", "coffee", "chelsea"):
        Image.fromarray(getattr(data, name)()).save(d / f"{name}.png")          # full size
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(d / "flat.png")
    return d


def _png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


@pytest.mark.parametrize("argv", [
    ["canny", "{d}/a.png", "{o}"],
    ["hough", "{d}/a.png", "{o}", "--num-lines", "5"],
    ["harris", "{d}/a.png", "{o}"],
    ["sift-match", "{d}/left.png", "{d}/right.png", "{o}"],
    ["seam-carve", "{d}/a.png", "{o}", "--width", "236", "--height", "250"],
    ["segment", "{d}/a.png", "{o}", "--k", "4"],
    ["segment", "{d}/a.png", "{o}", "--method", "meanshift", "--bandwidth", "0.2",
     "--features", "color+position"],
    ["segment", "{d}/a.png", "{o}", "--method", "meanshift"],        # bandwidth estimated
    ["stitch", "{d}/left.png", "{d}/right.png", "{o}"],
])
def test_command_writes_png(files, tmp_path, argv, capsys):
    out = tmp_path / "out.png"
    argv = [a.format(d=files, o=out) for a in argv]
    assert main(argv) == 0
    img = _png(out)
    assert img.ndim == 3 and img.shape[0] > 10
    if argv[0] == "seam-carve":
        assert img.shape[:2] == (250, 236)
    if argv[0] == "sift-match":
        assert img.shape[1] == 160 + 166
        assert "matches" in capsys.readouterr().out
    if argv[0] == "canny":
        assert set(np.unique(img)) <= {0, 255} and (img == 255).any()
    if argv[0] in ("hough", "harris"):          # red drawings on the photo
        assert ((img[..., 0] == 255) & (img[..., 1] == 0) & (img[..., 2] == 0)).sum() > 20
    if argv[0] == "stitch":
        assert "RANSAC inliers" in capsys.readouterr().out


def test_seam_carve_draws_seams(files, tmp_path):
    out, seams = tmp_path / "o.png", tmp_path / "s.png"
    assert main(["seam-carve", str(files / "a.png"), str(out), "--width", "246",
                 "--seams", str(seams)]) == 0
    s = _png(seams)
    red = (s[..., 0] == 255) & (s[..., 1] == 0) & (s[..., 2] == 0)
    assert (red.sum(axis=1) >= 10).all()          # 10 seams cross every row


@pytest.mark.parametrize("argv", [
    ["canny", "{d}/missing.png", "{o}"],
    ["harris", "{d}/broken.png", "{o}"],
    ["stitch", "{d}/a.png", "{d}/missing.png", "{o}"],
    ["canny", "{d}", "{o}"],                                      # a folder
    ["canny", "{d}/empty.png", "{o}"],
    ["canny", "{d}/truncated.png", "{o}"],
    ["canny", "{d}/badchunk.png", "{o}"],
    ["stitch", "{d}/camera.png", "{d}/coffee.png", "{o}"],         # unrelated photos
    ["stitch", "{d}/coffee.png", "{d}/chelsea.png", "{o}"],
    ["segment", "{d}/flat.png", "{o}", "--method", "meanshift"],   # no bandwidth to estimate
])
def test_bad_files_and_data_exit_1(files, tmp_path, argv, capsys):
    argv = [a.format(d=files, o=tmp_path / "x.png") for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("argv", [
    ["canny"],
    ["canny", "a.png", "o.png", "--low", "0.5", "--high", "0.1"],
    ["canny", "a.png", "o.png", "--low", "0.3"],                  # above the default high 0.2
    ["canny", "a.png", "o.png", "--low", "-0.1"],
    ["canny", "a.png", "o.png", "--low", "nan"],
    ["canny", "a.png", "o.png", "--high", "inf"],
    ["canny", "a.png", "o.png", "--high", "NaN"],
    ["canny", "a.png", "o.png", "--sigma", "nan"],
    ["canny", "a.png", "o.xyz"],                                  # Pillow cannot write .xyz
    ["canny", "a.png", "o"],                                      # no extension
    ["canny", "a.png", "no/such/folder/o.png"],
    ["harris", "a.png", "o.png", "--threshold-rel", "nan"],
    ["stitch", "one.png", "o.png"],                               # one image
    ["stitch", "a.png", "b.png", "-o", "o.png"],                  # the old convention
    ["stitch", "a.png", "b.png", "o.png", "--min-inliers", "0"],
    ["sift-match", "a.png", "b.png", "o.png", "--max-matches", "-1"],
    ["segment", "a.png", "o.png", "--k", "0"],
    ["segment", "a.png", "o.png", "--k", "three"],
    ["segment", "a.png", "o.png", "--method", "dbscan"],
    ["seam-carve", "a.png", "o.png", "--width", "-5"],
    ["sift-match", "a.png", "b.png", "o.png", "--ratio", "1.5"],
    ["hough", "a.png", "o.png", "--sigma", "0"],
    ["stitch", "a.png", "b.png"],                                 # b.png is no output
    ["harris", "a.png", "o.png", "--device", "tpu"],
])
def test_bad_arguments_exit_2_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_cuda_without_cupy_is_one_clear_error(files, tmp_path, monkeypatch, capsys):
    from tinygrad_cv import backend
    monkeypatch.setattr(backend, "_load_cupy", lambda: None)
    assert main(["canny", str(files / "a.png"), str(tmp_path / "x.png"), "--device", "cuda"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and "pip install" in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("argv", [
    ["seam-carve", "{d}/a.png", "{o}"],                             # no target size
    ["seam-carve", "{d}/a.png", "{o}", "--width", "1000"],          # beyond 2x
    ["seam-carve", "{d}/a.png", "{o}", "--height", "600"],
    ["seam-carve", "{d}/a.png", "{o}", "--height", "200", "--seams", "{d}/s.png"],  # no width cut
    ["canny", "{d}/a.png", "{o}", "--sigma", "1e6"],                # wider than the image
    ["hough", "{d}/a.png", "{o}", "--sigma", "300"],
    ["harris", "{d}/a.png", "{o}", "--sigma", "1e9"],
    ["canny", "{d}/a.png", "{d}/a.png"],                            # would overwrite the input
    ["seam-carve", "{d}/a.png", "{o}", "--width", "200", "--seams", "{d}/a.png"],
    ["seam-carve", "{d}/a.png", "{o}", "--width", "200", "--seams", "{o}"],
    ["stitch", "{d}/left.png", "{d}/right.png", "{d}/right.png"],
])
def test_values_that_cannot_work_with_the_image_exit_2(files, tmp_path, argv, capsys):
    argv = [a.format(d=files, o=tmp_path / "x.png") for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists() and not (files / "s.png").exists()


@pytest.mark.parametrize("ext,fmt", [(".jpg", "JPEG"), (".tif", "TIFF"), (".bmp", "BMP"),
                                     (".webp", "WEBP")])
def test_output_format_follows_the_extension(files, tmp_path, ext, fmt):
    out = tmp_path / f"edges{ext}"
    assert main(["canny", str(files / "a.png"), str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == fmt and im.size == (256, 256)
    pano = tmp_path / f"pano{ext}"
    assert main(["stitch", str(files / "left.png"), str(files / "right.png"), str(pano)]) == 0
    with Image.open(pano) as im:
        assert im.format == fmt


def test_stitch_refuses_unrelated_photos_and_says_why(files, tmp_path, capsys):
    out = tmp_path / "pano.png"
    assert main(["stitch", str(files / "camera.png"), str(files / "coffee.png"), str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "inliers among" in err and "coffee.png" in err
    assert not out.exists()
    # the thresholds are options: with the old acceptance (4 inliers) the warp goes through
    assert main(["stitch", str(files / "camera.png"), str(files / "coffee.png"), str(out),
                 "--min-inliers", "4", "--min-inlier-ratio", "0.01"]) == 0


def test_sift_match_colours_inliers_and_outliers(tmp_path, capsys):
    left, right, _ = data.stereo_motorcycle()
    a, b = tmp_path / "l.png", tmp_path / "r.png"
    Image.fromarray(left[::2, ::2]).save(a)
    Image.fromarray(right[::2, ::2]).save(b)

    def coloured(n):
        out = tmp_path / f"m{n}.png"
        assert main(["sift-match", str(a), str(b), str(out), "--max-matches", str(n)]) == 0
        img = _png(out)
        green = (img[..., 0] == 0) & (img[..., 1] == 255) & (img[..., 2] == 0)
        red = (img[..., 0] == 255) & (img[..., 1] == 0) & (img[..., 2] == 0)
        return green.sum(), red.sum(), capsys.readouterr().out

    g_all, r_all, text = coloured(0)
    assert g_all > 1000 and r_all > 1000            # a stereo pair: the background is off-plane
    assert "inliers" in text
    g_few, r_few, text = coloured(10)
    assert "drew 10" in text and g_few + r_few < (g_all + r_all) / 5


def test_every_classic_option_says_what_it_does_and_its_default():
    import argparse
    from tinygrad_cv.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("canny", "hough", "harris", "sift-match", "seam-carve", "segment", "stitch"):
        for action in sub.choices[name]._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and len(action.help) > 15, (name, action.dest)
            if action.option_strings:
                assert "default" in action.help, (name, action.dest, action.help)


def test_no_traceback_on_memory_errors_and_decompression_bombs(files, tmp_path, monkeypatch,
                                                               capsys):
    import PIL.Image
    out = tmp_path / "x.png"

    def one_line_error(argv, *words):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "Traceback" not in err
        for w in words:
            assert w in err
        assert not out.exists()

    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 10_000)      # a.png has 65,536
    one_line_error(["canny", str(files / "a.png"), str(out)], "decompression-bomb")
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 40_000)      # the warning zone (< 2x)
    one_line_error(["canny", str(files / "a.png"), str(out)], "decompression-bomb")
    monkeypatch.undo()

    def boom(*a, **k):
        raise MemoryError
    monkeypatch.setattr("classic.edges.canny", boom)
    one_line_error(["canny", str(files / "a.png"), str(out)], "out of memory")
    monkeypatch.setattr("tinygrad_cv.backend.as_array", boom)
    one_line_error(["harris", str(files / "a.png"), str(out)], "too large for the memory")


def test_failed_commands_leave_no_folder_behind(files, tmp_path):
    target = tmp_path / "new" / "sub" / "x.png"
    with pytest.raises(SystemExit):
        main(["canny", str(files / "a.png"), str(target)])
    assert main(["canny", str(files / "missing.png"), str(tmp_path / "x.png")]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    from tinygrad_cv.cli.common import read_image
    cam = data.camera()
    path = tmp_path / "cam16.png"
    Image.fromarray(cam.astype(np.uint16) * 257).save(path)          # x * 257 / 65535 = x / 255
    with Image.open(path) as im:
        assert im.mode.startswith("I;16")
    gray = read_image(str(path), "cpu", gray=True)
    np.testing.assert_allclose(gray, cam / 255.0, atol=1e-6)
    rgb = read_image(str(path), "cpu")
    assert rgb.shape == cam.shape + (3,)
    np.testing.assert_allclose(rgb[..., 1], cam / 255.0, atol=1e-6)
    out8, out16 = tmp_path / "e8.png", tmp_path / "e16.png"
    Image.fromarray(cam).save(tmp_path / "cam8.png")
    assert main(["canny", str(tmp_path / "cam8.png"), str(out8)]) == 0
    assert main(["canny", str(path), str(out16)]) == 0
    np.testing.assert_array_equal(_png(out8), _png(out16))
