"""``tinygrad-cv caption``: captions from a captioning model's checkpoint.

    tinygrad-cv caption runs/caption-lstm/checkpoint.safetensors scene1.png scene2.png
    tinygrad-cv caption runs/caption-lstm/checkpoint.safetensors --split test --out DIR --beam 3

With image files it prints ``FILE: caption`` per image (each resized to the model's input
size).  With ``--split`` it captions that split of the model's data set and writes
``DIR/captions.json`` (a list of ``{"references": [str, ...], "hypothesis": str}``) and
``DIR/grid.png`` (the first ``--grid`` images with their captions), and prints the corpus
BLEU-4 and exact-match rate.  The captioner and its data come from the checkpoint's registry
entry (its ``caption`` hook); this module has no per-model code.
"""
from __future__ import annotations

import io
import json
import math
import os
import textwrap

from tinygrad_cv.cli import CLIError, UsageError
from tinygrad_cv.cli.common import (DEVICE_NAMES, folder, output_folder, pil_modules,
                                    positive_int, read_image, to_pil, write_outputs)
from tinygrad_cv.cli.model_options import model_errors

CAPTIONS_NAME = "captions.json"
GRID_NAME = "grid.png"
SPLITS = ("train", "val", "test")
DEFAULT_OUT = "captions"
DEFAULT_GRID = 16      # images in OUT/grid.png
TILE_SCALE = 5          # each image pixel drawn as a TILE_SCALE x TILE_SCALE block
TEXT_LINES = 4
LINE_HEIGHT = 12


def caption_grid_png(images, captions, cols=4, scale=TILE_SCALE):
    """PNG bytes of ``images`` (N, 3, S, S) in [0, 1] in a grid, each with its caption (wrapped
    to at most ``TEXT_LINES`` lines) under it."""
    Image, ImageDraw = pil_modules("the caption grid")
    n, _, h, w = images.shape
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    tile_w, tile_h = w * scale, h * scale
    cell_h = tile_h + TEXT_LINES * LINE_HEIGHT + 6
    sheet = Image.new("RGB", (cols * (tile_w + 4) + 4, rows * (cell_h + 4) + 4), "white")
    draw = ImageDraw.Draw(sheet)
    chars = max(8, tile_w // 6)
    for i in range(n):
        x0 = 4 + (i % cols) * (tile_w + 4)
        y0 = 4 + (i // cols) * (cell_h + 4)
        tile = to_pil(images[i].transpose(1, 2, 0), needed_by="the caption grid")
        sheet.paste(tile.resize((tile_w, tile_h), resample=0), (x0, y0))
        lines = textwrap.wrap(captions[i], chars)[:TEXT_LINES]
        for k, line in enumerate(lines):
            draw.text((x0, y0 + tile_h + 3 + k * LINE_HEIGHT), line, fill="black")
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _captioner_names():
    from models import registry

    return ", ".join(registry.model_names("captioner"))


def _check_arguments(args):
    if args.images and args.split:
        raise UsageError("give IMAGE files or --split, not both")
    if not args.images and not args.split:
        raise UsageError("give IMAGE files to caption, or --split SPLIT --out DIR")
    for given, flag in ((args.out, "--out"), (args.grid, "--grid")):
        if given is not None and not args.split:
            raise UsageError(f"{flag} applies to --split (image captions are printed)")


def run_caption(args):
    from models.registry import CONTENT_ERRORS, content_error, read_checkpoint

    _check_arguments(args)
    from tinygrad_cv.cli.common import use_device

    use_device(args.device)
    with model_errors():
        entry, state = read_checkpoint(args.checkpoint)
    if entry.caption is None:
        raise CLIError(f"{args.checkpoint!r} holds a {entry.name} model ({entry.kind}), which "
                       f"cannot caption; caption needs a captioning model ({_captioner_names()})")
    images = [read_image(path, args.device) for path in args.images] or None
    with model_errors():
        try:
            model = entry.load(state, args.checkpoint)
        except CONTENT_ERRORS as exc:
            raise content_error(args.checkpoint, exc) from None
        try:
            result = entry.caption(model, images, split=args.split, beam=args.beam,
                                   max_length=args.max_length)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    hyps = result["hypotheses"]
    if images is not None:
        for path, text in zip(args.images, hyps):
            print(f"{path}: {text}")
        return 0
    from models.metrics import bleu, exact_match

    refs = result["references"]
    score, exact = bleu(refs, hyps), exact_match(refs, hyps)
    records = [{"references": list(r), "hypothesis": h} for r, h in zip(refs, hyps)]
    shown = min(args.grid or DEFAULT_GRID, len(hyps))
    files = {CAPTIONS_NAME: (json.dumps(records, indent=1) + "\n").encode("utf-8"),
             GRID_NAME: caption_grid_png(result["images"][:shown], hyps[:shown])}
    with output_folder(args.out or DEFAULT_OUT) as out:
        write_outputs(out, files)
    print(f"{entry.name} on the {args.split} split ({len(hyps)} images, beam {args.beam}): "
          f"BLEU-4 {score:.4f}, exact match {exact:.4f}")
    for name in files:
        print(f"{name + ':':<15}{os.path.join(out, name)}")
    return 0


def register(subparsers):
    cap = subparsers.add_parser(
        "caption", help="caption images with a captioning model's checkpoint",
        description="Caption IMAGE files (printed, one line each) or a split of the model's "
                    "data set (--split: writes OUT/captions.json and OUT/grid.png, prints "
                    "BLEU-4). Captioning models: caption-rnn, caption-lstm, "
                    "caption-transformer.")
    cap.add_argument("checkpoint", metavar="CHECKPOINT",
                     help="checkpoint.safetensors of a captioning model")
    cap.add_argument("images", metavar="IMAGE", nargs="*", default=[],
                     help="image files to caption (or --split)")
    cap.add_argument("--split", choices=SPLITS, default=None,
                     help="caption this split of the model's data set instead of files")
    cap.add_argument("--out", metavar="DIR", type=folder, default=None,
                     help=f"output folder with --split (default: {DEFAULT_OUT})")
    cap.add_argument("--beam", type=positive_int, default=1,
                     help="beam width; 1 is greedy decoding (default: 1)")
    cap.add_argument("--max-length", type=positive_int, default=None,
                     help="most words per caption (default: the model's)")
    cap.add_argument("--grid", type=positive_int, default=None,
                     help=f"images shown in OUT/grid.png with --split (default: {DEFAULT_GRID})")
    cap.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                     help="cpu (NumPy) or cuda (CuPy) (default: cpu)")
    cap.set_defaults(func=run_caption)
