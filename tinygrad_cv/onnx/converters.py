"""ONNX conversions of the tape's Functions, one per class name.

Each converter gets a ``Call`` (the builder, the recorded node's keyword arguments, the names
of its inputs and the arrays it read and wrote) and returns the ONNX names of its outputs.
Fused layers (normalisations, GELU, SiLU, attention) are written out in standard ONNX ops
(opset 17), so any runtime runs them; the arithmetic follows the layers' own formulas.
"""
from __future__ import annotations

import math

from .. import backend
from .graph import onnx_dtype

INT64_MAX = 2 ** 63 - 1


class UnsupportedOperatorError(NotImplementedError):
    """The traced graph uses an operation that has no ONNX conversion (named in the message)."""


class Call:
    """One recorded node as the converters see it."""

    def __init__(self, g, node, names, in_arrays, out_arrays, opset):
        self.g = g
        self.node = node
        self.kwargs = dict(getattr(node, "onnx_kwargs", {}) or {})
        self.names = names
        self.in_arrays = in_arrays
        self.out_arrays = out_arrays
        self.opset = opset

    @property
    def op(self):
        return type(self.node).__name__

    def out(self, i=0):
        return self.out_arrays[i]

    def fail(self, why):
        raise UnsupportedOperatorError(f"onnx.export: cannot export {self.op}: {why}")


# ---- helpers ----------------------------------------------------------------------------------
def reshape(c, name, in_shape, out_shape):
    """Reshape ``name`` (of ``in_shape``) to ``out_shape``.  With dynamic axes the target is
    computed from the input's runtime shape (``view_groups``), so a symbolic axis survives
    merges (``view(-1, C)``), splits and inserted unit axes."""
    groups = view_groups(in_shape, out_shape) if c.g.dynamic else None
    if groups is None:
        return c.g.node("Reshape", [name, c.g.ints(out_shape)])
    g = c.g
    shape = g.node("Shape", [name])
    pieces = []
    for ins, outs in groups:
        sizes = [out_shape[j] for j in outs]
        free = next((k for k, n in enumerate(sizes) if n != 1), None)
        if not ins or free is None:
            pieces.append(g.ints(sizes))
            continue
        total = reduce(c, "ReduceProd", g.node("Gather", [shape, g.ints(ins)], axis=0), [0],
                       True)
        rest = math.prod(n for k, n in enumerate(sizes) if k != free)
        size = g.node("Div", [total, g.ints([rest])])
        pieces += [g.ints(sizes[:free]), size, g.ints(sizes[free + 1:])]
    target = g.node("Concat", [p for p in pieces if p], axis=0)
    return g.node("Reshape", [name, target])


def view_groups(in_shape, out_shape):
    """Consecutive axes of ``in_shape`` and ``out_shape`` with equal products, as
    ``[(input axes, output axes), ...]`` (how a row-major view regroups them), or None when
    a size is 0 or the shapes do not regroup."""
    if 0 in in_shape or 0 in out_shape:
        return None
    groups, i, j = [], 0, 0
    while i < len(in_shape) or j < len(out_shape):
        ins, outs = [], []
        take_in, take_out = i < len(in_shape), j < len(out_shape)   # one of each to start
        while take_in or take_out:
            if take_in:
                ins.append(i)
                i += 1
            if take_out:
                outs.append(j)
                j += 1
            p_in = math.prod(in_shape[k] for k in ins)
            p_out = math.prod(out_shape[k] for k in outs)
            take_in = p_in < p_out and i < len(in_shape)
            take_out = p_out < p_in and j < len(out_shape)
        if p_in != p_out:
            return None
        groups.append((ins, outs))
    return groups


def reduce(c, op, name, axes, keepdims):
    """ReduceSum (axes as input since opset 13) or ReduceMean/ReduceMax (axes as input from
    opset 18, attribute before)."""
    axes = [int(a) for a in axes]
    if op == "ReduceSum" or c.opset >= 18:
        return c.g.node(op, [name, c.g.ints(axes)], keepdims=int(keepdims))
    return c.g.node(op, [name], axes=axes, keepdims=int(keepdims))


def scalar(c, value, like=None):
    return c.g.const(value, (like if like is not None else c.out()).dtype)


