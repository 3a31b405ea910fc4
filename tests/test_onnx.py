"""tinygrad_cv.onnx.export: graphs traced from the tape, run by onnxruntime, checked by onnx."""
import io
import warnings

import numpy as np
import onnx  # the 'onnx' extra; onnx and onnxruntime are in the 'test' extra
import onnxruntime as ort
import pytest

import tinygrad_cv as tg
import tinygrad_cv.nn.functional as F
from tinygrad_cv import nn
from tinygrad_cv.onnx import UnsupportedOperatorError, export
from models.classifiers import ConvNet, FullyConnectedNet
from models.diffusion.unet import UNet


def _randomize(model, seed=0):
    """Non-trivial weights and batch-norm statistics (zero-initialised layers included)."""
    rng = np.random.default_rng(seed)
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.array.dtype.kind == "f":
            values = rng.normal(size=t.shape) * 0.3
            if name.endswith("running_var"):
                values = np.abs(values) + 0.5
            t.array[...] = values.astype(t.array.dtype)
    return model


def _export_and_run(model, args, names, feeds, **kw):
    """Export, check with onnx.checker, run with onnxruntime; returns (outputs, ModelProto)."""
    buf = io.BytesIO()
    export(model, args, buf, input_names=names, **kw)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    return [sess.run(None, {n: a.array for n, a in zip(names, f)}) for f in feeds], proto


def _reference(model, args):
    """The model's outputs in eval mode, nested tuples flattened (as the graph's outputs)."""
    model.eval()
    with tg.no_grad():
        out = model(*args)

    def flat(o):
        return [a for x in o for a in flat(x)] if isinstance(o, (tuple, list)) else [o.array]
    return flat(out)


