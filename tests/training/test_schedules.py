import math

import pytest
import torch

from vae_collapse.training.schedules import constant_then_cosine, cosine, exponential, schedule_length


def _rates(total, decay, final=0.0):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = constant_then_cosine(opt, total, decay, final)
    rates = []
    for _ in range(total + 1):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def test_holds_then_decays_along_a_half_cosine_to_the_final_factor():
    rates = _rates(total=10, decay=4, final=0.25)
    assert rates[:7] == [2.0] * 7  # steps 0..6 hold the rate
    assert rates[8] == pytest.approx(2.0 * (0.25 + 0.75 * 0.5 * (1 + math.cos(math.pi * 2 / 4))))
    assert rates[10] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_a_run_shorter_than_the_decay_decays_over_all_its_steps():
    rates = _rates(total=4, decay=100)
    assert rates[0] == 2.0 and rates[2] == pytest.approx(1.0) and rates[4] == pytest.approx(0.0)


@pytest.mark.parametrize("total, decay, final", [(0, 0, 0.0), (10, -1, 0.0), (10, 5, 1.5)])
def test_rejects_settings_outside_their_range(total, decay, final):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError):
        constant_then_cosine(opt, total, decay, final)


def test_exponential_multiplies_by_gamma_and_refuses_a_gamma_outside_0_1():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = exponential(opt, 0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)
    for gamma in (-2.0, 0.0, 1.5):
        with pytest.raises(ValueError, match=f"gamma={gamma} must be in"):
            exponential(opt, gamma)


def test_cosine_is_torchs_and_refuses_a_length_below_one():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = cosine(opt, T_max=4)
    assert isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR) and sched.T_max == 4
    for bad in (0, -1):  # -1 is trainer.max_steps in a run bounded by epochs
        with pytest.raises(ValueError, match=rf"T_max={bad} must be >= 1 \(by default it is trainer.max_steps"):
            cosine(opt, T_max=bad)


def test_schedule_length_reads_either_key_and_none_for_endless_schedules():
    assert schedule_length({"T_max": 50}) == 50
    assert schedule_length({"total_steps": 30, "decay_steps": 4}) == 30
    assert schedule_length({"gamma": 0.99}) is None and schedule_length(None) is None
