"""Helpers shared by the command groups: argument types, devices, folders and image files.

Every problem with the user's input (a number, a device, a file) becomes either an argparse
error (exit 2, with usage) or one ``CLIError`` line (exit 1).  Pillow is imported on first use
(an optional extra).
"""
from __future__ import annotations

import argparse
import contextlib
import os

from models import registry
from tinygrad_cv.cli import CLIError

DEVICE_NAMES = ("cpu", "cuda")


# ---- argument types -------------------------------------------------------------------------
def _argparse_type(check):
    """An argparse type from one of the registry's value checks (a ValueError naming what it
    expected becomes argparse's error: exit 2 with the usage line)."""
    def parse(text):
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


positive_int = _argparse_type(registry.positive_int)
nonnegative_int = _argparse_type(registry.nonnegative_int)
positive_float = _argparse_type(registry.positive_float)
nonnegative_float = _argparse_type(registry.nonnegative_float)


def folder(text):
    """An output folder path; an empty one (an unset shell variable, ``--out ""``) is refused
    rather than read as the current folder or the default."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder path, got {text!r}")
    return text


def ratio(text):
    """A number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a ratio in (0, 1], got {value}")
    return value


# ---- devices --------------------------------------------------------------------------------
def require_device(name):
    """Check that device ``name`` (None: the default) can be used; a missing CuPy/GPU is one
    clear error."""
    from tinygrad_cv import backend

    try:
        backend.module_for_device(name if name is not None else backend.get_default_device())
    except RuntimeError as exc:
        raise CLIError(str(exc)) from None


def use_device(name):
    """Make ``name`` the default device; a missing CuPy/GPU is one clear error."""
    import tinygrad_cv as tg

    try:
        tg.set_default_device(name)
    except RuntimeError as exc:
        raise CLIError(str(exc)) from None


# ---- folders and files ----------------------------------------------------------------------
def make_dirs(path):
    """Create output folder ``path`` (and its parents) if it does not exist."""
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise CLIError(f"cannot create output folder {path!r}: a file of that name is in "
                       "the way (give a folder)") from None
    except NotADirectoryError:
        raise CLIError(f"cannot create output folder {path!r}: a part of its path is a file, "
                       "not a folder") from None
    except OSError as exc:
        raise CLIError(f"cannot create output folder {path!r}: {exc.strerror or exc}") from None


def _missing_folders(path):
    """The folders of ``path`` (absolute) that do not exist yet, outermost first."""
    missing = []
    while path and not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing[::-1]


def check_writable(folder):
    """Write and remove a small probe file in ``folder`` (the way checkpoints are written), so
    a read-only folder or a full disk is one clear error before any work starts."""
    from tinygrad_cv import io

    probe = os.path.join(folder, f".tinygrad-cv-write-test-{os.getpid()}")
    try:
        io.atomic_write(probe, [b"tinygrad-cv\n"])
        os.remove(probe)
    except OSError as exc:
        raise CLIError(f"cannot write to output folder {folder!r}: "
                       f"{exc.strerror or exc}") from None


@contextlib.contextmanager
def output_folder(path):
    """Create output folder ``path`` (and missing parents), check that it is writable, and
    yield its absolute path.  When the body fails (any exception, Ctrl-C), the folders this
    call created are removed again if they are still empty, so a command that fails before
    writing anything leaves nothing behind.  OSErrors of the body (a full disk) become one
    CLIError line."""
    path = os.path.abspath(path)
    created = _missing_folders(path)
    make_dirs(path)
    finished = False
    try:
        check_writable(path)
        yield path
        finished = True
    except OSError as exc:
        # a failed rename names its target second (the file meant, not the temporary one)
        name = getattr(exc, "filename2", None) or getattr(exc, "filename", None)
        where = f" {name!r}" if name else f" in {path!r}"
        raise CLIError(f"cannot write{where}: {exc.strerror or exc}") from None
    finally:
        if not finished:
            for folder in reversed(created):
                try:
                    os.rmdir(folder)  # only succeeds while the folder is empty
                except OSError:
                    break


def write_outputs(folder, files, stale=()):
    """Write ``files`` (``{name: bytes}``) into ``folder`` all or nothing: each is first
    written whole (``io.atomic_write``) under a hidden staging name, and only when all are
    written are they renamed over the old ones, so a full disk or a folder in the way of one
    file leaves every earlier file as it was.  Then the files named in ``stale`` (an earlier
    run's outputs that this run does not make and that would no longer match) are removed.
    Returns the written paths."""
    from tinygrad_cv import io

    targets = [os.path.join(folder, name) for name in files]
    for target in targets:
        if os.path.isdir(target):
            raise CLIError(f"cannot write {target!r}: a folder of that name is in the way")
    staged = []
    try:
        for target, data in zip(targets, files.values()):
            stage = os.path.join(folder, f".{os.path.basename(target)}.{os.getpid()}.staged")
            io.atomic_write(stage, [data])
            staged.append(stage)
        for stage, target in zip(staged, targets):
            os.replace(stage, target)
        for name in stale:
            old = os.path.join(folder, name)
            if name not in files and os.path.isfile(old):
                os.remove(old)
    finally:
        for stage in staged:
            with contextlib.suppress(OSError):
                os.remove(stage)            # only those left after a failure
    return targets


