"""The RNN/LSTM captioner against its torch.nn twin with copied weights: same loss and the
same parameter gradients (decoder alone and with the CNN encoder)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_cv as tg  # noqa: E402
from models.captioning.training import build_captioner  # noqa: E402
from torch_captioning import copy_weights, torch_twin  # noqa: E402

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{i}" for i in range(9)]


def _config(cell):
    return {"model": f"caption-{cell}", "vocab": WORDS,
            "data": {"dataset": "shapes-captions", "n": 10, "image_size": 16, "seed": 0},
            "model_config": {"decoder": cell, "channels": [4, 8], "feature_dim": 12,
                             "wordvec_dim": 6, "hidden_dim": 10, "attribute_slots": 3,
                             "attribute_classes": 5}}


def _batch(n=5, length=8, seed=0):
    rng = np.random.default_rng(seed)
    caps = np.zeros((n, length), np.int64)
    for i in range(n):
        k = rng.integers(1, length - 1)
        caps[i, 0], caps[i, k + 1] = 1, 2
        caps[i, 1:k + 1] = rng.integers(3, len(WORDS), k)
    images = rng.random((n, 3, 16, 16)).astype(np.float32)
    return images, caps, rng.integers(0, 5, (n, 3))


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
@pytest.mark.parametrize("with_attributes", [False, True])
def test_captioner_matches_torch_twin(cell, with_attributes):
    tg.manual_seed(0)
    config = _config(cell)
    ours = build_captioner(config)
    theirs = torch_twin(config).double()
    copy_weights(ours, theirs)
    ours = ours.double()
    images, caps, attrs = _batch()
    loss = ours.loss(tg.tensor(images.astype(np.float64)), caps,
                     attrs if with_attributes else None)
    loss.backward()
    ref = theirs.loss(torch.tensor(images, dtype=torch.float64), torch.tensor(caps),
                      torch.tensor(attrs) if with_attributes else None)
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-10)
    grads = dict(theirs.named_parameters())
    checked = 0
    for name, p in ours.named_parameters():
        g = grads[name].grad
        if g is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), g.numpy(), rtol=1e-7, atol=1e-10,
                                   err_msg=name)
        checked += 1
    assert checked >= 14