def _assert_close(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("opset", [17, 18])
def test_classifiers_match_onnxruntime_with_a_dynamic_batch(opset):
    tg.manual_seed(0)
    cnn = _randomize(ConvNet(1, 10, conv_channels=((8,), (16,)), fc_dims=(32,), dropout=0.3))
    fc = _randomize(FullyConnectedNet(64, (32, 16), 10, normalization="layernorm", dropout=0.2))
    x3, x5 = tg.randn(3, 1, 8, 8), tg.randn(5, 1, 8, 8)
    for model, shape in ((cnn, None), (fc, (-1, 64))):
        a3, a5 = (x3, x5) if shape is None else (x3.reshape(*shape), x5.reshape(*shape))
        model.train()
        got, proto = _export_and_run(model, (a3,), ["x"], [(a3,), (a5,)], opset_version=opset,
                                     output_names=["logits"],
                                     dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
        assert model.training  # the export ran it in eval mode and restored the mode
        assert proto.opset_import[0].version == opset
        assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
        assert {i.name for i in proto.graph.initializer} >= {n for n, _ in
                                                             model.named_parameters()}
        _assert_close(got[0], _reference(model, (a3,)))
        _assert_close(got[1], _reference(model, (a5,)))


class PortStyleNet(nn.Module):
    """The layers typical port scripts use, in one network with two outputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2, stride=1, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.drop = nn.Dropout(0.5)
        self.flat = nn.Flatten()
        self.fc = nn.Linear(8 * 12 * 12, 16)
        self.act = nn.GELU()
        self.ln = nn.LayerNorm(16)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        h = F.relu(self.bn(self.conv(x)))
        h = F.leaky_relu(self.conv2(h), 0.1) + h * 0.5
        h = self.up(self.avg(self.pool(h)))
        h = self.drop(h)
        h = h[:, :, 1:-1, 1:-1]
        h = tg.cat([h[:, 4:], h[:, None, 0, :, :], h[:, 1:4]], dim=1)
        h = self.flat(h.reshape(h.shape[0], 12, 8, 12).view(h.shape[0], -1))
        h = self.act(self.fc(h))
        h = self.ln(h).tanh() * h.sigmoid()
        h = h - h.mean(dim=1, keepdim=True)
        logits = self.head(h)
        return F.log_softmax(logits, dim=1), F.softmax(logits.clamp(-1.0, 1.0), dim=-1)


class TinyGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(11, 16)
        self.pos = nn.Embedding(6, 16)
        self.block = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.1,
                                                batch_first=True, activation="gelu",
                                                norm_first=True)
        self.head = nn.Linear(16, 11)

    def forward(self, idx):
        h = self.tok(idx) + self.pos(tg.arange(idx.shape[1]))
        mask = tg.tensor(np.triu(np.ones((6, 6), bool), 1))
        return self.head(self.block(h, src_mask=mask))


def test_port_style_layers_and_attention_match_onnxruntime():
    tg.manual_seed(1)
    net = _randomize(PortStyleNet(), seed=1)
    x, x4 = tg.randn(2, 3, 12, 12), tg.randn(4, 3, 12, 12)
    got, proto = _export_and_run(net, (x,), ["x"], [(x,), (x4,)],
                                 dynamic_axes={"x": [0], "output_0": [0], "output_1": [0]})
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "BatchNormalization", "MaxPool", "AveragePool", "Erf", "LogSoftmax",
            "Softmax", "Clip", "Slice", "LeakyRelu", "Concat", "Unsqueeze",
            "Squeeze"} <= ops
    _assert_close(got[0], _reference(net, (x,)))
    _assert_close(got[1], _reference(net, (x4,)))

    gpt = _randomize(TinyGPT(), seed=2)
    idx = tg.randint(0, 11, (2, 6))
    idx2 = tg.tensor(np.arange(12).reshape(2, 6) % 11)
    got, proto = _export_and_run(gpt, (idx,), ["idx"], [(idx,), (idx2,)])
    assert "Gather" in {n.op_type for n in proto.graph.node}
    _assert_close(got[0], _reference(gpt, (idx,)))
    _assert_close(got[1], _reference(gpt, (idx2,)))  # the token ids are a real input


def test_tiny_unet_matches_onnxruntime(tmp_path):
    tg.manual_seed(2)
    unet = _randomize(UNet(in_channels=1, base_channels=8, channel_mult=(1, 2), num_res_blocks=1,
                           attention_resolutions=(4,), num_classes=3), seed=3)
    x, t, y = tg.randn(2, 1, 8, 8), tg.tensor([3, 500]), tg.tensor([0, 2])
    x2, y2 = tg.randn(2, 1, 8, 8), tg.tensor([1, 1])
    with pytest.warns(UserWarning, match="input 't' does not reach the outputs"):
        export(unet, (x, t, y), tmp_path / "unet.onnx", input_names=["x", "t", "y"])
    proto = onnx.load(tmp_path / "unet.onnx")
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "Sigmoid", "Softmax", "Resize", "Concat", "Gather", "ReduceMean"} <= ops
    sess = ort.InferenceSession(str(tmp_path / "unet.onnx"))
    for xs, ys in ((x, y), (x2, y2)):   # the time embedding is a constant of the graph (t)
        got = sess.run(None, {"x": xs.array, "t": t.array, "y": ys.array})
        _assert_close(got, _reference(unet, (xs, t, ys)))


class RecurrentLM(nn.Module):
    """word_language_model's RNNModel in small: embedding, 2-layer RNN, decoder."""

    def __init__(self, kind, **kw):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.rnn = getattr(nn, kind)(8, 6, 2, **kw)
        self.dec = nn.Linear(6, 20)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.emb(x), hidden)
        return F.log_softmax(self.dec(out), dim=-1), hidden


class _Flat(nn.Module):
    """RecurrentLM with the decoder output flattened to (T * N, ntoken), as RNNModel does."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, x, h, c):
        out, hidden = self.lm(x, (h, c))
        return out.view(-1, 20), hidden


def test_recurrent_layers_match_onnxruntime():
    tg.manual_seed(3)
    x = tg.randint(0, 20, (5, 3))
    cases = [(RecurrentLM("LSTM"), (tg.randn(2, 3, 6), tg.randn(2, 3, 6))),
             (RecurrentLM("GRU"), tg.randn(2, 3, 6)),
             (RecurrentLM("RNN", nonlinearity="relu"), tg.randn(2, 3, 6))]
    for model, hidden in cases:
        _randomize(model, seed=4)
        states = list(hidden) if isinstance(hidden, tuple) else [hidden]
        names = ["x"] + [f"h{i}" for i in range(len(states))]
        got, proto = _export_and_run(model, (x, hidden), names, [(x, *states)])
        assert type(model.rnn).__name__.upper() in {n.op_type for n in proto.graph.node}
        _assert_close(got[0], _reference(model, (x, hidden)))
    # the word language model's decoder output view(-1, ntoken): sequence and batch dynamic
    flat = _Flat(_randomize(RecurrentLM("LSTM"), seed=9))
    small, large = (tg.randint(0, 20, (5, 3)), tg.randn(2, 3, 6), tg.randn(2, 3, 6)), \
        (tg.randint(0, 20, (7, 2)), tg.randn(2, 2, 6), tg.randn(2, 2, 6))
    got, _ = _export_and_run(flat, small, ["x", "h", "c"], [large, small],
                             dynamic_axes={"x": {0: "T", 1: "N"}, "h": {1: "N"}, "c": {1: "N"},
                                           "output_0": {0: "TN"}})
    _assert_close(got[0], _reference(flat, large))
    _assert_close(got[1], _reference(flat, small))
    gru = _randomize(nn.GRU(4, 5, batch_first=True, bidirectional=True), seed=5)
    seq = tg.randn(2, 6, 4)
    got, _ = _export_and_run(gru, (seq,), ["seq"], [(seq,)])
    _assert_close(got[0], _reference(gru, (seq,)))
    cell = _randomize(nn.LSTMCell(4, 3), seed=6)
    xs, hc = tg.randn(2, 4), (tg.randn(2, 3), tg.randn(2, 3))
    got, _ = _export_and_run(cell, (xs, hc), ["x", "h", "c"], [(xs, *hc)])
    _assert_close(got[0], _reference(cell, (xs, hc)))


class Generator(nn.Module):
    """A DCGAN generator in small, with the padding/scan/rounding ops some scripts use."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(8, 16, 4, 1, 0, bias=False), nn.BatchNorm2d(16), nn.ReLU(True),
            nn.ConvTranspose2d(16, 4, 4, 2, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.ConvTranspose2d(4, 1, 3, 2, 1, output_padding=1),
            nn.Tanh())

    def forward(self, z):
        img = self.main(z)
        flat = img.flatten(1)
        stats = flat.cumsum(1)[:, -1:] + flat.norm(dim=1, keepdim=True)
        top, where = flat.max(dim=1)
        mixed = tg.einsum("nc,nc->n", flat, flat.sigmoid())
        return (img, (stats * 4).floor() + img.abs().sum(dim=(2, 3)).round(),
                top + mixed, where)


def test_dcgan_generator_and_more_ops_match_onnxruntime():
    gen = _randomize(Generator(), seed=7)
    z = tg.randn(3, 8, 1, 1)
    got, proto = _export_and_run(gen, (z,), ["z"], [(z,)])
    assert {"ConvTranspose", "CumSum", "ReduceL2", "Floor", "Round", "ArgMax", "Einsum"} <= {
        n.op_type for n in proto.graph.node}
    _assert_close(got[0], _reference(gen, (z,)))


def test_unsupported_operations_and_arguments_raise():
    loss = nn.CrossEntropyLoss()
    with pytest.raises(UnsupportedOperatorError, match="CrossEntropyFn"):
        export(lambda z: loss(z, tg.tensor([1, 0])), (tg.randn(2, 3),), io.BytesIO())
    model = nn.Linear(2, 2)
    x = tg.randn(1, 2)
    with pytest.raises(ValueError, match="opset_version 12"):
        export(model, (x,), io.BytesIO(), opset_version=12)
    with pytest.raises(NotImplementedError, match="export_params=False"):
        export(model, (x,), io.BytesIO(), export_params=False)
    with pytest.raises(NotImplementedError, match="training"):
        export(model, (x,), io.BytesIO(), training="TrainingMode.TRAINING")
    with pytest.raises(TypeError, match="custom_opsets"):
        export(model, (x,), io.BytesIO(), custom_opsets={"x": 1})
    with pytest.raises(ValueError, match="dynamic_axes names"):
        export(model, (x,), io.BytesIO(), dynamic_axes={"nope": [0]})
    with pytest.raises(ValueError, match="2 input_names for 1"):
        export(model, (x,), io.BytesIO(), input_names=["a", "b"])
    with pytest.warns(UserWarning, match="input 'input_1' does not reach"):
        export(lambda a, b: model(a), (x, tg.randn(1, 2)), io.BytesIO())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        export(model, x, io.BytesIO(), dynamo=True, do_constant_folding=False)


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x, scale=1.0):
        return self.fc(x) * scale


