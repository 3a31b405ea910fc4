"""Packed sequences against torch 2.13: pack_padded_sequence / pad_packed_sequence /
pack_sequence / unpack_sequence (data, batch_sizes, index permutations, gradients through
them), and RNN/GRU/LSTM on packed input (every layer count, direction, batch_first, given or
zero initial states): outputs, final states and every gradient equal to torch's."""
import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

import tinygrad_cv as tg
from tinygrad_cv.nn.utils import rnn as P

pytestmark = pytest.mark.usefixtures("torch_on_one_thread")

LENGTHS = [[3, 5, 2, 5], [4, 3, 1], [2], [6, 6, 6]]


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_match_torch(lengths, enforce_sorted, batch_first):
    if enforce_sorted:
        lengths = sorted(lengths, reverse=True)
    t_max, b = max(lengths) + 1, len(lengths)
    x = np.random.default_rng(len(lengths)).standard_normal((t_max, b, 2))
    if batch_first:
        x = np.swapaxes(x, 0, 1).copy()
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    po = P.pack_padded_sequence(xo, lengths, batch_first, enforce_sorted)
    pt = trnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first, enforce_sorted)
    np.testing.assert_array_equal(po.data.detach().numpy(), pt.data.detach().numpy())
    np.testing.assert_array_equal(po.batch_sizes.numpy(), pt.batch_sizes.numpy())
    for name in ("sorted_indices", "unsorted_indices"):
        a, c = getattr(po, name), getattr(pt, name)
        assert (a is None) == (c is None)
        if a is not None:
            np.testing.assert_array_equal(a.numpy(), c.numpy())
    for total in (None, t_max + 2):
        yo, lo = P.pad_packed_sequence(po, batch_first, -1.0, total)
        yt, lt = trnn.pad_packed_sequence(pt, batch_first, -1.0, total)
        np.testing.assert_array_equal(yo.detach().numpy(), yt.detach().numpy())
        np.testing.assert_array_equal(lo.numpy(), lt.numpy())
    g = np.random.default_rng(2).standard_normal(tuple(yt.shape))
    (yo * tg.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(xo.grad.numpy(), xt.grad.numpy())


def test_pack_sequence_unpack_and_errors():
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 3)]
    po = P.pack_sequence([tg.tensor(s) for s in seqs], enforce_sorted=False)
    pt = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(po.data.numpy(), pt.data.numpy())
    for a, c in zip(P.unpack_sequence(po), trnn.unpack_sequence(pt)):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
    assert po.lengths() == [2, 4, 3]
    x = tg.tensor(rng.standard_normal((4, 3, 2)))
    for bad in (lambda: P.pack_padded_sequence(x, [2, 3, 1]),              # not sorted
                lambda: P.pack_padded_sequence(x, [2, 0, 1], enforce_sorted=False),
                lambda: P.pack_padded_sequence(x, [5, 3, 1]),              # too long
                lambda: P.pack_padded_sequence(x, [3, 2])):                # wrong count
        with pytest.raises(RuntimeError):
            bad()
    with pytest.raises(ValueError):
        P.pad_packed_sequence(P.pack_padded_sequence(x, [4, 3, 1]), total_length=2)


@pytest.mark.parametrize("mode", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True), (2, False)])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_on_packed_input_match_torch(mode, num_layers, bidirectional,
                                                      batch_first, with_state):
    rng = np.random.default_rng(num_layers * 7 + bidirectional)
    lengths = [3, 5, 2, 5]
    x = rng.standard_normal((5, 4, 3))
    if batch_first:
        x = np.swapaxes(x, 0, 1).copy()
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    tl = getattr(torch.nn, mode)(3, 4, **kwargs).double()
    ol = getattr(tg.nn, mode)(3, 4, **kwargs).double()
    ol.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in tl.state_dict().items()})
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    po = P.pack_padded_sequence(xo, lengths, batch_first, enforce_sorted=False)
    pt = trnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first, enforce_sorted=False)
    shape = (num_layers * (2 if bidirectional else 1), 4, 4)
    h0 = rng.standard_normal(shape)
    c0 = rng.standard_normal(shape)
    if with_state:
        ho_in = tg.tensor(h0, requires_grad=True)
        ht_in = torch.tensor(h0, requires_grad=True)
        state_o = (ho_in, tg.tensor(c0)) if mode == "LSTM" else ho_in
        state_t = (ht_in, torch.tensor(c0)) if mode == "LSTM" else ht_in
        yo, fo = ol(po, state_o)
        yt, ft = tl(pt, state_t)
    else:
        yo, fo = ol(po)
        yt, ft = tl(pt)
    assert isinstance(yo, P.PackedSequence)
    np.testing.assert_array_equal(yo.batch_sizes.numpy(), yt.batch_sizes.numpy())
    outs_o = [yo.data] + (list(fo) if mode == "LSTM" else [fo])
    outs_t = [yt.data] + (list(ft) if mode == "LSTM" else [ft])
    lo = lt = 0
    for o, t in zip(outs_o, outs_t):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        g = rng.standard_normal(tuple(t.shape))
        lo = lo + (o * tg.tensor(g)).sum()
        lt = lt + (t * torch.tensor(g)).sum()
    lo.backward()
    lt.backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), (_, q) in zip(ol.named_parameters(), tl.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    if with_state:
        np.testing.assert_allclose(ho_in.grad.numpy(), ht_in.grad.numpy(), rtol=1e-9,
                                   atol=1e-12)
