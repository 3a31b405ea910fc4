"""L-BFGS (Nocedal 1980; Liu & Nocedal 1989) with torch's iteration, stopping rules and
optional strong-Wolfe line search (the cubic-interpolation search of Nocedal & Wright,
Algorithms 3.5/3.6, as in minFunc).

All parameters are handled as one flat vector x with gradient g (concatenated in order).
One ``step(closure)`` runs up to ``max_iter`` iterations of::

    s_k = t_k d_k,  y_k = g_{k+1} - g_k;  keep (s, y, rho = 1/(y.s)) when y.s > 1e-10,
        at most history_size pairs, and the initial inverse Hessian H0 = (y.s)/(y.y)
    d = -H g by the two-loop recursion:
        q = -g;  for i newest..oldest: a_i = rho_i s_i.q,  q -= a_i y_i
        r = H0 q; for i oldest..newest: b_i = rho_i y_i.r,  r += (a_i - b_i) s_i
    t = lr (first iteration ever: min(1, 1/|g|_1) lr);   stop when g.d > -tolerance_change
    x <- x + t d  (fixed step), or t from the strong-Wolfe search (c1 = 1e-4, c2 = 0.9)

and stops early when max|g| <= tolerance_grad, the evaluations reach ``max_eval``, max|t d| or
the change of the loss fall under ``tolerance_change``.  The search state (direction, step,
history, previous gradient and loss) persists between ``step`` calls, kept under the first
parameter, as torch does.
"""
from __future__ import annotations

import copy
import numbers

from .. import backend
from ..autograd.versions import bump_version
from ..autograd import enable_grad, no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, _to_array, check_nonnegative