def moments_normalize(c, x, axes, eps, dtype):
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance, as the layers)."""
    g = c.g
    mean = reduce(c, "ReduceMean", x, axes, True)
    centered = g.node("Sub", [x, mean])
    var = reduce(c, "ReduceMean", g.node("Mul", [centered, centered]), axes, True)
    std = g.node("Sqrt", [g.node("Add", [var, g.const(eps, dtype)])])
    return g.node("Div", [centered, std])


def affine(c, y, weight, bias, shape):
    """y * weight + bias with the parameters reshaped to ``shape`` (either may be None)."""
    g = c.g
    if weight is not None:
        y = g.node("Mul", [y, g.node("Reshape", [weight, g.ints(shape)])])
    if bias is not None:
        y = g.node("Add", [y, g.node("Reshape", [bias, g.ints(shape)])])
    return y


# ---- elementwise ------------------------------------------------------------------------------
UNARY = {"Neg": "Neg", "Abs": "Abs", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Sin": "Sin",
         "Cos": "Cos", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "ReLU": "Relu", "Erf": "Erf",
         "Copy": "Identity", "ToDevice": "Identity", "Tan": "Tan", "Asin": "Asin",
         "Acos": "Acos", "Atan": "Atan", "Sinh": "Sinh", "Cosh": "Cosh", "Asinh": "Asinh",
         "Acosh": "Acosh", "Atanh": "Atanh"}
BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow",
          "Maximum": "Max", "Minimum": "Min", "MatMul": "MatMul"}


def unary(c):
    return c.g.node(UNARY[c.op], [c.names[0]])


def binary(c):
    return c.g.node(BINARY[c.op], c.names[:2])


def where(c):
    return c.g.node("Where", c.names[:3])


def cast(c):
    return c.g.node("Cast", [c.names[0]], to=onnx_dtype(c.out().dtype))


def clamp(c):
    lo, hi = c.kwargs.get("lo"), c.kwargs.get("hi")
    ins = [c.names[0], "" if lo is None else scalar(c, lo), "" if hi is None else scalar(c, hi)]
    while ins[-1] == "":
        ins.pop()
    return c.g.node("Clip", ins)


def clamp_min_value(c):
    return c.g.node("Max", [c.names[0], scalar(c, c.kwargs.get("lo", 0.0))])


def _in_out_dtype(c, i):
    """Input ``i`` cast to the output's dtype when it has another one (ONNX's elementwise ops
    take one dtype; the framework's promotion already chose the result's)."""
    a = c.in_arrays[i]
    if a is None or not hasattr(a, "dtype") or a.dtype == c.out().dtype:
        return c.names[i]
    return c.g.node("Cast", [c.names[i]], to=onnx_dtype(c.out().dtype))


def clamp_tensor(c):
    """min(max(x, lo), hi) with tensor bounds (either may be absent)."""
    y = _in_out_dtype(c, 0)
    if c.names[1]:
        y = c.g.node("Max", [y, _in_out_dtype(c, 1)])
    if c.names[2]:
        y = c.g.node("Min", [y, _in_out_dtype(c, 2)])
    return y


def _divmod_parts(c):
    """(a, b, r) for a float division: r = fmod(a, b) (the sign of a), as ONNX's Mod gives it."""
    a, b = _in_out_dtype(c, 0), _in_out_dtype(c, 1)
    return a, b, c.g.node("Mod", [a, b], fmod=1)


def _floor_fix(c, r, b):
    """Where the truncated remainder r is nonzero with the sign opposite to b's: the floor
    rounding is one step below the truncated one (Python's divmod)."""
    g = c.g
    zero = scalar(c, 0)
    return g.node("And", [g.node("Not", [g.node("Equal", [r, zero])]),
                          g.node("Xor", [g.node("Less", [r, zero]), g.node("Less", [b, zero])])])


def div_rounded(c):
    """a / b rounded by ``mode`` (floats: integer results are not recorded on the tape).
    floor: exact floor division as NumPy's floor_divide computes it, q = round((a - fmod(a,
    b)) / b), less 1 where fmod's sign is not b's (a / b where b is 0).  trunc: trunc(a / b)."""
    g = c.g
    if c.kwargs.get("mode", "floor") != "floor":
        d = g.node("Div", [_in_out_dtype(c, 0), _in_out_dtype(c, 1)])
        return g.node("Where", [g.node("Less", [d, scalar(c, 0)]), g.node("Ceil", [d]),
                                g.node("Floor", [d])])
    a, b, r = _divmod_parts(c)
    q = g.node("Round", [g.node("Div", [g.node("Sub", [a, r]), b])])
    q = g.node("Where", [_floor_fix(c, r, b), g.node("Sub", [q, scalar(c, 1)]), q])
    return g.node("Where", [g.node("Equal", [b, scalar(c, 0)]), g.node("Div", [a, b]), q])


