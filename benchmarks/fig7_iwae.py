"""Figure 7: the IWAE bound with K = 1,000 on the 10,000 MNIST test images.

Timed: ``training.evaluate.iwae_log_px`` (each batch encoded once, samples drawn in chunks; the
linear VAE scores each sample in O(k^2)) for the linear VAE at k = 200. Baseline in the same
run: the former way, one sample per pass that re-encodes the batch and decodes every sample,
on the first 1,000 images (scaled by 10: the cost is linear in the images). The deep MLP VAE
(784-1024-512-32) is timed batched on a subset and scaled to 10,000 images: its decoder alone
is ~2.7 MFLOP per sample, 27 TFLOP for 10^7 samples, which is minutes on 2 CPU cores.
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import Figure, Settings, median, mnist_like, spread


@torch.no_grad()
def _former_iwae(model, x: torch.Tensor, num_samples: int) -> float:
    """One sample per pass, re-encoding x each time and decoding every sample (the code before this issue)."""
    from vae_collapse.maths.iwae import iwae_bound, merge_iwae
    from vae_collapse.models import GaussianVAE

    bounds = []
    for _ in range(num_samples):
        z_mean, z_var = model.encoder(x)
        z_var = z_var.expand_as(z_mean)
        eps = torch.randn(1, *z_mean.shape)
        offsets = torch.sqrt(z_var) * eps
        sq_err = GaussianVAE.sampled_squared_error(model, x, z_mean, offsets)
        from vae_collapse.maths.gaussian import LOG_2PI, isotropic_log_likelihood

        z = z_mean + offsets
        log_w = (isotropic_log_likelihood(sq_err, model.noise.sigma2(), x.shape[-1])
                 - 0.5 * (z.square() + LOG_2PI).sum(-1) + 0.5 * (eps.square() + LOG_2PI + torch.log(z_var)).sum(-1))
        bounds.append(iwae_bound(log_w))
    return float(merge_iwae(bounds, [1] * num_samples).double().mean())


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(settings: Settings) -> Figure:
    from vae_collapse.models import LearnedNoise, LinearVAE, MLPVAE
    from vae_collapse.maths.moments import data_moments
    from vae_collapse.training.evaluate import iwae_log_px

    quick = settings.quick
    k_samples = 20 if quick else 1000
    # The former path on a tenth of the images, the deep model on a fiftieth: both scaled up.
    n_test = 200 if quick else settings.iwae_images
    n_former, n_deep = max(1, n_test // 10), max(1, n_test // 50)
    train, test, source = mnist_like(settings, n_train=2000 if quick else 10000, n_test=n_test)
    torch.manual_seed(0)
    linear = LinearVAE(784, 200, LearnedNoise(1.0))
    linear.fit_closed_form(data_moments(train))  # a sensible posterior, so the weights are realistic
    deep = MLPVAE(784, (1, 28, 28), LearnedNoise(0.05), latent_dim=32, hidden=[1024, 512])
    batches = list(test.split(10000))
    scale_former, scale_deep = len(test) / n_former, len(test) / n_deep

    times: dict[str, list[float]] = {"batched": [], "former": [], "deep": []}
    values: dict[str, float] = {}
    repeats = settings.repeats
    for _ in range(repeats):
        times["batched"].append(_timed(lambda: values.__setitem__(
            "linear_iwae", iwae_log_px(linear, batches, k_samples))))
        times["former"].append(scale_former * _timed(lambda: values.__setitem__(
            "former_iwae_subset", _former_iwae(linear, test[:n_former], k_samples))))
    deep_repeats = 1 if quick else min(repeats, 3)
    for _ in range(deep_repeats):
        times["deep"].append(scale_deep * _timed(lambda: iwae_log_px(deep, [test[:n_deep]], k_samples)))
    with torch.no_grad():
        exact = float(linear.log_marginal(test).double().mean())
    value, baseline = median(times["batched"]), median(times["former"])
    return Figure(
        key="fig7", title=f"IWAE, K={k_samples}, {len(test)} test images, linear VAE k=200",
        note="" if len(test) == 10000 or quick else f"measured on {len(test)} of the 10,000 test images (--iwae-images)",
        value=value, baseline=baseline, unit="s", ratio=baseline / value,
        ratio_meaning="speed-up over one sample per pass (former code)", target="time reported, K samples batched",
        details={"data": source, "batched": spread(times["batched"]),
                 "former_scaled": spread(times["former"]), "former_measured_on_images": n_former,
                 "deep_mlp_estimated_s": spread(times["deep"]), "deep_measured_on_images": n_deep,
                 "linear_scaled_to_10000_images_s": value * 10000 / len(test),
                 "deep_mlp_scaled_to_10000_images_s": median(times["deep"]) * 10000 / len(test),
                 "linear_iwae": values["linear_iwae"], "linear_exact_log_px": exact},
    )
