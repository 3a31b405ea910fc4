"""models.training: optimizers/schedules by name, Trainer metrics, early stopping, checkpoints,
and resumption to exactly the weights of an uninterrupted run."""
import json
import os

import numpy as np
import pytest

import tinygrad_cv as tg
from tinygrad_cv import backend, optim
from tinygrad_cv.data import DataLoader, TensorDataset, load_digits
from tinygrad_cv.data.transforms import RandomAffine
from models.classifiers import ConvNet, FullyConnectedNet
from models.training import (KNNModel, OPTIMIZERS, Trainer, epoch_seed, evaluate,
                             make_optimizer, make_scheduler, predict)


def host(t):
    return backend.to_numpy(t.array)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits("train")
    xv, yv = load_digits("val")
    return x[:256], y[:256], xv[:128], yv[:128]


def test_make_optimizer_by_name():
    w = tg.nn.Parameter(tg.zeros(3))
    kinds = {"sgd": optim.SGD, "momentum": optim.SGD, "rmsprop": optim.RMSprop,
             "adam": optim.Adam, "adamw": optim.AdamW}
    assert set(OPTIMIZERS) == set(kinds)
    for name, cls in kinds.items():
        opt = make_optimizer(name, [w], lr=0.01, weight_decay=0.001)
        assert type(opt) is cls
        assert opt.param_groups[0]["lr"] == 0.01
    assert make_optimizer("momentum", [w], 0.1).param_groups[0]["momentum"] == 0.9
    assert make_optimizer("sgd", [w], 0.1).param_groups[0]["momentum"] == 0
    with pytest.raises(ValueError, match="sgd, momentum, rmsprop, adam, adamw"):
        make_optimizer("adagrad", [w], 0.1)


def test_make_scheduler_by_name():
    w = tg.nn.Parameter(tg.zeros(3))
    opt = make_optimizer("sgd", [w], 1.0)
    assert make_scheduler("none", opt, 10) is None
    step = make_scheduler("step", opt, 9)
    assert isinstance(step, optim.lr_scheduler.StepLR) and step.step_size == 3
    cos = make_scheduler("cosine", make_optimizer("sgd", [w], 1.0), 10)
    assert isinstance(cos, optim.lr_scheduler.CosineAnnealingLR)
    with pytest.raises(ValueError, match="none, step, cosine"):
        make_scheduler("cyclic", opt, 10)


def _setup(digits, seed=0, augment=True, tmp=None, epochs=4, patience=None, lr=3e-3):
    x, y, xv, yv = digits
    tg.manual_seed(seed)
    model = FullyConnectedNet(64, [32], 10, normalization="batchnorm", dropout=0.2)
    opt = make_optimizer("adam", model.parameters(), lr)
    sched = make_scheduler("cosine", opt, epochs)
    transform = RandomAffine(10, translate=(0.1, 0.1)) if augment else None
    train = DataLoader(TensorDataset(x, y, transform=transform), 32, shuffle=True, seed=seed)
    val = DataLoader(TensorDataset(xv, yv), 64)
    ckpt = None if tmp is None else os.path.join(tmp, "ckpt.safetensors")
    metrics = None if tmp is None else os.path.join(tmp, "metrics.json")
    return Trainer(model, opt, train, val, scheduler=sched, epochs=epochs, seed=seed,
                   patience=patience, checkpoint_path=ckpt, metrics_path=metrics,
                   config={"model": "mlp"}, progress=False)


def test_trainer_learns_and_writes_metrics(digits, tmp_path):
    trainer = _setup(digits, tmp=str(tmp_path), epochs=5, lr=1e-2)
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_accuracy"] > 0.8
    lrs = [r["lr"] for r in history]
    assert lrs[0] == pytest.approx(1e-2) and lrs[-1] < lrs[1]  # cosine schedule
    saved = json.load(open(tmp_path / "metrics.json"))
    assert [r["epoch"] for r in saved["history"]] == [1, 2, 3, 4, 5]
    state = tg.load(str(tmp_path / "ckpt.safetensors"))
    assert state["trainer"]["epoch"] == 5 and state["config"] == {"model": "mlp"}
    x, y, xv, yv = digits
    acc = evaluate(trainer.model, DataLoader(TensorDataset(xv, yv), 50))["accuracy"]
    assert acc == pytest.approx((predict(trainer.model, xv, 40) == yv.array).mean())