def remainder(c):
    """a - b q for the division rounded by ``mode`` (floats): trunc is ONNX's Mod with fmod=1
    (the sign of a), floor adds b where that remainder's sign is not b's."""
    g = c.g
    a, b, r = _divmod_parts(c)
    if c.kwargs.get("mode", "floor") != "floor":
        return r
    return g.node("Where", [_floor_fix(c, r, b), g.node("Add", [r, b]), r])


def log1p(c):
    return c.g.node("Log", [c.g.node("Add", [c.names[0], scalar(c, 1.0)])])


def expm1(c):
    return c.g.node("Sub", [c.g.node("Exp", [c.names[0]]), scalar(c, 1.0)])


def exp2(c):
    return c.g.node("Pow", [scalar(c, 2.0), c.names[0]])


def sinc(c):
    """sin(pi x) / (pi x), 1 at 0."""
    g, x = c.g, c.names[0]
    px = g.node("Mul", [x, scalar(c, math.pi)])
    zero = g.node("Equal", [x, scalar(c, 0.0)])
    safe = g.node("Where", [zero, scalar(c, 1.0), px])
    return g.node("Where", [zero, scalar(c, 1.0), g.node("Div", [g.node("Sin", [safe]), safe])])


def logit(c):
    """log(p / (1 - p)), p clipped to [eps, 1 - eps] when eps is given."""
    g, p = c.g, c.names[0]
    eps = c.kwargs.get("eps")
    if eps is not None:
        p = g.node("Clip", [p, scalar(c, eps), scalar(c, 1.0 - eps)])
    return g.node("Log", [g.node("Div", [p, g.node("Sub", [scalar(c, 1.0), p])])])


def log_add_exp(c):
    """max + log(1 + e^-|a - b|) (base 2: powers and logarithms of 2); a + log 2 where a = b
    (also at equal infinities)."""
    g, (a, b) = c.g, c.names[:2]
    base2 = math.isclose(c.kwargs.get("base", math.e), 2.0)
    m = g.node("Max", [a, b])
    gap = g.node("Neg", [g.node("Abs", [g.node("Sub", [a, b])])])
    if base2:
        rest = g.node("Div", [g.node("Log", [g.node("Add", [
            scalar(c, 1.0), g.node("Pow", [scalar(c, 2.0), gap])])]), scalar(c, math.log(2.0))])
        tie = g.node("Add", [a, scalar(c, 1.0)])
    else:
        rest = g.node("Log", [g.node("Add", [scalar(c, 1.0), g.node("Exp", [gap])])])
        tie = g.node("Add", [a, scalar(c, math.log(2.0))])
    return g.node("Where", [g.node("Equal", [a, b]), tie, g.node("Add", [m, rest])])


def xlogy(c):
    """a log b (log(1 + b) for xlog1py), 0 where a = 0 and b is not NaN."""
    g, (a, b) = c.g, c.names[:2]
    if c.kwargs.get("log1p"):
        b = g.node("Add", [b, scalar(c, 1.0)])
    zero = g.node("And", [g.node("Equal", [a, scalar(c, 0.0)]),
                          g.node("Not", [g.node("IsNaN", [c.names[1]])])])
    return g.node("Where", [zero, scalar(c, 0.0), g.node("Mul", [a, g.node("Log", [b])])])


def hypot(c):
    """sqrt(a^2 + b^2) (ONNX has no overflow-free form: |a|, |b| above 1.8e19 in float32
    overflow where the framework's does not)."""
    g, (a, b) = c.g, c.names[:2]
    return g.node("Sqrt", [g.node("Add", [g.node("Mul", [a, a]), g.node("Mul", [b, b])])])


def f_extremum(c):
    """fmax / fmin: the other operand where one is NaN, else Max / Min."""
    g, (a, b) = c.g, c.names[:2]
    both = g.node("Max" if c.kwargs.get("kind", "fmax") == "fmax" else "Min", [a, b])
    return g.node("Where", [g.node("IsNaN", [a]), b,
                            g.node("Where", [g.node("IsNaN", [b]), a, both])])


