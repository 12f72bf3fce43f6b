"""Observation-noise policies: values, the learned floor, and bad settings."""

from __future__ import annotations

import pytest
import torch

from vae_collapse.models import FixedNoise, LearnedNoise


def test_fixed_noise_is_a_constant_buffer():
    noise = FixedNoise(0.3)
    assert float(noise.sigma2(0)) == pytest.approx(0.3)
    assert float(noise.sigma2(10_000)) == pytest.approx(0.3)
    assert list(noise.parameters()) == []


def test_learned_noise_starts_at_init_and_is_trainable():
    noise = LearnedNoise(init=2.0, min_sigma2=0.01)
    assert float(noise.sigma2().detach()) == pytest.approx(2.0)
    assert len(list(noise.parameters())) == 1


def test_learned_noise_cannot_run_below_its_floor():
    noise = LearnedNoise(init=1.0, min_sigma2=0.05)
    opt = torch.optim.Adam(noise.parameters(), lr=0.1)
    for _ in range(300):  # push sigma^2 down as hard as possible
        opt.zero_grad()
        noise.sigma2().backward()
        opt.step()
    value = float(noise.sigma2().detach())
    assert 0.05 <= value < 0.1
    with torch.no_grad():
        noise.log_var_excess.fill_(-1e4)  # any parameter value at all
    assert float(noise.sigma2().detach()) == pytest.approx(0.05, rel=1e-6)


@pytest.mark.parametrize("kwargs", [{"init": 0.0}, {"init": -1.0}, {"init": 0.01, "min_sigma2": 0.1}, {"min_sigma2": -1.0}])
def test_learned_noise_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        LearnedNoise(**kwargs)


@pytest.mark.parametrize("value", [0.0, -0.5, 1e-50, 1e39])  # the last two: 0 and inf in float32
def test_fixed_noise_rejects_what_float32_cannot_hold(value):
    with pytest.raises(ValueError, match="sigma2"):
        FixedNoise(value)
    with pytest.raises(ValueError, match="sigma2"):
        FixedNoise(1.0).set_sigma2(value)


def test_fixed_noise_in_float64_is_the_value_given():
    noise = FixedNoise(0.1)
    assert noise.sigma2().dtype == torch.float32
    assert float(noise.double().sigma2()) == 0.1  # not float32's 0.10000000149011612
    assert float(noise.float().sigma2()) == float(torch.tensor(0.1))


# --- schedules and the other policies -------------------------------------------------

from vae_collapse.models import AnnealedNoise, KLAnnealing, OptimalNoise  # noqa: E402
from vae_collapse.models.noise import anneal_value  # noqa: E402


@pytest.mark.parametrize("shape", ["linear", "cosine", "exponential"])
def test_anneal_hits_its_boundaries_and_stays_fixed(shape):
    noise = AnnealedNoise(start=4.0, end=0.25, steps=100, shape=shape, then="fixed")
    assert float(noise.sigma2(0)) == pytest.approx(4.0)
    assert float(noise.sigma2(100)) == pytest.approx(0.25)
    assert float(noise.sigma2(10_000)) == pytest.approx(0.25)
    values = [float(noise.sigma2(s)) for s in range(0, 101, 10)]
    assert all(a >= b for a, b in zip(values, values[1:])), "not monotone"
    assert noise.reference_sigma2() == 0.25 and not noise.learned
    # exactly, not within rounding: linear 10 -> 0.1 would end at 0.09999999999999964
    assert anneal_value(10.0, 0.1, 1.0, shape) == 0.1 and anneal_value(0.01, 1.0, 0.0, shape) == 0.01


def test_anneal_shapes_in_the_middle():
    assert anneal_value(4.0, 0.25, 0.5, "linear") == pytest.approx(2.125)
    assert anneal_value(4.0, 0.25, 0.5, "cosine") == pytest.approx(2.125)
    assert anneal_value(4.0, 0.25, 0.5, "exponential") == pytest.approx(1.0)  # geometric mean
    assert anneal_value(4.0, 0.25, 0.25, "cosine") > anneal_value(4.0, 0.25, 0.25, "linear")


