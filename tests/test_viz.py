"""draw_graph shows every op of the forward pass and renders with Graphviz."""
import re
import shutil

import numpy as np
import pytest

import tinygrad_cv as tg
from tinygrad_cv.viz import draw_graph


def _mlp_loss():
    rng = np.random.default_rng(0)
    params = {"fc1.weight": tg.tensor(rng.standard_normal((4, 8)), requires_grad=True),
              "fc1.bias": tg.tensor(np.zeros(8), requires_grad=True),
              "fc2.weight": tg.tensor(rng.standard_normal((8, 3)), requires_grad=True),
              "fc2.bias": tg.tensor(np.zeros(3), requires_grad=True)}
    x = tg.tensor(rng.standard_normal((5, 4)))
    y = tg.tensor(np.eye(3)[[0, 1, 2, 1, 0]])
    h = (x @ params["fc1.weight"] + params["fc1.bias"]).relu()
    logits = h @ params["fc2.weight"] + params["fc2.bias"]
    loss = -(logits.log_softmax(-1) * y).sum(-1).mean()
    return loss, params


def _op_labels(dot):
    return re.findall(r"\[label=(\w+) [^\]]*shape=box", dot.source)


def test_graph_contains_every_forward_op():
    loss, params = _mlp_loss()
    dot = draw_graph(loss, params=params)
    ops = _op_labels(dot)
    assert sorted(ops) == sorted(["MatMul", "Add", "ReLU", "MatMul", "Add", "LogSoftmax", "Mul",
                                  "Sum", "Mean", "Neg"])
    for name in params:
        assert name in dot.source
    assert "(5, 4) float64" in dot.source and "(4, 8) float64" in dot.source
    assert dot.source.count("leaf") == len(params)          # the parameters
    assert "constant" in dot.source                         # x and y do not require grad
    # 10 ops, 4 parameters + 2 inputs + 10 op outputs, one edge per input and output of each op
    assert dot.source.count("->") == 2 * 6 + 1 * 3 + 10


def test_graph_options():
    loss, params = _mlp_loss()
    dot = draw_graph(loss, show_shapes=False, show_data=True)
    assert "float64" not in dot.source and "[" in dot.source
    loss.backward(retain_graph=True)
    dot = draw_graph(loss, params=params, show_grad=True)
    assert "grad (4, 8)" in dot.source
    loss.backward()                            # releases the graph: only the output is left
    assert _op_labels(draw_graph(loss)) == ["Neg"]   # -(...).mean(): Neg is last


def test_graph_from_a_module():
    nn = pytest.importorskip("tinygrad_cv.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("nn.Linear not available")
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    out = model(tg.randn(3, 4)).sum()
    src = draw_graph(out, params=model).source
    for name, _ in model.named_parameters():
        assert name in src


def test_deep_graph_is_drawn_iteratively():
    x = tg.randn(2, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    assert len(_op_labels(draw_graph(y))) == 3000


@pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz dot program is missing")
def test_renders_svg(tmp_path):
    loss, params = _mlp_loss()
    path = draw_graph(loss, params=params).render(str(tmp_path / "mlp"), format="svg")
    text = open(path).read()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "LogSoftmax" in text
