"""``optimizer=em``: the linear VAE trained by closed-form coordinate ascent instead of gradients.

A ``torch.optim.Optimizer`` so that the Trainer, checkpoints and progress bars treat it like
Adam: one ``step()`` is one (over-relaxed) variational-EM step on the full-data ELBO
(maths/linear_vae_em.py). It needs the model and the data moments, which the
LightningModule hands over with :meth:`VariationalEM.attach` once both exist.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from vae_collapse.maths.linear_vae import optimal_encoder
from vae_collapse.maths.linear_vae_em import OverRelaxedEM
from vae_collapse.maths.moments import DataMoments

ASCENT_KEY = "em_ascent"  # beside torch's "state" and "param_groups" in the optimiser's state_dict
REQUIREMENTS = ("optimizer=em needs model=linear_vae with encoder=linear and elbo=analytic, "
                "noise=learned or noise=fixed, and full-batch data (dataset.batch_size=null)")


class VariationalEM(torch.optim.Optimizer):
    """Each step: optimal diagonal encoder, rotation, EM decoder update (see linear_vae_em).

    ``over_relaxation`` is the factor by which the extrapolation grows after each accepted
    step (1.0 gives plain EM). No learning rate: every block update is exact.
    """

    needs_gradients = False  # VAEModule switches to manual optimisation: no backward pass is run

    def __init__(self, params: Iterable[torch.nn.Parameter], over_relaxation: float = 1.1) -> None:
        if not over_relaxation >= 1.0:
            raise ValueError(f"over_relaxation={over_relaxation} must be >= 1 (1 is plain EM)")
        super().__init__(params, {"over_relaxation": float(over_relaxation), "lr": 0.0})
        self.model = None
        self.moments: DataMoments | None = None
        self.ascent: OverRelaxedEM | None = None
        self._restored: dict | None = None  # the ascent's state from a checkpoint, taken up at the next step

    # The ascent's float64 decoder and its extrapolation factor live outside param_groups and
    # state, where torch would not save them: a resumed run would restart the over-relaxation at
    # eta = 1 from float32 weights and take other steps than the uninterrupted run.
    def state_dict(self) -> dict:
        saved = super().state_dict()
        if self.ascent is not None:
            saved[ASCENT_KEY] = self.ascent.state_dict()
        elif self._restored is not None:  # saved again before its first step
            saved[ASCENT_KEY] = self._restored
        return saved

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        self._restored = state_dict.pop(ASCENT_KEY, None)
        super().load_state_dict(state_dict)

    @staticmethod
    def can_solve(model, full_batch: bool) -> bool:
        """Whether every block update has a closed form: see REQUIREMENTS."""
        from vae_collapse.models.linear_vae import LinearVAE
        from vae_collapse.models.noise import FixedNoise, LearnedNoise

        return (full_batch and isinstance(model, LinearVAE) and model.supports_moments
                and type(model.noise) in (FixedNoise, LearnedNoise))

    def attach(self, model, moments: DataMoments | None) -> None:
        """Bind to a LinearVAE and its training-data moments; fails with the requirements otherwise."""
        if not self.can_solve(model, full_batch=moments is not None):
            raise ValueError(REQUIREMENTS)
        self.model, self.moments, self.ascent = model, moments, None  # ascent starts from the weights at step 1

    @property
    def last_factor(self) -> float:
        """The factor by which the last step extrapolated the EM step: 1 for a plain EM step (and
        before the first), more for an accepted over-relaxed one."""
        if self.ascent is None:
            return float(self._restored.get("last_factor", 1.0)) if self._restored else 1.0
        return self.ascent.last_factor

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.model is None:
            raise RuntimeError("VariationalEM.step before attach(model, moments)")
        model = self.model
        if self.ascent is None:
            # Started lazily, so a resumed run starts from its restored weights.
            self.ascent = OverRelaxedEM(self.moments.cov, model.decoder.W.detach(), model.noise.sigma2().detach(),
                                        learn_sigma2=model.noise.learned, min_sigma2=model.noise.sigma2_floor(),
                                        growth=self.param_groups[0]["over_relaxation"])
            if self._restored is not None:
                self.ascent.load_state_dict(self._restored)
                self._restored = None
        state = self.ascent.step()
        mean = self.moments.mean.to(state.W.dtype)
        V, _, log_d = optimal_encoder(state.W, mean, state.sigma2)
        dtype = model.decoder.W.dtype
        model.decoder.W.copy_(state.W.to(dtype))
        model.decoder.mu.copy_(mean.to(dtype))
        model.encoder.V.copy_(V.to(dtype))
        model.encoder.log_d.copy_(log_d.to(dtype))
        if model.noise.learned:
            model.noise.set_sigma2(float(state.sigma2))
        return loss