def test_anneal_then_learned_hands_over_to_a_parameter_at_the_end_value():
    noise = AnnealedNoise(start=2.0, end=0.5, steps=10, then="learned")
    assert noise.learned and noise.reference_sigma2() is None
    assert float(noise.sigma2(9).detach()) == pytest.approx(0.5 + 1.5 / 10, rel=1e-6)
    after = noise.sigma2(10)
    assert after.requires_grad and float(after.detach()) == pytest.approx(0.5, rel=1e-6)
    assert not noise.sigma2(5).requires_grad


def test_optimal_noise_is_the_closed_form_maximiser():
    noise = OptimalNoise(min_sigma2=1e-6)
    sq_err = torch.tensor([3.0, 5.0, 4.0])
    dim = 8
    value = noise.sigma2_for(sq_err, dim)
    assert float(value) == pytest.approx(4.0 / 8)
    assert float(noise.sigma2()) == pytest.approx(0.5)  # remembered for logging
    # it maximises the average Gaussian log-likelihood over sigma^2
    from vae_collapse.maths.gaussian import isotropic_log_likelihood

    grid = torch.linspace(0.2, 1.0, 81)
    ll = torch.stack([isotropic_log_likelihood(sq_err, s, dim).mean() for s in grid])
    assert float(grid[ll.argmax()]) == pytest.approx(0.5, abs=0.01)
    assert float(noise.sigma2_for(torch.zeros(3), dim)) == pytest.approx(1e-6)  # the floor


def test_kl_annealing_beta_boundaries_and_base_sigma2():
    noise = KLAnnealing(FixedNoise(0.3), warmup_steps=100, start=0.0)
    assert noise.beta(0) == 0.0
    assert noise.beta(50) == pytest.approx(0.5)
    assert noise.beta(100) == 1.0 and noise.beta(5000) == 1.0
    assert float(noise.sigma2(7)) == pytest.approx(0.3)
    assert noise.reference_sigma2() == pytest.approx(0.3)
    assert KLAnnealing(FixedNoise(0.3), warmup_steps=0).beta(0) == 1.0


@pytest.mark.parametrize(
    "factory",
    [
        lambda: AnnealedNoise(start=-1.0),
        lambda: AnnealedNoise(steps=-5),
        lambda: AnnealedNoise(shape="square"),
        lambda: AnnealedNoise(then="sometimes"),
        lambda: AnnealedNoise(start=-0.5, end=-0.2, min_sigma2=-1.0),  # no negative sigma^2 through the floor
        lambda: KLAnnealing(FixedNoise(1.0), warmup_steps=-1),
        lambda: KLAnnealing(FixedNoise(1.0), start=2.0),
        lambda: OptimalNoise(min_sigma2=-1.0),
        lambda: AnnealedNoise(start=1e39),
    ],
)
def test_bad_schedule_settings_are_rejected(factory):
    with pytest.raises(ValueError):
        factory()