def write_bytes(path, data):
    """Write ``data`` over ``path`` atomically, creating its folder; returns ``path``."""
    make_dirs(os.path.dirname(os.path.abspath(path)))
    return write_file(path, data)


# ---- images ---------------------------------------------------------------------------------
def pil_modules(needed_by="this command"):
    """Pillow's ``(Image, ImageDraw)``, or a CLIError saying how to install it."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - depends on the install
        raise CLIError(f"{needed_by} needs Pillow: pip install 'tinygrad_cv[data]'") from None
    return Image, ImageDraw


def _decode(im, gray, device):
    """The pixels of PIL image ``im`` as float32 in [0, 1] on ``device``."""
    from tinygrad_cv.backend import as_array, get_array_module

    if not (im.mode.startswith("I;16") or im.mode in ("I", "F")):
        return as_array(im.convert("L" if gray else "RGB"), device=device).astype("float32") / 255.0
    arr = as_array(im, device=device).astype("float32")
    xp = get_array_module(arr)
    arr = xp.clip(arr if im.mode == "F" else arr / 65535.0, 0.0, 1.0)
    return arr if gray else xp.stack([arr, arr, arr], axis=-1)


def read_image(path, device, gray=False):
    """Image file ``path`` as a float32 array in [0, 1] on ``device``: (H, W) if ``gray``,
    else (H, W, 3).

    Every way a file can fail to become an image is one CLIError line: missing or unreadable
    file, a format Pillow cannot decode or a broken file, an image over Pillow's
    decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``; the warning zone below twice the
    limit counts too), or one too large for memory.  16-bit and 32-bit gray images (Pillow
    modes I;16, I) are scaled by 1/65535 and float images (F) clipped to [0, 1], instead of
    Pillow's conversion that clips them at 255.
    """
    import warnings

    Image, _ = pil_modules()
    require_device(device)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                arr = _decode(im, gray, device)
    except FileNotFoundError:
        raise CLIError(f"cannot read image {path!r}: no such file") from None
    except IsADirectoryError:
        raise CLIError(f"cannot read image {path!r}: it is a folder") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CLIError(f"cannot read image {path!r}: it has more pixels than Pillow's "
                       f"decompression-bomb limit of {Image.MAX_IMAGE_PIXELS}") from None
    except MemoryError:
        raise CLIError(f"cannot read image {path!r}: it is too large for the memory") from None
    except OSError as exc:
        raise CLIError(f"cannot read image {path!r}: {exc.strerror or exc}") from None
    except Exception as exc:  # decoders raise SyntaxError, ValueError, EOFError, struct.error...
        raise CLIError(f"cannot read image {path!r}: not a readable image "
                       f"({type(exc).__name__}: {exc})") from None
    return arr


def to_pil(image, rgb=True, needed_by="this command"):
    """A PIL image of a float [0, 1] or bool array (any device): round(255 * clip(x, 0, 1)).
    ``rgb`` converts a gray image to RGB."""
    from tinygrad_cv.backend import to_numpy

    Image, _ = pil_modules(needed_by)
    arr = to_numpy(image)
    if arr.dtype == bool:
        arr = arr.astype("float32")
    arr = (arr.clip(0, 1) * 255 + 0.5).astype("uint8")
    img = Image.fromarray(arr)
    return img.convert("RGB") if rgb else img


def image_format(path):
    """Pillow's format name for the extension of ``path`` when Pillow can write an RGB image
    in it (a trial write to memory), else None."""
    import io

    Image, _ = pil_modules()
    Image.init()
    fmt = Image.registered_extensions().get(os.path.splitext(path)[1].lower())
    if fmt is None or fmt not in Image.SAVE:
        return None
    try:
        Image.new("RGB", (2, 2)).save(io.BytesIO(), format=fmt)
    except Exception:  # a plugin that cannot write RGB, or a missing save handler
        return None
    return fmt


def image_output(text):
    """An argparse type for an output image path: its extension names a format Pillow can
    write (.png, .jpg, .tif, ...) and its folder exists and is writable."""
    if image_format(text) is None:
        ext = os.path.splitext(text)[1] or "(none)"
        raise argparse.ArgumentTypeError(
            f"cannot write images with extension {ext} in {text!r}: use one Pillow writes, "
            "e.g. .png, .jpg, .tif, .bmp, .webp")
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder of {text!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"the folder of {text!r} is not writable")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not an image file")
    return text


def write_file(path, data):
    """Write ``data`` over ``path`` atomically (``io.atomic_write``): a failure leaves an
    earlier file at ``path`` whole."""
    from tinygrad_cv import io

    try:
        io.atomic_write(path, [data])
    except OSError as exc:
        raise CLIError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    return path


def encode_image(img, path):
    """The bytes of PIL image ``img`` in the format the extension of ``path`` names; an
    encoder's refusal (a WebP wider than 16383 pixels) is one CLIError naming ``path``."""
    import io

    fmt = image_format(path)
    if fmt is None:
        raise CLIError(f"cannot write {path!r}: Pillow does not write that format")
    buffer = io.BytesIO()
    try:
        img.save(buffer, format=fmt)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot write {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    return buffer.getvalue()


def save_image(img, path):
    """Write PIL image ``img`` to ``path`` in the format its extension names; returns ``path``.
    The image is encoded in memory first, so an encoder's refusal or a full disk leaves an
    earlier file at ``path`` as it was."""
    return write_file(path, encode_image(img, path))