_VECTOR_STATE = ("d", "prev_flat_grad")
_LIST_STATE = ("old_dirs", "old_stps", "ro", "al")


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to
    ``bounds`` (default: the interval between x1 and x2); the bounds' midpoint when the cubic
    has no real minimiser::

        d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2),  d2 = sqrt(d1^2 - g1 g2)
        x* = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)      (x1 <= x2; symmetric else)
    """
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = disc ** 0.5
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step t along d satisfying the strong Wolfe conditions
    f(x + t d) <= f + c1 t g.d  and  |g(x + t d).d| <= c2 |g.d|.

    ``evaluate(t)`` returns (loss, flat gradient) at x + t d.  Phase 1 grows t (cubic
    extrapolation within [t + 0.01 (t - t_prev), 10 t]) until an interval brackets an
    acceptable point; phase 2 shrinks the bracket by cubic interpolation, moving a trial that
    lands within 10% of an end (twice in a row, or outside) to 10% inside.  Returns
    (loss, gradient, t, evaluations).
    """
    xp = backend.get_array_module(d)
    d_norm = xp.abs(d).max()
    g = g.copy()
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = None
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new.copy(), gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = [[t, f_new, g_new, gtd_new]]
            done = True
            break
        if gtd_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new.copy(), gtd_new]]
            break
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [[0, f, g, None], [t, f_new, g_new, None]]

    # phase 2: zoom into the bracket [low, high] (low has the smaller loss)
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    insufficient = False
    while not done and ls_iter < max_ls:
        (ta, fa, _, ga), (tb, fb, _, gb) = bracket
        if abs(tb - ta) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(ta, fa, ga, tb, fb, gb)
        lo_t, hi_t = min(ta, tb), max(ta, tb)
        margin = 0.1 * (hi_t - lo_t)
        if min(hi_t - t, t - lo_t) < margin:
            if insufficient or t >= hi_t or t <= lo_t:
                t = hi_t - margin if abs(t - hi_t) < abs(t - lo_t) else lo_t + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new.copy(), gtd_new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = list(bracket[low])
            bracket[low] = [t, f_new, g_new.copy(), gtd_new]
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None (= max_iter * 5 // 4),
    tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100, line_search_fn=None)``;
    ``line_search_fn`` is None (fixed step ``lr``) or 'strong_wolfe'.  One parameter group
    only; ``step(closure)`` needs the closure (it re-evaluates the loss and its gradients,
    usually ``zero_grad(); loss = f(); loss.backward(); return loss``) and returns the first
    loss it computed.  State (under the first parameter): ``func_evals, n_iter, d, t,
    old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss, al``.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        if len({p.device for p in self._params}) > 1:
            raise ValueError("LBFGS: all parameters must be on one device")

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _validate_group(self, group):
        super()._validate_group(group)
        for name in ("max_iter", "history_size"):
            v = group[name]
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Invalid {name} value: {v!r} (expected an int >= 1)")
        v = group["max_eval"]
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not v >= 1:
            raise ValueError(f"Invalid max_eval value: {v!r} (expected a number >= 1)")
        check_nonnegative("tolerance_grad", group["tolerance_grad"])
        check_nonnegative("tolerance_change", group["tolerance_change"])
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{group['line_search_fn']!r}")

    # ---- the parameters as one flat vector ---------------------------------------------------
    def _flat_grad(self):
        xp = backend.get_array_module(self._params[0].array)
        return xp.concatenate([
            (p.grad.array if p.grad is not None else xp.zeros(p.shape, dtype=p.dtype)).reshape(-1)
            for p in self._params])

    def _add_to_params(self, step, direction):
        """x <- x + step * direction, in place."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.array += step * direction[offset:offset + n].reshape(p.shape)
            bump_version(p)
            offset += n

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return float(loss), loss

    def _directional_evaluate(self, closure, x0, t, d):
        """(loss, flat gradient) at x0 + t d; the parameters are put back to x0."""
        self._add_to_params(t, d)
        loss = self._evaluate(closure)[0]
        flat_grad = self._flat_grad()
        for p, saved in zip(self._params, x0):
            p.array[...] = saved
            bump_version(p)
        return loss, flat_grad

    def _direction(self, state, flat_grad, d, t, prev_flat_grad, history_size):
        """The L-BFGS direction -H g after adding the newest (s, y) pair to the history."""
        xp = backend.get_array_module(flat_grad)
        y = flat_grad - prev_flat_grad
        s = d * t
        ys = y.dot(s)
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        if ys > 1e-10:
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            state["H_diag"] = ys / y.dot(y)
        if "al" not in state:
            state["al"] = [None] * history_size
        al = state["al"]
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q += -al[i] * old_dirs[i]
        r = xp.multiply(q, state["H_diag"])
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return r

    def step(self, closure=None):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss at the starting point."""
        if closure is None:
            raise RuntimeError("LBFGS.step requires a closure that re-evaluates the model and "
                               "returns the loss")
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        history_size = group["history_size"]
        xp = backend.get_array_module(self._params[0].array)

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        loss, orig_loss = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if xp.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            else:
                d = self._direction(state, flat_grad, d, t, prev_flat_grad, history_size)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break

            evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = [p.array.copy() for p in self._params]
                loss, flat_grad, t, evals = _strong_wolfe(
                    lambda step: self._directional_evaluate(closure, x0, step, d),
                    t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_to_params(t, d)
                opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:   # the last iteration's point is not re-evaluated
                    loss = self._evaluate(closure)[0]
                    flat_grad = self._flat_grad()
                    opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if xp.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    # ---- state dict: flat vectors and histories, not shaped like a parameter -----------------
    def state_dict(self):
        """torch's layout; the flat vectors are Tensors (lists of them for the history)."""
        sd = super().state_dict()
        for pstate in sd["state"].values():
            for k, v in list(pstate.items()):
                if k in _VECTOR_STATE and v is not None:
                    pstate[k] = Tensor.wrap(v)
                elif k in _LIST_STATE:
                    pstate[k] = [Tensor.wrap(a) if backend.is_array(a) else _scalar(a)
                                 for a in v]
                else:
                    pstate[k] = _scalar(v)
        return sd

    def load_state_dict(self, state_dict):
        saved = state_dict.get("state", {}) if isinstance(state_dict, dict) else {}
        if len(saved) > 1:
            raise ValueError(f"LBFGS.load_state_dict: expected the state of one parameter, got "
                             f"{len(saved)}")
        super().load_state_dict({**state_dict, "state": {}})
        if not saved:
            return
        like = self._params[0].array
        (_, pstate), = saved.items()
        restored = {}
        for k, v in pstate.items():
            if k in _VECTOR_STATE and v is not None:
                restored[k] = _to_array(v, like)
            elif k in _LIST_STATE:
                restored[k] = [_to_array(a, like) if hasattr(a, "shape") and len(a.shape)
                               else _restore_scalar(a, like) for a in v]
            else:
                restored[k] = _restore_scalar(v, like)
        self.state = {self._params[0]: restored}


def _scalar(v):
    """A state scalar (array scalar or float) as a Python number (None stays None)."""
    if v is None or isinstance(v, (int, float)):
        return v
    return float(v)


def _restore_scalar(v, like):
    """A saved scalar back as the parameters' dtype (None, ints and counters unchanged)."""
    if v is None or isinstance(v, bool) or isinstance(v, int):
        return v
    if hasattr(v, "item"):
        v = v.item()
    xp = backend.get_array_module(like)
    return xp.asarray(v, dtype=like.dtype)[()] if isinstance(v, float) else copy.deepcopy(v)


__all__ = ["LBFGS"]
