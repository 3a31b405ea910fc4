"""The LSTM captioner, ours vs torch.nn, trained the same way (plain script, no assertions).

Both start from the same weights (ours copied into the torch twin of
``tests/torch_captioning.py``), see the same batches in the same order (data seed and run seed
0, ``epoch_batches``), use Adam with the same learning rate, cosine decay, gradient clipping,
the same auxiliary attribute loss, and keep the best validation epoch.  Prints each one's
test-split BLEU-4 (greedy decoding, corpus BLEU of ``models.metrics``), the training steps
done, and the mean training-step time with the ratio ours/torch.

    python benchmarks/bench_captioning.py [--epochs E] [--minutes M] [--threads 2] [--json F]

Defaults: the ``caption-lstm`` registry entry's training settings.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
from models.bleu import bleu, exact_match  # noqa: E402
from models.captioning.training import (MAX_LENGTH, build_captioner, default_config,  # noqa: E402
                                        epoch_batches, load_data, lr_scale,
                                        train_captioner)
from torch_captioning import copy_weights, torch_twin  # noqa: E402

NAME = "caption-lstm"


def torch_greedy(model, images, max_length, words):
    """Greedy captions (strings) of the torch twin (eval mode)."""
    null, start, end = (words.index(w) for w in ("<NULL>", "<START>", "<END>"))
    dec = model.decoder
    with torch.no_grad():
        features, _ = model.encoder.encode(images)
        state = (dec.feature_proj(features).unsqueeze(0),
                 dec.cell_proj(features).unsqueeze(0))
        tokens = torch.full((images.shape[0],), start, dtype=torch.long)
        done = torch.zeros(images.shape[0], dtype=torch.bool)
        out = []
        for _ in range(max_length):
            y, state = dec.core(dec.embed(tokens)[:, None], state)
            word = dec.output(y[:, 0]).argmax(1)
            word = torch.where(done, torch.full_like(word, null), word)
            out.append(word)
            done |= word == end
            if bool(done.all()):
                break
            tokens = word
    texts = []
    for row in torch.stack(out, 1).tolist():
        kept = []
        for i in row:
            if i == end:
                break
            if i not in (null, start):
                kept.append(words[i])
        texts.append(" ".join(kept))
    return texts


def train_torch(config, initial_state, seed, log):
    """The twin trained with our loop's schedule; returns (test metrics, steps, s/step)."""
    train_cfg = config["training"]
    data = load_data(config["data"])
    train, val, test = data.split("train"), data.split("val"), data.split("test")
    model = torch_twin(config)
    copy_weights(initial_state, model)
    opt = torch.optim.Adam(model.parameters(), lr=train_cfg["lr"])
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(train.images.array)
    captions = torch.from_numpy(train.captions.array)
    attributes = torch.from_numpy(train.attributes.array)
    val_images = torch.from_numpy(val.images.array)
    epochs, minutes = train_cfg["epochs"], train_cfg["minutes"]
    deadline = time.perf_counter() + 60 * minutes if minutes else None
    best, best_state, steps, step_seconds, epoch, out_of_time = None, None, 0, 0.0, 0, False
    while not out_of_time and epoch < epochs:
        for group in opt.param_groups:
            group["lr"] = train_cfg["lr"] * lr_scale(epoch, epochs)
        model.train()
        for idx, choice in epoch_batches(rng, len(train), train.captions.shape[1],
                                         train_cfg["batch_size"]):
            t = time.perf_counter()
            idx_t = torch.from_numpy(idx)
            loss = model.loss(images[idx_t], captions[idx_t, torch.from_numpy(choice)],
                              attributes[idx_t], train_cfg["attribute_weight"])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg["clip"])
            opt.step()
            steps += 1
            step_seconds += time.perf_counter() - t
            if deadline is not None and time.perf_counter() > deadline:
                out_of_time = True
                break
        epoch += 1
        model.eval()
        score = bleu(val.references, torch_greedy(model, val_images, MAX_LENGTH,
                                                  config["vocab"]))
        log(f"torch epoch {epoch}: val BLEU-4 {score:.4f}")
        if best is None or score > best:
            best = score
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    hyps = torch_greedy(model, torch.from_numpy(test.images.array), MAX_LENGTH,
                        config["vocab"])
    return {"test_bleu4": bleu(test.references, hyps),
            "test_exact_match": exact_match(test.references, hyps), "steps": steps,
            "seconds_per_step": step_seconds / max(steps, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = default_config(NAME)
    for key in ("epochs", "minutes"):
        if getattr(args, key) is not None:
            config["training"][key] = getattr(args, key)
    config["vocab"] = load_data(config["data"]).vocab.idx_to_word
    tg.manual_seed(args.seed)
    initial = build_captioner(config)     # the initial weights train_captioner starts from

    def log(text):
        print(text, flush=True)

    print(f"{NAME}: training ours ({config['training']}) ...", flush=True)
    _, ours = train_captioner(config, None, seed=args.seed, progress=True, log=log)
    print("training the torch.nn twin ...", flush=True)
    theirs = train_torch(dict(config), initial, args.seed, log)
    ratio = ours["seconds_per_step"] / theirs["seconds_per_step"]
    rows = [("ours", ours), ("torch", theirs)]
    print(f"\n{'':6} {'test BLEU-4':>12} {'exact':>7} {'steps':>6} {'s/step':>8}")
    for label, r in rows:
        print(f"{label:6} {r['test_bleu4']:12.4f} {r['test_exact_match']:7.3f} "
              f"{r['steps']:6d} {r['seconds_per_step']:8.4f}")
    print(f"BLEU-4 difference ours - torch: {ours['test_bleu4'] - theirs['test_bleu4']:+.4f}; "
          f"training-step time ratio ours/torch: {ratio:.2f}")
    if args.json:
        keep = ("test_bleu4", "test_exact_match", "steps", "seconds_per_step")
        with open(args.json, "w") as f:
            json.dump({"ours": {k: ours[k] for k in keep}, "torch": theirs,
                       "step_time_ratio": ratio}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