def nan_to_num(c):
    """NaN, +inf, -inf replaced (defaults: 0 and the dtype's extreme finite values)."""
    g, x = c.g, c.names[0]
    info = backend.module_for_device("cpu").finfo(c.out().dtype)
    k = c.kwargs
    nan, posinf, neginf = (k.get("nan", 0.0), k.get("posinf"), k.get("neginf"))
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    y = g.node("Where", [g.node("IsInf", [x], detect_negative=0), scalar(c, posinf), x])
    y = g.node("Where", [g.node("IsInf", [x], detect_positive=0), scalar(c, neginf), y])
    return g.node("Where", [g.node("IsNaN", [x]), scalar(c, nan), y])


def leaky_relu(c):
    return c.g.node("LeakyRelu", [c.names[0]], alpha=float(c.kwargs.get("negative_slope", 0.01)))


def silu(c):
    x = c.names[0]
    return c.g.node("Mul", [x, c.g.node("Sigmoid", [x])])


def hardswish(c):
    """x hardsigmoid(x) with hardsigmoid's slope 1/6 and offset 1/2 (every opset)."""
    x = c.names[0]
    return c.g.node("Mul", [x, c.g.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])


def elu(c):
    """scale x for x > 0, else scale alpha (exp(input_scale x) - 1) (elu, selu, celu)."""
    g, x, k = c.g, c.names[0], c.kwargs
    alpha, scale = k.get("alpha", 1.0), k.get("scale", 1.0)
    scaled = g.node("Mul", [x, scalar(c, k.get("input_scale", 1.0))])
    below = g.node("Elu", [g.node("Min", [scaled, scalar(c, 0.0)])], alpha=1.0)
    return g.node("Where", [g.node("Greater", [x, scalar(c, 0.0)]),
                            g.node("Mul", [x, scalar(c, scale)]),
                            g.node("Mul", [below, scalar(c, alpha * scale)])])


def softplus(c):
    """log(1 + exp(beta x)) / beta, x where beta x > threshold."""
    g, x = c.g, c.names[0]
    beta, threshold = c.kwargs.get("beta", 1.0), c.kwargs.get("threshold", 20.0)
    scaled = g.node("Mul", [x, scalar(c, beta)])
    smooth = g.node("Div", [g.node("Softplus", [g.node("Min", [scaled, scalar(c, threshold)])]),
                            scalar(c, beta)])
    return g.node("Where", [g.node("Greater", [scaled, scalar(c, threshold)]), x, smooth])


def log_sigmoid(c):
    """min(x, 0) - log(1 + exp(-|x|))."""
    g, x = c.g, c.names[0]
    tail = g.node("Log", [g.node("Add", [scalar(c, 1.0), g.node("Exp", [
        g.node("Neg", [g.node("Abs", [x])])])])])
    return g.node("Sub", [g.node("Min", [x, scalar(c, 0.0)]), tail])


def mish(c):
    """x tanh(softplus(x))."""
    x = c.names[0]
    return c.g.node("Mul", [x, c.g.node("Tanh", [c.g.node("Softplus", [x])])])


def gelu(c):
    """0.5 x (1 + erf(x / sqrt 2)), or with tanh(sqrt(2/pi) (x + 0.044715 x^3))."""
    g, x = c.g, c.names[0]
    if c.kwargs.get("approximate", "none") == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, scalar(c, 0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, scalar(c, math.sqrt(2.0 / math.pi))])])
    else:
        t = g.node("Erf", [g.node("Mul", [x, scalar(c, 1.0 / math.sqrt(2.0))])])
    half_x = g.node("Mul", [x, scalar(c, 0.5)])
    return g.node("Mul", [half_x, g.node("Add", [t, scalar(c, 1.0)])])


# ---- reductions, softmax ----------------------------------------------------------------------
def _axes(c):
    axes = c.kwargs.get("axes")
    ndim = c.in_arrays[0].ndim
    if axes is None:
        return list(range(ndim))
    axes = (axes,) if isinstance(axes, int) else axes
    return [a % max(ndim, 1) for a in axes]


def reduction(c):
    op = {"Sum": "ReduceSum", "Mean": "ReduceMean", "Extremum": "ReduceMax"}[c.op]
    if c.op == "Extremum" and c.kwargs.get("pick", "max") != "max":
        op = "ReduceMin"
    keepdims = c.out().ndim == c.in_arrays[0].ndim
    return reduce(c, op, c.names[0], _axes(c), keepdims)


def softmax(c):
    op = "Softmax" if c.op == "Softmax" else "LogSoftmax"
    return c.g.node(op, [c.names[0]], axis=int(c.kwargs.get("axis", -1)))