def test_keyword_arguments_as_torch():
    """A trailing dict in ``args`` (or ``kwargs=``) holds keyword arguments (constants)."""
    model = _randomize(Scaled(), seed=8)
    x = tg.randn(4, 3)
    for how in ({"args": (x, {"scale": 2.5})}, {"args": (x,), "kwargs": {"scale": 2.5}}):
        buf = io.BytesIO()
        export(model, f=buf, input_names=["x"], **how)
        got = ort.InferenceSession(buf.getvalue()).run(None, {"x": x.array})
        model.eval()
        np.testing.assert_allclose(got[0], model(x, scale=2.5).detach().numpy(), rtol=1e-6)


class RoundedDivisions(nn.Module):
    """Tensor-bound clamps, rounded divisions and remainders (float inputs)."""

    def forward(self, x, y, lo, hi):
        return (x.clamp(lo, hi), x.clamp(min=lo), x.clamp(max=hi),
                x.div(y, rounding_mode="floor"), x.div(y, rounding_mode="trunc"), x // 0.1,
                x % y, x.fmod(y))


def test_tensor_bounds_and_rounded_divisions_match_onnxruntime():
    """Python's floor rules at their edges (1 // 0.1 = 9, -5 // inf = -1, signs of %) and
    division by zero, against onnxruntime exactly."""
    x = tg.tensor(np.array([1.0, -5.0, 7.5, -7.5, 3.0, -0.0, 2.0, 1e-3, -4.0], np.float32))
    y = tg.tensor(np.array([0.1, np.inf, 2.0, 2.0, -2.0, 3.0, 0.0, -7.0, -np.inf], np.float32))
    lo = tg.tensor(np.array([0.5, -6.0, 8.0, -8.0, 3.0, 1.0, 2.5, -1.0, 0.0], np.float32))
    hi = tg.tensor(np.array([0.7, -1.0, 9.0, -7.0, 3.0, 0.5, 1.0, 1.0, 0.0], np.float32))
    model = RoundedDivisions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # onnxruntime's x / 0 and fmod(x, 0)
        got, proto = _export_and_run(model, (x, y, lo, hi), ["x", "y", "lo", "hi"],
                                     [(x, y, lo, hi)])
    assert {"Max", "Min", "Mod", "Round", "Where"} <= {n.op_type for n in proto.graph.node}
    want = _reference(model, (x, y, lo, hi))
    for g, w in zip(got[0], want):
        np.testing.assert_array_equal(g, w)


