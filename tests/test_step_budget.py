"""The step-based training loops' budget (models.step_budget.StepBudget, resolve_budget)
against the straightforward formulas."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from models.step_budget import StepBudget, resolve_budget

epochs_or_none = st.none() | st.integers(1, 50)
minutes_or_none = st.none() | st.floats(1e-3, 1e3)


def _reference(epochs, minutes, steps_per_epoch, step, seconds):
    """(fraction, finished) written out: max over the limits given, 0 without any term."""
    terms = [0.0]
    if epochs is not None:
        terms.append(step / (epochs * steps_per_epoch))
    if minutes is not None:
        terms.append(seconds / (60.0 * minutes))
    finished = ((epochs is not None and step >= epochs * steps_per_epoch)
                or (minutes is not None and seconds >= 60.0 * minutes))
    return max(terms), finished


@settings(max_examples=300, deadline=None)
@given(epochs_or_none, minutes_or_none, st.integers(1, 40), st.integers(0, 3000),
       st.floats(0.0, 1e5))
def test_of_epochs_matches_the_formulas(epochs, minutes, steps_per_epoch, step, seconds):
    budget = StepBudget.of_epochs(epochs, minutes, steps_per_epoch)
    assert budget.total_steps == (None if epochs is None else epochs * steps_per_epoch)
    assert budget.seconds == (None if minutes is None else 60.0 * minutes)
    fraction, finished = _reference(epochs, minutes, steps_per_epoch, step, seconds)
    assert budget.fraction(step, seconds) == fraction
    assert budget.finished(step, seconds) is finished
    assert budget.steps_reached(step) is (epochs is not None
                                          and step >= epochs * steps_per_epoch)
    if epochs is not None or minutes is not None:     # positive limits: finished <=> fraction >= 1
        assert finished == (fraction >= 1.0)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10 ** 6), st.floats(1e-3, 1e6))
def test_finished_exactly_at_the_limits(total, seconds):
    """One step or one float below a limit is not finished; the limit itself is."""
    budget = StepBudget(total, seconds)
    below = math.nextafter(seconds, 0.0)
    assert not budget.finished(total - 1, below)
    assert budget.fraction(total - 1, below) < 1.0
    assert budget.finished(total, 0.0) and budget.finished(0, seconds)
    assert budget.fraction(total, 0.0) == 1.0 == budget.fraction(0, seconds)


def test_only_epochs_only_minutes_and_both():
    only_epochs = StepBudget.of_epochs(3, None, 10)
    assert (only_epochs.total_steps, only_epochs.seconds) == (30, None)
    assert only_epochs.fraction(15, 1e9) == 0.5          # time does not count
    assert not only_epochs.finished(29, 1e9) and only_epochs.finished(30, 0.0)

    only_minutes = StepBudget.of_epochs(None, 2.0, 10)
    assert (only_minutes.total_steps, only_minutes.seconds) == (None, 120.0)
    assert only_minutes.fraction(10 ** 6, 30.0) == 0.25  # steps do not count
    assert not only_minutes.steps_reached(10 ** 6)
    assert not only_minutes.finished(10 ** 6, 119.9) and only_minutes.finished(0, 120.0)

    both = StepBudget.of_epochs(2, 1.0, 5)               # 10 steps or 60 s, whichever first
    assert both.fraction(5, 45.0) == 0.75 and both.fraction(8, 30.0) == 0.8
    assert not both.finished(9, 59.0)
    assert both.finished(10, 1.0) and both.finished(1, 60.0)
    assert StepBudget().fraction(5, 5.0) == 0.0 and not StepBudget().finished(5, 5.0)


def test_a_used_up_time_limit_counts_as_finished():
    """latent diffusion's time left after its autoencoder can be zero or negative."""
    for seconds in (0.0, -3.0):
        budget = StepBudget(100, seconds)
        assert budget.finished(0, 0.0)
        assert budget.fraction(50, 1.0) == 0.5


@pytest.mark.parametrize("unit", ["epochs", "steps"])
def test_resolve_budget(unit):
    assert resolve_budget({unit: 4, "minutes": 2}, None, None, "f", unit) == (4, 2.0)
    assert resolve_budget({unit: 4, "minutes": 2}, 7, 0.5, "f", unit) == (7, 0.5)
    assert resolve_budget({}, 3.0, None, "f", unit) == (3, None)
    with pytest.raises(ValueError, match=f"^f: give {unit} or minutes \\(or both\\)$"):
        resolve_budget({}, None, None, "f", unit)
    for bad in (0, 1.5, True, -2):
        with pytest.raises(ValueError, match=f"^f: {unit} must be a positive integer, got"):
            resolve_budget({}, bad, None, "f", unit)
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="^f: minutes must be a positive number, got"):
            resolve_budget({unit: 1}, None, bad, "f", unit)