def _weights(model):
    return {k: host(v).copy() for k, v in model.state_dict().items()}


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(digits, tmp_path):
    os.makedirs(tmp_path / "full")
    full = _setup(digits, tmp=str(tmp_path / "full"), epochs=4)
    full.fit()
    expected = _weights(full.model)

    # a run killed (Ctrl-C) in the middle of its third epoch
    os.makedirs(tmp_path / "cut")
    cut = _setup(digits, tmp=str(tmp_path / "cut"), epochs=4)
    calls = {"n": 0}
    per_epoch = len(cut.train_loader)
    inner = cut.loss_fn

    def interrupting_loss(scores, labels):
        calls["n"] += cut.model.training  # count training batches only
        if calls["n"] == 2 * per_epoch + 3:
            raise KeyboardInterrupt
        return inner(scores, labels)

    cut.loss_fn = interrupting_loss
    with pytest.raises(KeyboardInterrupt):
        cut.fit()
    ckpt = str(tmp_path / "cut" / "ckpt.safetensors")
    assert tg.load(ckpt)["trainer"]["epoch"] == 2  # the last complete checkpoint is intact

    # a fresh process: different initial weights, then resume from the checkpoint
    resumed = _setup(digits, seed=123, tmp=str(tmp_path / "cut"), epochs=4)
    resumed.resume(ckpt)
    assert resumed.epoch == 2 and resumed.seed == 0
    resumed.fit()
    got = _weights(resumed.model)
    assert got.keys() == expected.keys()
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in full.history]
    full_opt = full.optimizer.state_dict()["state"]
    res_opt = resumed.optimizer.state_dict()["state"]
    for i in full_opt:
        np.testing.assert_array_equal(host(full_opt[i]["exp_avg"]), host(res_opt[i]["exp_avg"]))


def test_resume_of_a_finished_run_changes_nothing(digits, tmp_path):
    trainer = _setup(digits, tmp=str(tmp_path), epochs=2, augment=False)
    trainer.fit()
    before = _weights(trainer.model)
    again = _setup(digits, seed=5, tmp=str(tmp_path), epochs=2, augment=False)
    again.resume()
    assert again.fit() == trainer.history
    for k, v in _weights(again.model).items():
        np.testing.assert_array_equal(v, before[k])


def test_early_stopping_and_best_weights(digits, tmp_path):
    trainer = _setup(digits, tmp=str(tmp_path), epochs=10, patience=2, lr=0.0, augment=False)
    initial = _weights(trainer.model)
    history = trainer.fit()
    # lr 0: the weights never change, so validation never improves after epoch 1
    assert trainer.stopped_early and len(history) == 3 and trainer.best_epoch == 1
    for k, v in _weights(trainer.model).items():
        if "running" not in k and "num_batches" not in k:
            np.testing.assert_array_equal(v, initial[k])
    state = tg.load(str(tmp_path / "ckpt.safetensors"))
    assert state["trainer"]["stopped_early"] and state["best_model"] is not None


def test_training_is_deterministic_for_a_seed(digits):
    a = _setup(digits, epochs=2)
    a.fit()
    b = _setup(digits, epochs=2)
    b.fit()
    for k, v in _weights(a.model).items():
        np.testing.assert_array_equal(v, _weights(b.model)[k])
    assert epoch_seed(0, 1) != epoch_seed(0, 2) != epoch_seed(1, 1)


def test_convnet_trains_a_little(digits):
    x, y, xv, yv = digits
    tg.manual_seed(0)
    model = ConvNet(1, 10, conv_channels=[[8], [16]], fc_dims=[32])
    opt = make_optimizer("adam", model.parameters(), 3e-3)
    trainer = Trainer(model, opt, DataLoader(TensorDataset(x, y), 32, shuffle=True, seed=0),
                      DataLoader(TensorDataset(xv, yv), 128), epochs=6, progress=False)
    history = trainer.fit()
    assert history[-1]["val_accuracy"] > 0.7


def test_knn_model(digits):
    x, y, xv, yv = digits
    knn = KNNModel().fit(x, y, ks=(1, 3, 5), folds=4)
    assert knn.k in (1, 3, 5) and set(knn.cv_accuracies) == {1, 3, 5}
    pred = knn.predict(xv)
    assert (pred == yv.array).mean() > 0.9
    again = KNNModel().load_state_dict(knn.state_dict())
    np.testing.assert_array_equal(again.predict(xv), pred)
    fixed = KNNModel(k=3).fit(x, y)
    assert fixed.k == 3 and fixed.cv_accuracies is None
