"""The CLI's default CNN trained on the digits by tinygrad_cv and by torch, side by side.

Both runs use the same architecture (``models.classifiers.ConvNet`` defaults: conv3x3(32)-BN-
ReLU-maxpool, conv3x3(64)-BN-ReLU-maxpool, fc128-ReLU, fc10), the same hyper-parameters as
``tinygrad-cv train --model cnn`` (Adam, lr 1e-3, cosine schedule, batch 64, 20 epochs), the
same fixed train/val/test split and the same mini-batch order (the seeded ``DataLoader``
permutations), and the same rule for the final weights (best validation epoch).  The torch
network starts from our initial weights (``--torch-init`` gives it torch's own instead).
Prints both test accuracies, their difference (issue 7 asks for at most 0.5 points) and the
training times.  A report, no assertions.

    python benchmarks/bench_digits_torch.py [--epochs 20] [--seeds 0 1 2] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinygrad_cv as tg  # noqa: E402
from models.classifier_entries import MODEL_ARCHITECTURE, MODEL_DEFAULTS  # noqa: E402
from tinygrad_cv.data import DataLoader, TensorDataset, load_digits  # noqa: E402
from models.classifiers import build_classifier  # noqa: E402
from models.training import (Trainer, evaluate, make_optimizer,  # noqa: E402
                             make_scheduler)


def torch_convnet(config):
    """torch.nn twin of ``ConvNet`` with the same module names (state_dicts interchange)."""
    feats, ch = [], config["in_channels"]
    h, w = config["input_size"]
    for block in config["conv_channels"]:
        for out in block:
            feats += [torch.nn.Conv2d(ch, out, 3, padding=1, bias=not config["batchnorm"])]
            if config["batchnorm"]:
                feats.append(torch.nn.BatchNorm2d(out))
            feats.append(torch.nn.ReLU())
            ch = out
        feats.append(torch.nn.MaxPool2d(2))
        h, w = h // 2, w // 2
    head, width = [torch.nn.Flatten()], ch * h * w
    for d in config["fc_dims"]:
        head += [torch.nn.Linear(width, d), torch.nn.ReLU()]
        width = d
    head.append(torch.nn.Linear(width, config["num_classes"]))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(*feats)
            self.classifier = torch.nn.Sequential(*head)

        def forward(self, x):
            return self.classifier(self.features(x))

    return Net()


def data():
    splits = {s: load_digits(s) for s in ("train", "val", "test")}
    return splits


def run_ours(splits, config, hp, seed):
    tg.manual_seed(seed)
    model = build_classifier("cnn", reg=hp["reg"], **config)
    init = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt = make_optimizer(hp["optimizer"], model.parameters(), hp["lr"])
    sched = make_scheduler(hp["scheduler"], opt, hp["epochs"])
    x, y = splits["train"]
    train = DataLoader(TensorDataset(x, y), hp["batch_size"], shuffle=True, seed=seed)
    val = DataLoader(TensorDataset(*splits["val"]), 512)
    trainer = Trainer(model, opt, train, val, scheduler=sched, epochs=hp["epochs"], seed=seed,
                      progress=False)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    test = evaluate(model, DataLoader(TensorDataset(*splits["test"]), 512))["accuracy"]
    return test, seconds, init, train


def run_torch(splits, config, hp, seed, init, loader, torch_init):
    torch.manual_seed(seed)
    model = torch_convnet(config)
    if not torch_init:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    assert hp["optimizer"] == "adam" and hp["scheduler"] == "cosine"
    opt = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, hp["epochs"])
    tensors = {s: (torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy()))
               for s, (x, y) in splits.items()}
    x, y = tensors["train"]
    xv, yv = tensors["val"]
    best, best_state = None, None
    start = time.perf_counter()
    for epoch in range(hp["epochs"]):
        model.train()
        order = torch.from_numpy(loader.indices(epoch))
        for i in range(0, len(order), hp["batch_size"]):
            idx = order[i:i + hp["batch_size"]]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            scores = model(xv)
            score = ((scores.argmax(1) == yv).float().mean().item(),
                     -torch.nn.functional.cross_entropy(scores, yv).item())
        if best is None or score > best:
            best = score
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    model.eval()
    xt, yt = tensors["test"]
    with torch.no_grad():
        test = (model(xt).argmax(1) == yt).float().mean().item()
    return test, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=MODEL_DEFAULTS["cnn"]["epochs"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--torch-init", action="store_true",
                        help="start torch from its own random init instead of ours")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hp = dict(MODEL_DEFAULTS["cnn"], epochs=args.epochs)
    splits = data()
    x = splits["train"][0]
    config = {"in_features": int(np.prod(x.shape[1:])), "num_classes": 10,
              "in_channels": 1, "input_size": [8, 8], **MODEL_ARCHITECTURE["cnn"]}
    print(f"CNN on digits: {hp['epochs']} epochs, {hp['optimizer']} lr {hp['lr']}, "
          f"{hp['scheduler']} schedule, batch {hp['batch_size']}; torch {torch.__version__}, "
          f"{args.threads} threads; torch init: {'torch' if args.torch_init else 'ours'}")
    print(f"{'seed':>4}  {'ours acc':>8}  {'torch acc':>9}  {'diff (pts)':>10}  "
          f"{'ours s':>7}  {'torch s':>7}")
    diffs = []
    for seed in args.seeds:
        ours, t_ours, init, loader = run_ours(splits, config, hp, seed)
        theirs, t_torch = run_torch(splits, config, hp, seed, init, loader, args.torch_init)
        diffs.append(100 * (ours - theirs))
        print(f"{seed:>4}  {ours:>8.4f}  {theirs:>9.4f}  {diffs[-1]:>+10.2f}  {t_ours:>7.1f}  "
              f"{t_torch:>7.1f}")
    worst = max(abs(d) for d in diffs)
    print(f"largest |difference|: {worst:.2f} points "
          f"({'within' if worst <= 0.5 else 'NOT within'} 0.5)")


if __name__ == "__main__":
    main()