def test_a_run_that_stops_mid_schedule_is_measured_where_it_stopped():
    # A run of T steps trains at steps 0 .. T - 1 and is measured at step T.
    noise = AnnealedNoise(start=4.0, end=0.25, steps=100, shape="linear", then="learned")
    assert noise.reference_sigma2(last_step=50) == pytest.approx(2.125)  # fixed all along, never learned
    assert "sigma2 ends at 2.125, not noise.end=0.25" in noise.unfinished_schedule(50)
    # T = steps: every step was scheduled, none learned sigma^2, so it is still noise.end.
    assert noise.reference_sigma2(last_step=100) == 0.25
    assert ("no step trains at noise.end=0.25 (the last trains with 0.2875) and no step is left to learn sigma2"
            in noise.unfinished_schedule(100))
    held = AnnealedNoise(start=1.0, end=1.0, steps=100, then="learned")  # a constant warm-up, then learned
    assert "sigma2 stays at 1 and is never learned" in held.unfinished_schedule(50)
    assert "as long as the run: no step is left to learn sigma2" in held.unfinished_schedule(100)
    assert AnnealedNoise(start=1.0, end=1.0, steps=100, then="fixed").unfinished_schedule(50) is None
    assert noise.reference_sigma2(last_step=101) is None and noise.unfinished_schedule(101) is None  # pPCA's ML
    # A KL warm-up over that schedule, both cut off: the warning names both, not the warm-up alone.
    both = KLAnnealing(noise, warmup_steps=60).unfinished_schedule(50)
    assert "never trains the plain ELBO" in both and "sigma2 ends at 2.125, not noise.end=0.25" in both
    fixed_after = AnnealedNoise(start=4.0, end=0.25, steps=100, then="fixed")
    # Like a KL warm-up as long as the run (below), it is said: the measurements use a sigma^2 no step trained with.
    assert "no step trains at noise.end=0.25" in fixed_after.unfinished_schedule(100)
    assert fixed_after.reference_sigma2(last_step=100) == 0.25 and fixed_after.unfinished_schedule(101) is None
    warm = KLAnnealing(FixedNoise(0.3), warmup_steps=100)
    assert warm.reference_sigma2(last_step=10) == pytest.approx(0.3)
    assert ("schedule ends at beta = 0.1 (summary.json's train/beta; its last step trains with 0.09), so the run "
            "never trains the plain ELBO") in warm.unfinished_schedule(10)
    assert "its last step trains with 0.99" in warm.unfinished_schedule(100)  # beta is 1 only after the last step
    assert warm.unfinished_schedule(101) is None
    assert KLAnnealing(FixedNoise(0.3), warmup_steps=100, start=1.0).unfinished_schedule(5) is None
    assert FixedNoise(0.3).unfinished_schedule(1) is None


def test_optimal_noise_reports_an_init_below_its_floor_at_the_floor():
    assert float(OptimalNoise(min_sigma2=2.0, init=1.0).sigma2()) == 2.0  # not refused: init is only reported


def test_optimal_noise_evaluates_with_its_last_training_value():
    noise = OptimalNoise()
    noise.sigma2_for(torch.tensor([4.0, 4.0]), 8)  # training: fitted, 0.5
    noise.eval()
    assert float(noise.sigma2_for(torch.tensor([80.0]), 8)) == pytest.approx(0.5)  # not refitted to 10
    noise.train()
    assert float(noise.sigma2_for(torch.tensor([80.0]), 8)) == pytest.approx(10.0)


def test_sigma2_is_reported_as_the_number_given_not_its_float32_expansion():
    from vae_collapse.maths.precision import plain_float

    assert FixedNoise(0.1).reference_sigma2() == 0.1  # float(float32 0.1) would be 0.10000000149011612
    assert KLAnnealing(FixedNoise(0.01)).reference_sigma2() == 0.01
    assert plain_float(torch.tensor(1 / 3, dtype=torch.float64)) == 1 / 3  # float64 keeps every digit
    assert plain_float(torch.tensor(0.3)) == 0.3 and float(torch.tensor(0.3)) != 0.3
    for half in (torch.float16, torch.bfloat16):  # a trainer.precision=16/bf16 run's sigma^2
        assert plain_float(torch.tensor(0.1, dtype=half)) == 0.1 and float(torch.tensor(0.1, dtype=half)) != 0.1


def test_a_user_schedule_gets_its_reference_sigma2_from_the_base_class():
    """A policy that only defines sigma2(step) is measured against pPCA where the run ends."""
    from vae_collapse.models.noise import ObservationNoise

    class HalvingNoise(ObservationNoise):
        def sigma2(self, step: int = 0) -> torch.Tensor:
            return torch.tensor(0.8) * 0.5 ** (step // 100)

    noise = HalvingNoise()
    assert noise.reference_sigma2() == 0.8  # no known end: where it starts
    assert noise.reference_sigma2(last_step=250) == 0.2  # plain, not 0.20000000298
