"""Every bijection the models use, checked the same way (zuko's table-driven style).

For each entry of BIJECTIONS: inverse(forward(x)) == x, the log-determinant returned by forward
equals log|det J| of autograd's Jacobian (float64, a few samples), and a save/load round trip
of the state dict into a freshly built twin gives identical outputs both ways.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import torch

from flowsynth_gui.models import ModelConfig, build_model
from flowsynth_gui.models.bijections import (
    AffineCoupling,
    Bijection,
    CouplingFlow,
    IAFPosterior,
    RegressionFlow,
    SigmoidOutput,
)

DIM = 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(kind: str) -> ModelConfig:
    return ModelConfig(kind, n_params=DIM, channels=2, conv_layers=1, kernel=3, hidden=8,
                       regressor_hidden=8, iaf_steps=3, iaf_hidden=12, flow_steps=3,
                       flow_hidden=12, dis_steps=3, dis_hidden=12, n_tags=2)


# name -> factory; the flows of real models are taken from tiny built models so that the test
# covers exactly what the models run.
BIJECTIONS: dict[str, Callable[[], Bijection]] = {
    "iaf_posterior": lambda: IAFPosterior(DIM, steps=3, hidden=12),
    "vae_flow.iaf": lambda: build_model(_tiny("vae_flow")).iaf,
    "affine_coupling_odd": lambda: AffineCoupling(DIM - 1, 12, order=torch.tensor([3, 0, 4, 1, 2])),
    "coupling_flow": lambda: CouplingFlow(DIM, steps=3, hidden=12, seed=3),
    "sigmoid_output": lambda: SigmoidOutput(DIM, eps=1e-3),
    "regression_flow": lambda: RegressionFlow(DIM, steps=3, hidden=12),
    "flow_reg.regression_flow": lambda: build_model(_tiny("flow_reg")).regression_flow,
    "flow_dis.regression_flow": lambda: build_model(_tiny("flow_dis")).regression_flow,
    "flow_dis.disentangling_flow": lambda: build_model(_tiny("flow_dis")).disentangling_flow,
}


def _randomised(factory: Callable[[], Bijection], seed: int) -> Bijection:
    """A float64 instance with random weights: new flows start at the identity, too easy."""
    torch.manual_seed(seed)
    bijection = factory().double()
    with torch.no_grad():
        for parameter in bijection.parameters():
            parameter.normal_(0.0, 0.2)
    return bijection


@pytest.mark.parametrize("name", list(BIJECTIONS))
def test_bijection(name: str) -> None:
    bijection = _randomised(BIJECTIONS[name], seed=0)
    dim = bijection.features
    x = torch.randn(5, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    y, ladj = bijection(x)
    assert y.shape == x.shape and ladj.shape == (5,)
    if isinstance(bijection, SigmoidOutput | RegressionFlow):
        # Outputs inside (eps, 1 - eps), where the clamped logit is an exact inverse.
        assert bool(((y > 1e-3) & (y < 1 - 1e-3)).all()), "test input leaves the exact range"

    # 1. Invertibility (and the log-det-free inference path agrees with forward).
    torch.testing.assert_close(bijection.inverse(y), x, atol=1e-9, rtol=1e-9)
    assert torch.equal(bijection.call(x), y)

    # 2. The log-determinant against autograd's Jacobian, sample by sample.
    for row in range(3):
        jacobian = torch.autograd.functional.jacobian(
            lambda r: bijection(r[None])[0][0], x[row])
        assert jacobian.shape == (dim, dim)
        expected = torch.linalg.slogdet(jacobian).logabsdet
        torch.testing.assert_close(ladj[row], expected, atol=1e-9, rtol=1e-9)

    # 3. Save/load round trip into a twin with other random weights (tensors only).
    buffer = io.BytesIO()
    torch.save(bijection.state_dict(), buffer)
    twin = _randomised(BIJECTIONS[name], seed=1)
    buffer.seek(0)
    twin.load_state_dict(torch.load(buffer, weights_only=True))
    y_twin, ladj_twin = twin(x)
    assert torch.equal(y_twin, y) and torch.equal(ladj_twin, ladj)
    assert torch.equal(twin.inverse(y), bijection.inverse(y))