class ElementwiseMath(nn.Module):
    """The elementwise math functions with ONNX conversions (tensor_math.py)."""

    def forward(self, x, y, p):
        return (x.tan(), (x * 0.3).asin(), (x * 0.3).acos(), x.atan(), x.sinh(), x.cosh(),
                x.asinh(), (x.abs() + 1).acosh(), (x * 0.3).atanh(), x.exp2(), x.sinc(),
                tg.logit(p), tg.logit(p, eps=0.2), tg.logaddexp(x, y), tg.logaddexp2(x, y),
                tg.xlogy(x, y.abs()), tg.special.xlog1py(x, y.abs()), tg.hypot(x, y),
                tg.fmax(x, y), tg.fmin(x, y), tg.nan_to_num(y), tg.nan_to_num(y, 1.0, 2.0, -3.0))


def test_elementwise_math_matches_onnxruntime():
    """Values inside the domains and at the edges (0 for sinc and xlogy, ties and infinities
    for logaddexp, NaN for fmax/fmin and nan_to_num) against onnxruntime."""
    x = tg.tensor(np.array([0.0, 0.5, -1.2, 2.0, -0.7, 1.0, np.inf, 0.0, -np.inf], np.float32))
    y = tg.tensor(np.array([0.0, 0.5, 3.0, -2.0, np.nan, 1.0, np.inf, np.nan, -np.inf],
                           np.float32))
    p = tg.tensor(np.array([0.5, 0.1, 0.9, 0.3, 0.0, 1.0, 0.25, 0.75, 0.6], np.float32))
    model = ElementwiseMath()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # tan(inf), asin(inf), ...
        got, proto = _export_and_run(model, (x, y, p), ["x", "y", "p"], [(x, y, p)])
        want = _reference(model, (x, y, p))
    assert {"Tan", "Asin", "Acosh", "Atanh", "IsNaN", "IsInf", "Pow"} <= {
        n.op_type for n in proto.graph.node}
    assert len(got[0]) == len(want) == 22
    for g, w in zip(got[0], want):
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-6, equal_nan=True)
