"""The invertible maps used by the models, each with an exact inverse and log-determinant.

Every bijection is a module with ``forward(x) -> (y, ladj)`` (``ladj`` = log|det dy/dx| per
row, shape ``(B,)``) and ``inverse(y) -> x``. One table-driven test checks them all
(``tests/test_models_bijections.py``).

- :class:`IAFPosterior` — the VAE-flow posterior refinement (paper: 16 IAF steps). Built from
  zuko's masked autoregressive transforms used in their *fast* direction: one network pass per
  step when sampling, as IAF requires; the inverse needs one pass per dimension and is only
  used by tests.
- :class:`CouplingFlow` — affine couplings (RealNVP), each splitting the coordinates by its
  own fixed random order: the same cost both ways, which the regression flow needs (z → v on
  every cursor move, v → z to place presets; DESIGN.md section 3). Written here rather than
  with zuko's lazy coupling transforms because those build Python transform objects on every
  call: 3.1 ms for 8 couplings at 32 dimensions on the project's 2-core machine (one thread),
  against the 1 ms budget for z → v.
- :class:`SigmoidOutput` — the regression flow's last step, mapping R^P to (0, 1)^P.
- :class:`RegressionFlow` — couplings then the sigmoid: f: z → v of Flow_reg / Flow_dis.

The sigmoid's inverse is a logit of ``v`` clamped to ``[eps, 1 - eps]``: presets (and Diva
files) hold parameters at exactly 0 or 1, whose logit is infinite. With ``eps = 1e-3`` the
clamp moves a value by at most 0.1 % of its range — 0.1 on a 0–100 Diva knob — and keeps
``f^-1(v)`` within a few units of the latent space the flow was trained on.

>>> import torch
>>> flow = RegressionFlow(4, steps=2, hidden=8)
>>> z = torch.randn(3, 4)
>>> v, ladj = flow(z)
>>> bool(((v > 0) & (v < 1)).all()), ladj.shape
(True, torch.Size([3]))
>>> torch.allclose(flow.inverse(v), z, atol=1e-4)
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.transforms import ComposedTransform

__all__ = [
    "AffineCoupling",
    "Bijection",
    "CouplingFlow",
    "IAFPosterior",
    "RegressionFlow",
    "SigmoidOutput",
]


class Bijection(nn.Module):
    """Base class: ``forward(x) -> (y, ladj)`` and ``inverse(y) -> x`` on ``(B, features)``.

    ``call(x)`` is ``forward(x)[0]`` without the log-determinant, for inference paths.
    """

    features: int

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def call(self, x: Tensor) -> Tensor:
        return self.forward(x)[0]


class AffineCoupling(Bijection):
    """One affine coupling: ``y = (x_a, x_b * exp(s(x_a)) + t(x_a))``.

    ``x_a`` and ``x_b`` are two halves of the coordinates picked by a fixed permutation
    ``order`` (a buffer, saved with the weights): the output lists ``x_a`` first, so stacking
    couplings with different orders mixes every coordinate with every other one, as the
    permutations between RealNVP/Glow steps do, at no extra operation.

    The conditioner is a 2-hidden-layer ELU network whose last layer starts at zero, so a new
    coupling is the identity; ``s = tanh(.)`` bounds each step's stretch to e^±1, which keeps
    deep stacks and their inverses numerically tame. Weights are plain parameters applied with
    ``F.linear``: on a single row (one cursor move), torch's per-operation overhead dominates,
    and the z → v budget is 1 ms for the whole flow.
    """

    def __init__(self, features: int, hidden: int, order: Tensor | None = None) -> None:
        super().__init__()
        if features < 2:
            raise ValueError(f"AffineCoupling needs at least 2 features, got {features}")
        order = torch.arange(features) if order is None else torch.as_tensor(order)
        if sorted(order.tolist()) != list(range(features)):
            raise ValueError(f"AffineCoupling: order must be a permutation of 0..{features - 1}")
        self.features = features
        self.n_a = features // 2
        self.register_buffer("idx_a", order[: self.n_a].clone())
        self.register_buffer("idx_b", order[self.n_a:].clone())
        self.register_buffer("inverse_order", torch.argsort(order))
        n_b = features - self.n_a
        self.w1 = nn.Parameter(_xavier(hidden, self.n_a))
        self.b1 = nn.Parameter(torch.zeros(hidden))
        self.w2 = nn.Parameter(_xavier(hidden, hidden))
        self.b2 = nn.Parameter(torch.zeros(hidden))
        self.w3 = nn.Parameter(torch.zeros(2 * n_b, hidden))
        self.b3 = nn.Parameter(torch.zeros(2 * n_b))

    def _shift_log_scale(self, a: Tensor) -> tuple[Tensor, Tensor]:
        h = F.elu(F.linear(a, self.w1, self.b1))
        h = F.elu(F.linear(h, self.w2, self.b2))
        shift, raw = F.linear(h, self.w3, self.b3).chunk(2, dim=1)
        return shift, torch.tanh(raw)

    def _step(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a = x.index_select(1, self.idx_a)
        shift, log_scale = self._shift_log_scale(a)
        b = torch.addcmul(shift, x.index_select(1, self.idx_b), log_scale.exp())
        return torch.cat((a, b), dim=1), log_scale

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y, log_scale = self._step(x)
        return y, log_scale.sum(dim=1)

    def call(self, x: Tensor) -> Tensor:
        return self._step(x)[0]

    def inverse(self, y: Tensor) -> Tensor:
        a, b = y[:, : self.n_a], y[:, self.n_a:]
        shift, log_scale = self._shift_log_scale(a)
        x = torch.cat((a, (b - shift) * torch.exp(-log_scale)), dim=1)
        return x.index_select(1, self.inverse_order)


def _xavier(n_out: int, n_in: int) -> Tensor:
    weight = torch.empty(n_out, n_in)
    nn.init.xavier_uniform_(weight)
    return weight


class CouplingFlow(Bijection):
    """``steps`` affine couplings, each splitting the coordinates by its own random order.

    The orders are drawn from ``seed`` (and saved with the weights as buffers).
    """

    def __init__(self, features: int, steps: int, hidden: int, seed: int = 0) -> None:
        super().__init__()
        self.features = features
        generator = torch.Generator().manual_seed(seed)
        self.couplings = nn.ModuleList(
            AffineCoupling(features, hidden, torch.randperm(features, generator=generator))
            for _ in range(steps))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        ladj = x.new_zeros(x.shape[0])
        for coupling in self.couplings:
            x, step_ladj = coupling.forward(x)
            ladj = ladj + step_ladj
        return x, ladj

    def call(self, x: Tensor) -> Tensor:
        for coupling in self.couplings:
            x = coupling.call(x)
        return x

    def inverse(self, y: Tensor) -> Tensor:
        for coupling in reversed(self.couplings):
            y = coupling.inverse(y)
        return y


class SigmoidOutput(Bijection):
    """``v = sigmoid(x)`` element-wise; the inverse clamps ``v`` to ``[eps, 1 - eps]`` first.

    See the module docstring for why the clamp exists and why ``eps = 1e-3`` is harmless.
    """

    def __init__(self, features: int, eps: float = 1e-3) -> None:
        super().__init__()
        if not 0.0 < eps < 0.5:
            raise ValueError(f"SigmoidOutput: eps must be in (0, 0.5), got {eps}")
        self.features = features
        self.eps = eps

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        # log sigmoid'(x) = log s + log(1 - s) = -softplus(-x) - softplus(x), stable for any x.
        ladj = -(F.softplus(-x) + F.softplus(x)).sum(dim=1)
        return torch.sigmoid(x), ladj

    def inverse(self, y: Tensor) -> Tensor:
        return torch.logit(y.clamp(self.eps, 1.0 - self.eps))


class RegressionFlow(Bijection):
    """f: z → v in (0, 1)^P — :class:`CouplingFlow` followed by :class:`SigmoidOutput`."""

    def __init__(self, features: int, steps: int, hidden: int, eps: float = 1e-3,
                 seed: int = 0) -> None:
        super().__init__()
        self.features = features
        self.couplings = CouplingFlow(features, steps, hidden, seed)
        self.sigmoid = SigmoidOutput(features, eps)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x, ladj = self.couplings(z)
        v, sigmoid_ladj = self.sigmoid(x)
        return v, ladj + sigmoid_ladj

    def call(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.couplings.call(z))

    def inverse(self, v: Tensor) -> Tensor:
        return self.couplings.inverse(self.sigmoid.inverse(v))


class IAFPosterior(Bijection):
    """Inverse autoregressive flow refining a Gaussian posterior sample (paper section 4.2).

    Each step is a zuko :class:`MaskedAutoregressiveTransform` (affine, ELU conditioner) with
    the variable order reversed at every other step. ``forward`` is the transforms' one-pass
    direction, used to push ``z0 ~ q0(z|x)`` to ``z_K``; the last layer of every conditioner
    starts at zero so that the flow starts as the identity.
    """

    def __init__(self, features: int, steps: int, hidden: int) -> None:
        super().__init__()
        if features < 2:
            raise ValueError(f"IAFPosterior needs at least 2 features, got {features}")
        self.features = features
        order = torch.arange(features)
        self.steps = nn.ModuleList(
            MaskedAutoregressiveTransform(features, order=order if i % 2 == 0 else order.flip(0),
                                          hidden_features=(hidden, hidden), activation=nn.ELU)
            for i in range(steps))
        for step in self.steps:
            last = step.hyper[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def _transform(self) -> ComposedTransform:
        return ComposedTransform(*(step() for step in self.steps))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not len(self.steps):
            return x, x.new_zeros(x.shape[0])
        return self._transform().call_and_ladj(x)

    def inverse(self, y: Tensor) -> Tensor:
        if not len(self.steps):
            return y
        return self._transform().inv(y)
