"""models.classifiers: the notes' SVM / softmax losses and gradients, and the nets vs torch."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinygrad_cv as tg
from tinygrad_cv.testing import gradcheck
from models.classifiers import (ConvNet, FullyConnectedNet, LinearClassifier, build_classifier,
                                softmax_loss, svm_loss)

from torch_compare import assert_param_grads_match, host

SETTINGS = settings(max_examples=20, deadline=None)


# ---- the notes' losses, written as the notes' loops ---------------------------------------
def naive_svm(W, b, X, y, reg):
    """L = 1/N sum_i sum_{j != y_i} max(0, s_j - s_{y_i} + 1) + reg sum W^2, and dL/dW (loops)."""
    n = X.shape[0]
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    loss = 0.0
    for i in range(n):
        s = W @ X[i] + b
        for j in range(W.shape[0]):
            if j == y[i]:
                continue
            margin = s[j] - s[y[i]] + 1
            if margin > 0:
                loss += margin
                dW[j] += X[i]
                dW[y[i]] -= X[i]
                db[j] += 1
                db[y[i]] -= 1
    return loss / n + reg * (W * W).sum(), dW / n + 2 * reg * W, db / n


def naive_softmax(W, b, X, y, reg):
    n = X.shape[0]
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    loss = 0.0
    for i in range(n):
        s = W @ X[i] + b
        p = np.exp(s - s.max())
        p /= p.sum()
        loss -= np.log(p[y[i]])
        for j in range(W.shape[0]):
            g = p[j] - (j == y[i])
            dW[j] += g * X[i]
            db[j] += g
    return loss / n + reg * (W * W).sum(), dW / n + 2 * reg * W, db / n


@SETTINGS
@given(n=st.integers(1, 12), d=st.integers(1, 10), c=st.integers(2, 6),
       reg=st.sampled_from([0.0, 1e-3, 0.5]), loss=st.sampled_from(["svm", "softmax"]),
       seed=st.integers(0, 10_000))
def test_linear_classifier_loss_and_gradient_match_the_notes(n, d, c, reg, loss, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    model = LinearClassifier(d, c, loss=loss, reg=reg).double()
    W, b = host(model.linear.weight), host(model.linear.bias)
    value = model.loss(model(tg.tensor(X)), tg.tensor(y))
    value.backward()
    ref_loss, ref_dW, ref_db = (naive_svm if loss == "svm" else naive_softmax)(W, b, X, y, reg)
    np.testing.assert_allclose(value.item(), ref_loss, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(model.linear.weight.grad), ref_dW, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(host(model.linear.bias.grad), ref_db, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss_fn", [svm_loss, softmax_loss])
def test_losses_gradcheck(loss_fn):
    rng = np.random.default_rng(0)
    X = tg.Tensor(rng.standard_normal((6, 5)))
    y = tg.Tensor(rng.integers(0, 4, 6))
    W = tg.Tensor(rng.standard_normal((4, 5)) * 0.5, requires_grad=True)
    b = tg.Tensor(rng.standard_normal(4) * 0.1, requires_grad=True)
    assert gradcheck(lambda W, b: loss_fn(X @ W.T + b, y) + 0.1 * (W * W).sum(), (W, b))


def test_svm_loss_against_torch_multi_margin():
    rng = np.random.default_rng(1)
    s = rng.standard_normal((7, 5))
    y = rng.integers(0, 5, 7)
    ours = svm_loss(tg.Tensor(s), tg.Tensor(y)).item()
    ref = torch.nn.functional.multi_margin_loss(torch.from_numpy(s), torch.from_numpy(y)) * 5
    np.testing.assert_allclose(ours, ref.item(), rtol=1e-12)


def test_linear_classifier_flattens_images_and_regularises_weights_only():
    model = LinearClassifier(64, 10, loss="softmax", reg=0.1)
    x = tg.randn(3, 1, 8, 8)
    assert model(x).shape == (3, 10)
    assert model.regularised_weights() == [model.linear.weight]
    assert model.predict(x).shape == (3,)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        LinearClassifier(4, 2, loss="hinge")
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        LinearClassifier(0, 2)


# ---- the nets against the same torch layers ---------------------------------------------------
def torch_mlp(d, hidden, c, normalization):
    layers, width = [], d
    for h in hidden:
        layers.append(torch.nn.Linear(width, h))
        if normalization == "batchnorm":
            layers.append(torch.nn.BatchNorm1d(h))
        elif normalization == "layernorm":
            layers.append(torch.nn.LayerNorm(h))
        layers.append(torch.nn.ReLU())
        width = h
    layers.append(torch.nn.Linear(width, c))
    model = torch.nn.Module()
    model.layers = torch.nn.Sequential(*layers)
    model.forward = lambda x: model.layers(x.reshape(x.shape[0], -1))
    return model.double()


def torch_cnn(in_ch, c, blocks, size, fc_dims, batchnorm, pool):
    feats, ch = [], in_ch
    for block in blocks:
        for out in block:
            feats.append(torch.nn.Conv2d(ch, out, 3, padding=1, bias=not batchnorm))
            if batchnorm:
                feats.append(torch.nn.BatchNorm2d(out))
            feats.append(torch.nn.ReLU())
            ch = out
        feats.append(torch.nn.MaxPool2d(2) if pool == "max" else torch.nn.AvgPool2d(2))
        size //= 2
    head, width = [torch.nn.Flatten()], ch * size * size
    for dim in fc_dims:
        head += [torch.nn.Linear(width, dim), torch.nn.ReLU()]
        width = dim
    head.append(torch.nn.Linear(width, c))
    model = torch.nn.Module()
    model.features = torch.nn.Sequential(*feats)
    model.classifier = torch.nn.Sequential(*head)
    model.forward = lambda x: model.classifier(model.features(x))
    return model.double()


def copy_into_torch(ours, theirs):
    sd = {k: torch.from_numpy(np.array(host(v))) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(sd)


def compare_forward_backward(ours, theirs, x, y, reg):
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.from_numpy(y)
    for train in (True, False):
        ours.train(train)
        theirs.train(train)
        ours.zero_grad()
        theirs.zero_grad()
        xo = tg.tensor(x, requires_grad=True)
        loss = ours.loss(ours(xo), tg.tensor(y))
        loss.backward()
        ref = torch.nn.functional.cross_entropy(theirs(xt), yt)
        ref = ref + reg * sum((m.weight ** 2).sum() for m in theirs.modules()
                              if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)))
        xt.grad = None
        ref.backward()
        np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-9)
        np.testing.assert_allclose(host(xo.grad), xt.grad.numpy(), rtol=1e-7, atol=1e-10)
        assert_param_grads_match(ours, theirs, dict(rtol=1e-7, atol=1e-10))


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fully_connected_net_matches_torch(normalization):
    tg.manual_seed(0)
    ours = FullyConnectedNet(12, [9, 7], 4, normalization=normalization, reg=0.01).double()
    theirs = torch_mlp(12, [9, 7], 4, normalization)
    copy_into_torch(ours, theirs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 2, 2))
    y = rng.integers(0, 4, 6)
    compare_forward_backward(ours, theirs, x, y, reg=0.01)


def test_fully_connected_net_layout_and_dropout():
    net = FullyConnectedNet(8, [5, 5, 5], 3, normalization="batchnorm", dropout=0.3)
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 3 + ["Linear"]
    tg.manual_seed(1)
    x = tg.randn(4, 8)
    net.eval()
    a, b = net(x), net(x)
    np.testing.assert_array_equal(host(a), host(b))  # dropout off in eval
    with pytest.raises(ValueError, match="unknown normalization 'groupnorm'"):
        FullyConnectedNet(8, [5], 3, normalization="groupnorm")
    with pytest.raises(ValueError, match="dropout"):
        FullyConnectedNet(8, [5], 3, dropout=1.0)


@pytest.mark.parametrize("blocks,batchnorm,pool", [([[4], [6]], True, "max"),
                                                   ([[3, 4], [5]], False, "avg")])
def test_convnet_matches_torch(blocks, batchnorm, pool):
    tg.manual_seed(0)
    ours = ConvNet(2, 5, conv_channels=blocks, input_size=(8, 8), batchnorm=batchnorm, pool=pool,
                   fc_dims=(7,), reg=0.003).double()
    theirs = torch_cnn(2, 5, blocks, 8, (7,), batchnorm, pool)
    copy_into_torch(ours, theirs)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 8, 8))
    y = rng.integers(0, 5, 4)
    compare_forward_backward(ours, theirs, x, y, reg=0.003)


def test_convnet_layout_and_errors():
    net = ConvNet(1, 10)
    kinds = [type(m).__name__ for m in net.features]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] * 2
    assert [type(m).__name__ for m in net.classifier] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert net(tg.randn(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"ConvNet: expected input of shape \(N, 1, 8, 8\), got "
                                         r"shape \(2, 3, 8, 8\)"):
        net(tg.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="ConvNet: expected input of shape"):
        net(tg.randn(8, 8))
    with pytest.raises(ValueError, match="too small"):
        ConvNet(1, 10, conv_channels=[[4]] * 4, input_size=8)
    with pytest.raises(ValueError, match="unknown pool"):
        ConvNet(1, 10, pool="median")


def test_build_classifier_by_name():
    for name in ("linear-svm", "softmax", "mlp", "cnn"):
        model = build_classifier(name, in_features=64, num_classes=10)
        assert model(tg.randn(2, 1, 8, 8)).shape == (2, 10)
    assert build_classifier("linear-svm", in_features=64, num_classes=10).data_loss == "svm"
    with pytest.raises(ValueError, match="expected one of .*'cnn'.*'mlp'"):
        build_classifier("resnet", in_features=64, num_classes=10)