# ---- shapes and indexing ----------------------------------------------------------------------
def reshape_node(c):
    return reshape(c, c.names[0], c.in_arrays[0].shape, c.out().shape)


def permute(c):
    return c.g.node("Transpose", [c.names[0]], perm=[int(a) for a in c.kwargs["axes"]])


def expand(c):
    in_shape, out_shape = c.in_arrays[0].shape, c.out().shape
    pad = (1,) * (len(out_shape) - len(in_shape)) + tuple(in_shape)
    target = [1 if a == b else b for a, b in zip(pad, out_shape)]  # bidirectional broadcast
    return c.g.node("Expand", [c.names[0], c.g.ints(target)])


def cat(c):
    return c.g.node("Concat", list(c.names), axis=int(c.kwargs.get("axis", 0)))


def pad(c):
    widths = c.kwargs["widths"]
    pads = [int(b) for b, _ in widths] + [int(e) for _, e in widths]
    value = c.kwargs.get("value", 0.0)
    return c.g.node("Pad", [c.names[0], c.g.ints(pads), scalar(c, value)], mode="constant")


def getitem(c):
    """Basic indexing (ints, slices, None, Ellipsis) and one integer-array index."""
    index = c.kwargs.get("index")
    items = list(index) if isinstance(index, tuple) else [index]
    shape = c.in_arrays[0].shape
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    if any(i is Ellipsis for i in items):
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (len(shape) - n_real)
    items += [slice(None)] * (len(shape) - sum(1 for i in items if i is not None))
    g, x = c.g, c.names[0]
    starts, ends, axes, steps, squeeze, unsqueeze, gathers = [], [], [], [], [], [], []
    axis = 0
    for pos, item in enumerate(items):
        if item is None:
            unsqueeze.append(pos)
            continue
        if isinstance(item, slice):
            if item != slice(None):
                start, stop, step = item.indices(shape[axis])
                if step < 0 and stop < 0:
                    stop = -INT64_MAX
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
        elif isinstance(item, int) and not isinstance(item, bool):
            i = item % shape[axis]
            starts.append(i), ends.append(i + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        elif backend.is_array(item) and item.dtype.kind in "iu":
            gathers.append((axis, item))
        else:
            c.fail(f"index {item!r} (only ints, slices, None, Ellipsis and one integer array)")
        axis += 1
    if len(gathers) > 1 or (gathers and (squeeze or unsqueeze)):
        c.fail("more than one advanced index, or an advanced index mixed with ints or None")
    if axes:
        x = g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if gathers:
        gax, idx = gathers[0]
        x = g.node("Gather", [x, g.const(idx, "int64")], axis=gax)
    if squeeze:
        x = g.node("Squeeze", [x, g.ints(squeeze)])
    if unsqueeze:
        # positions in the output, counted after the squeezed axes are gone
        out_positions, dropped = [], 0
        for pos, item in enumerate(items):
            if item is None:
                out_positions.append(pos - dropped)
            elif isinstance(item, int) and not isinstance(item, bool):
                dropped += 1
        x = g.node("Unsqueeze", [x, g.ints(out_positions)])
    if x == c.names[0]:
        x = g.node("Identity", [x])
    return x


# ---- layers -----------------------------------------------------------------------------------
def linear(c):
    g = c.g
    x, w, b = (list(c.names) + [None])[:3]
    if c.in_arrays[0].ndim == 2:
        return g.node("Gemm", [x, w] + ([b] if b else []), transB=1)
    y = g.node("MatMul", [x, g.node("Transpose", [w], perm=[1, 0])])
    return g.node("Add", [y, b]) if b else y


def feed_forward_relu(c):
    """FeedForwardReLUFn: Gemm (W1, b1), Relu, Gemm (W2, b2) on the (R, D) input."""
    if c.kwargs.get("keep") is not None:
        c.fail("dropout inside the feed-forward block (export runs the model in eval mode)")
    g = c.g
    x, w1, b1, w2, b2 = (list(c.names) + [""] * 5)[:5]
    h = g.node("Relu", [g.node("Gemm", [x, w1] + ([b1] if b1 else []), transB=1)])
    return g.node("Gemm", [h, w2] + ([b2] if b2 else []), transB=1)


def conv2d(c):
    k = c.kwargs
    top, bottom, left, right = k.get("pads", (0, 0, 0, 0))
    ins = [n for n in c.names[:3] if n]
    return c.g.node("Conv", ins, strides=list(k.get("stride", (1, 1))),
                    pads=[top, left, bottom, right], dilations=list(k.get("dilation", (1, 1))),
                    group=int(k.get("groups", 1)), kernel_shape=list(c.in_arrays[1].shape[2:]))


def pool2d(c):
    k = c.kwargs
    kernel, stride, padding = k.get("kernel", (2, 2)), k.get("stride", (2, 2)), \
        k.get("padding", (0, 0))
    attrs = dict(kernel_shape=list(kernel), strides=list(stride),
                 pads=[padding[0], padding[1], padding[0], padding[1]])
    if c.op == "AvgPool2dFn":
        attrs["count_include_pad"] = 1
    return c.g.node("MaxPool" if c.op == "MaxPool2dFn" else "AveragePool", [c.names[0]], **attrs)


def batch_norm(c):
    k = c.kwargs
    if k.get("training", True):
        c.fail("batch statistics in training mode (export runs the model in eval mode; this "
               "layer was called with training=True)")
    g, x = c.g, c.names[0]
    channels = c.in_arrays[0].shape[1]
    dtype = c.out().dtype
    weight = c.names[1] if len(c.names) > 1 and c.names[1] else g.const([1.0] * channels, dtype)
    bias = c.names[2] if len(c.names) > 2 and c.names[2] else g.const([0.0] * channels, dtype)
    mean, var = k.get("running_mean"), k.get("running_var")
    if mean is None or var is None:
        c.fail("no running statistics (track_running_stats=False)")
    return g.node("BatchNormalization", [x, weight, bias, c.g.param(mean), c.g.param(var)],
                  epsilon=float(k.get("eps", 1e-5)))


def grouped_norm(c):
    """layer_norm's node: normalise the ``stat_shape`` view over ``axes``, then the affine map."""
    k = c.kwargs
    in_shape = c.in_arrays[0].shape
    xs = reshape(c, c.names[0], in_shape, k["stat_shape"])
    y = moments_normalize(c, xs, k["axes"], float(k.get("eps", 1e-5)), c.out().dtype)
    y = reshape(c, y, k["stat_shape"], in_shape)
    names = list(c.names) + [None, None]
    return affine(c, y, names[1], names[2], k["param_shape"])


def group_norm(c):
    k = c.kwargs
    shape = c.in_arrays[0].shape
    groups = int(k.get("groups", 1))
    grouped = (shape[0], groups, -1)
    xs = reshape(c, c.names[0], shape, grouped)
    y = moments_normalize(c, xs, [2], float(k.get("eps", 1e-5)), c.out().dtype)
    y = reshape(c, y, grouped, shape)
    names = list(c.names) + [None, None]
    return affine(c, y, names[1], names[2], [shape[1]] + [1] * (len(shape) - 2))


def embedding(c):
    return c.g.node("Gather", [c.names[0], c.names[1]], axis=0)


def attention(c):
    """softmax(q k^T * scale [+ mask]) v, the mask boolean (where) or additive."""
    k = c.kwargs
    if k.get("dropout_p", 0.0):
        c.fail("attention dropout (export runs the model in eval mode; dropout_p > 0 was "
               "passed)")
    g = c.g
    q, key, v = c.names[:3]
    nd = c.in_arrays[1].ndim
    perm = list(range(nd - 2)) + [nd - 1, nd - 2]
    s = g.node("MatMul", [q, g.node("Transpose", [key], perm=perm)])
    s = g.node("Mul", [s, scalar(c, k.get("scale", 1.0))])
    mask = k.get("mask")
    if mask is not None:
        m = g.param(mask)
        if mask.dtype == bool:
            s = g.node("Where", [m, s, scalar(c, -math.inf)])
        else:
            s = g.node("Add", [s, m])
    p = g.node("Softmax", [s], axis=-1)
    out = g.node("MatMul", [p, v])
    return [out, p] if k.get("return_weights") else out


def packed_attention(c):
    """PackedSelfAttention: [Q | K | V] (A, B, 3E) split into heads (N, h, L, d), attention
    with the additive mask, the heads merged back to (A, B, E); (A, B) = (N, L) or (L, N)."""
    k = c.kwargs
    if k.get("dropout_p", 0.0):
        c.fail("attention dropout (export runs the model in eval mode; dropout_p > 0 was "
               "passed)")
    g = c.g
    heads, batch_first = int(k.get("heads", 1)), bool(k.get("batch_first"))
    E = c.in_arrays[0].shape[-1] // 3
    x5 = g.node("Reshape", [c.names[0], g.ints([0, 0, 3, heads, E // heads])])
    perm = [0, 2, 1, 3] if batch_first else [1, 2, 0, 3]
    q, key, v = (g.node("Transpose", [g.node("Gather", [x5, g.const(j, "int64")], axis=2)],
                        perm=perm) for j in range(3))
    s = g.node("MatMul", [q, g.node("Transpose", [key], perm=[0, 1, 3, 2])])
    s = g.node("Mul", [s, scalar(c, k.get("scale", 1.0))])
    if k.get("mask") is not None:
        s = g.node("Add", [s, g.param(k["mask"])])
    p = g.node("Softmax", [s], axis=-1)
    o = g.node("Transpose", [g.node("MatMul", [p, v])],
               perm=[0, 2, 1, 3] if batch_first else [2, 0, 1, 3])
    out = g.node("Reshape", [o, g.ints([0, 0, E])])
    return [out, p] if k.get("return_weights") else out


def nearest_repeat(c):
    factors = c.kwargs.get("factors", (2, 2))      # (fh, fw), or (fd, fh, fw) for volumes
    scales = c.g.const([1.0, 1.0] + [float(f) for f in factors], "float32")
    return c.g.node("Resize", [c.names[0], "", scales], mode="nearest",
                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def separable_linear(c):
    """A @ x @ B^T with the constant interpolation matrices A (Ho, H), B (Wo, W)."""
    a, b = c.kwargs["a"], c.kwargs["b"]
    g = c.g
    dtype = c.out().dtype
    y = g.node("MatMul", [g.const(a, dtype), c.names[0]])
    return g.node("MatMul", [y, g.const(backend.to_numpy(b).T, dtype)])


def conv_transpose2d(c):
    k = c.kwargs
    ph, pw = k.get("padding", (0, 0))
    ins = [n for n in c.names[:3] if n]
    return c.g.node("ConvTranspose", ins, strides=list(k.get("stride", (1, 1))),
                    pads=[ph, pw, ph, pw], output_padding=list(k.get("output_padding", (0, 0))),
                    dilations=list(k.get("dilation", (1, 1))), group=int(k.get("groups", 1)),
                    kernel_shape=list(c.in_arrays[1].shape[2:]))


def border_pad(c):
    mode = c.kwargs.get("mode", "reflect")
    if mode not in ("reflect", "replicate"):
        c.fail(f"padding mode {mode!r} (reflect and replicate are exported)")
    widths = c.kwargs["widths"]
    pads = [int(b) for b, _ in widths] + [int(e) for _, e in widths]
    return c.g.node("Pad", [c.names[0], c.g.ints(pads)],
                    mode="reflect" if mode == "reflect" else "edge")


def cumsum(c):
    return c.g.node("CumSum", [c.names[0], c.g.const(int(c.kwargs.get("axis", 0)), "int64")])


def step(c):
    kind = c.kwargs.get("kind", "floor")
    ops = {"floor": "Floor", "ceil": "Ceil", "sign": "Sign", "round": "Round"}
    if kind not in ops or (kind == "round" and c.kwargs.get("decimals", 0)):
        c.fail(f"{kind} (floor, ceil, sign and round to an integer are exported)")
    return c.g.node(ops[kind], [c.names[0]])


def vector_norm(c):
    p = c.kwargs.get("p", 2.0)
    if p not in (1, 2):
        c.fail(f"the {p}-norm (the 1- and 2-norms are exported)")
    keepdims = c.out().ndim == c.in_arrays[0].ndim
    return reduce(c, "ReduceL1" if p == 1 else "ReduceL2", c.names[0], _axes(c), keepdims)


def extremum_dim(c):
    """max/min along one axis with the indices (the first of ties, as NumPy's argmax)."""
    k = c.kwargs
    axis = int(k.get("axis", 0)) % c.in_arrays[0].ndim
    keepdims = bool(k.get("keepdims", False))
    pick = "Max" if k.get("pick", "max") == "max" else "Min"
    values = reduce(c, "Reduce" + pick, c.names[0], [axis], keepdims)
    indices = c.g.node("Arg" + pick, [c.names[0]], axis=axis, keepdims=int(keepdims))
    return [values, indices]


def einsum(c):
    inputs, out = c.kwargs["spec"]
    return c.g.node("Einsum", list(c.names), equation=",".join(inputs) + "->" + out)


# gate blocks of the recurrent weights, from torch's order to ONNX's
_GATE_ORDER = {"LSTMSequence": (0, 3, 1, 2),   # i f g o -> i o f c
               "GRUSequence": (1, 0, 2),       # r z n   -> z r h
               "RNNSequence": (0,)}


def recurrent(c):
    """One layer and direction of RNN/LSTM/GRU as ONNX's RNN/LSTM/GRU node (the weights'
    gate blocks reordered into new initializers, as torch's exporter does)."""
    k = c.kwargs
    op = {"LSTMSequence": "LSTM", "GRUSequence": "GRU", "RNNSequence": "RNN"}[c.op]
    lstm = op == "LSTM"
    n_state = 2 if lstm else 1
    x, states = c.names[0], c.names[1:1 + n_state]
    if len(c.in_arrays) > 5 + n_state and c.in_arrays[5 + n_state] is not None:
        c.fail("an LSTM with a projection (proj_size > 0) has no ONNX LSTM form")
    w_ih, w_hh, b_ih, b_hh = (list(c.in_arrays[1 + n_state:]) + [None, None])[:4]
    order = _GATE_ORDER[c.op]
    hidden = w_hh.shape[1]
    xp = backend.module_for_device("cpu")

    def gates(a):
        a = backend.to_numpy(a)
        return xp.concatenate([a[g * hidden:(g + 1) * hidden] for g in order])[None]

    g, dtype = c.g, c.out().dtype
    zeros = xp.zeros(len(order) * hidden, dtype=dtype)
    bias = xp.concatenate([gates(b_ih if b_ih is not None else zeros)[0],
                           gates(b_hh if b_hh is not None else zeros)[0]])[None]
    single = c.in_arrays[0].ndim == 2
    if single:
        x = g.node("Unsqueeze", [x, g.ints([0])])
    ins = [x, g.const(gates(w_ih), dtype), g.const(gates(w_hh), dtype), g.const(bias, dtype), ""]
    ins += [g.node("Unsqueeze", [s, g.ints([0])]) for s in states]
    attrs = dict(hidden_size=int(hidden),
                 direction="reverse" if k.get("reverse") else "forward")
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = ["Relu" if k.get("nonlinearity") == "relu" else "Tanh"]
    y, *finals = g.node(op, ins, n_outputs=1 + n_state, **attrs)
    finals = [g.node("Squeeze", [f, g.ints([0])]) for f in finals]
    if single:
        return finals if lstm else finals[0]
    return [g.node("Squeeze", [y, g.ints([1])])] + finals


CONVERTERS = {
    **{name: unary for name in UNARY}, **{name: binary for name in BINARY},
    "Where": where, "Cast": cast, "Clamp": clamp, "ClampMinValue": clamp_min_value,
    "ClampTensor": clamp_tensor, "DivRounded": div_rounded, "Remainder": remainder,
    "Log1p": log1p, "Expm1": expm1, "Exp2": exp2, "Sinc": sinc, "Logit": logit,
    "LogAddExp": log_add_exp, "Xlogy": xlogy, "Hypot": hypot, "FExtremum": f_extremum,
    "NanToNum": nan_to_num, "LeakyReLUFn": leaky_relu, "SiLUFn": silu,
    "GELUFn": gelu, "Sum": reduction, "Mean": reduction, "Extremum": reduction,
    "Softmax": softmax, "LogSoftmax": softmax, "Reshape": reshape_node, "Permute": permute,
    "Expand": expand, "Cat": cat, "ConstantPad": pad, "GetItem": getitem, "LinearFn": linear,
    "FeedForwardReLUFn": feed_forward_relu,
    "Conv2dFn": conv2d, "MaxPool2dFn": pool2d, "AvgPool2dFn": pool2d, "BatchNormFn": batch_norm,
    "_GroupedNormFn": grouped_norm, "GroupNormFn": group_norm, "EmbeddingFn": embedding,
    "ScaledDotProductAttention": attention, "PackedSelfAttention": packed_attention,
    "NearestRepeatFn": nearest_repeat,
    "SeparableLinearFn": separable_linear, "LSTMSequence": recurrent,
    "GRUSequence": recurrent, "RNNSequence": recurrent, "ConvTranspose2dFn": conv_transpose2d,
    "BorderPad": border_pad, "Cumsum": cumsum, "Step": step, "VectorNorm": vector_norm,
    "ExtremumDim": extremum_dim, "Einsum": einsum, "HardswishFn": hardswish, "ELUFn": elu,
    "SoftplusFn": softplus, "LogSigmoidFn": log_sigmoid, "MishFn": mish,
}
