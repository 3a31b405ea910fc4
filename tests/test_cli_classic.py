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
    ["stitch", "{d}/left.png", "{d}/right.png", "-o", "{o}"],
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
    ["stitch", "{d}/a.png", "{d}/missing.png", "-o", "{o}"],
    ["seam-carve", "{d}/a.png", "{o}", "--width", "1000"],       # beyond 2x: a clear error
    ["segment", "{d}/a.png", "{o}", "--method", "meanshift"],     # needs a bandwidth
])
def test_bad_files_and_data_exit_1(files, tmp_path, argv, capsys):
    argv = [a.format(d=files, o=tmp_path / "x.png") for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("argv", [
    ["canny"],
    ["segment", "a.png", "o.png", "--k", "0"],
    ["segment", "a.png", "o.png", "--k", "three"],
    ["segment", "a.png", "o.png", "--method", "dbscan"],
    ["seam-carve", "a.png", "o.png", "--width", "-5"],
    ["sift-match", "a.png", "b.png", "o.png", "--ratio", "1.5"],
    ["hough", "a.png", "o.png", "--sigma", "0"],
    ["stitch", "a.png", "b.png"],                                 # -o missing
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
