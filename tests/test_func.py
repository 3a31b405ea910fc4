"""``tinygrad_cv.func`` against torch.func 2.13: grad (argnums, has_aux, nested), grad_and_value,
vjp, jvp, jacrev, jacfwd, hessian, vmap (in_dims/out_dims, tuples, composed with grad) and
functional_call, on the same functions and inputs."""
import numpy as np
import pytest
import torch

import tinygrad_cv as tg
import tinygrad_cv.func as tgf
import torch.func as tf

pytestmark = [pytest.mark.usefixtures("torch_on_one_thread"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]   # (torch.func's import)

rng = np.random.default_rng(0)
X = rng.standard_normal((3,))
Y = rng.standard_normal((3,))
B = rng.standard_normal((4, 3))


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def f_scalar(lib):
    return lambda x, y: (x.sin() * y).sum() + (x * x).sum() * 0.5


def f_vector(lib):
    return lambda x: lib.stack([x.exp().sum(), (x * x * x).sum(), x[0] * x[1]])


def _close(a, b, rtol=1e-10):
    if isinstance(b, (tuple, list)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            _close(p, q, rtol)
        return
    np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=1e-12)


def test_grad_forms_match_torch():
    xo, yo, xt, yt = tg.tensor(X), tg.tensor(Y), torch.tensor(X), torch.tensor(Y)
    _close(tgf.grad(f_scalar(tg))(xo, yo), tf.grad(f_scalar(torch))(xt, yt))
    _close(tgf.grad(f_scalar(tg), argnums=1)(xo, yo), tf.grad(f_scalar(torch), argnums=1)(xt, yt))
    _close(tgf.grad(f_scalar(tg), argnums=(0, 1))(xo, yo),
           tf.grad(f_scalar(torch), argnums=(0, 1))(xt, yt))
    go, vo = tgf.grad_and_value(f_scalar(tg))(xo, yo)
    gt, vt = tf.grad_and_value(f_scalar(torch))(xt, yt)
    _close((go, vo), (gt, vt))
    aux_o = tgf.grad(lambda x: ((x * x).sum(), x * 2), has_aux=True)(xo)
    aux_t = tf.grad(lambda x: ((x * x).sum(), x * 2), has_aux=True)(xt)
    _close(aux_o, aux_t)
    # nested: the gradient of a sum of gradients (a Hessian-vector product)
    inner_o = lambda x: tgf.grad(lambda z: (z.sin() * z).sum())(x).sum()
    inner_t = lambda x: tf.grad(lambda z: (z.sin() * z).sum())(x).sum()
    _close(tgf.grad(inner_o)(xo), tf.grad(inner_t)(xt))
    with pytest.raises(RuntimeError, match="scalar"):
        tgf.grad(lambda x: x * 2)(xo)


def test_vjp_jvp_jacobians_hessian_match_torch():
    xo, xt = tg.tensor(X), torch.tensor(X)
    c = rng.standard_normal(3)
    outo, fno = tgf.vjp(f_vector(tg), xo)
    outt, fnt = tf.vjp(f_vector(torch), xt)
    _close(outo, outt)
    _close(fno(tg.tensor(c)), fnt(torch.tensor(c)))
    t = rng.standard_normal(3)
    _close(tgf.jvp(f_vector(tg), (xo,), (tg.tensor(t),)),
           tf.jvp(f_vector(torch), (xt,), (torch.tensor(t),)))
    _close(tgf.jacrev(f_vector(tg))(xo), tf.jacrev(f_vector(torch))(xt))
    _close(tgf.jacfwd(f_vector(tg))(xo), tf.jacfwd(f_vector(torch))(xt))
    _close(tgf.jacrev(f_scalar(tg), argnums=(0, 1))(xo, tg.tensor(Y)),
           tf.jacrev(f_scalar(torch), argnums=(0, 1))(xt, torch.tensor(Y)))
    h = lambda lib: (lambda x: (x.exp() * x).sum() + x[0] * x[2])
    _close(tgf.hessian(h(tg))(xo), tf.hessian(h(torch))(xt))
    _close(tgf.jacrev(tgf.jacrev(h(tg)))(xo), tf.jacrev(tf.jacrev(h(torch)))(xt))


def test_vmap_matches_torch():
    bo, bt = tg.tensor(B), torch.tensor(B)
    yo, yt = tg.tensor(Y), torch.tensor(Y)
    dot_o = lambda a, b: (a * b).sum()
    dot_t = lambda a, b: (a * b).sum()
    _close(tgf.vmap(dot_o, in_dims=(0, None))(bo, yo), tf.vmap(dot_t, in_dims=(0, None))(bt, yt))
    _close(tgf.vmap(lambda a: a * 2, in_dims=1, out_dims=1)(bo),
           tf.vmap(lambda a: a * 2, in_dims=1, out_dims=1)(bt))
    _close(tgf.vmap(lambda a: (a.sum(), a * a))(bo), tf.vmap(lambda a: (a.sum(), a * a))(bt))
    # per-sample gradients: vmap(grad(loss)) over a batch
    loss_o = lambda w, x: ((x * w).sum().tanh()) ** 2
    loss_t = lambda w, x: ((x * w).sum().tanh()) ** 2
    w = rng.standard_normal(3)
    _close(tgf.vmap(tgf.grad(loss_o), in_dims=(None, 0))(tg.tensor(w), bo),
           tf.vmap(tf.grad(loss_t), in_dims=(None, 0))(torch.tensor(w), bt))
    with pytest.raises(ValueError):
        tgf.vmap(dot_o)(bo, tg.tensor(rng.standard_normal((5, 3))))


def test_functional_call_matches_torch():
    mo, mt = tg.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    w, b = rng.standard_normal((2, 3)), rng.standard_normal(2)
    params_o = {"weight": tg.tensor(w), "bias": tg.tensor(b)}
    params_t = {"weight": torch.tensor(w), "bias": torch.tensor(b)}
    _close(tgf.functional_call(mo, params_o, (tg.tensor(B),)),
           tf.functional_call(mt.double(), params_t, (torch.tensor(B),)))
    # the gradient with respect to the parameters dict through grad
    g_o = tgf.grad(lambda p: tgf.functional_call(mo, p, (tg.tensor(B),)).sum())(params_o)
    g_t = tf.grad(lambda p: tf.functional_call(mt, p, (torch.tensor(B),)).sum())(params_t)
    _close([g_o["weight"], g_o["bias"]], [g_t["weight"], g_t["bias"]])
