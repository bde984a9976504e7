"""Model latency and training throughput for the CPU-default Flow_dis (or any config).

Targets (DESIGN.md section 3): mel → preset ≤ 30 ms, z → v ≤ 1 ms (every cursor move),
v → z ≤ 5 ms (placing presets on the map); training in about an hour on ~20,000 sounds
(16,000 in the training split) with 2 cores.

Run: .venv/bin/python benchmarks/bench_models.py [--kind flow_dis] [--params 32] [--paper]
     [--set channels=48 --set kernel=7 ...]

Latencies are medians on one thread, one sound at a time, in eval mode; training throughput
is measured on ``--train-threads`` threads (default 2) with Adam and random data shaped like
the real thing.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from flowsynth_gui.models import ModelConfig, build_model, cpu_config, paper_config
from flowsynth_gui.models.nets import count_parameters

TRAIN_SOUNDS = 16_000  # training split of a 20,000-sound dataset (80 %)
TARGETS_MS = {"mel -> params": 30.0, "z -> params": 1.0, "params -> z": 5.0}


def median_ms(call: Callable[[], object], repeats: int) -> float:
    for _ in range(max(3, repeats // 10)):  # warm-up: allocator, lazy initialisation
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def parse_changes(pairs: list[str]) -> dict[str, object]:
    changes: dict[str, object] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        kind = ModelConfig.__dataclass_fields__[key].type
        changes[key] = {"int": int, "float": float, "bool": lambda s: s == "true"}.get(
            str(kind), str)(value)
    return changes


def latencies(config: ModelConfig, repeats: int) -> dict[str, float]:
    torch.set_num_threads(1)
    model = build_model(config).eval()
    with torch.no_grad():  # non-trivial flow weights (new flows are the identity)
        for name, parameter in model.named_parameters():
            if "flow" in name or "iaf" in name:
                parameter.add_(0.05 * torch.randn_like(parameter))
    mel = torch.randn(1, config.n_mels, config.n_frames)
    z = model.encode(mel)
    v = model.params_from_latent(z)
    results = {"mel -> params": median_ms(lambda: model.predict_params(mel), repeats)}
    results["z -> params"] = median_ms(lambda: model.params_from_latent(z), repeats * 10)
    if model.invertible:
        results["params -> z"] = median_ms(lambda: model.latent_from_params(v), repeats * 10)
        # The app's path: a NumPy snapshot of the regression flow, one vector at a time.
        fast = model.latent_map()  # type: ignore[attr-defined]
        z_np, v_np = z[0].numpy(), v[0].numpy()
        results["z -> params (numpy)"] = median_ms(lambda: fast.to_params(z_np), repeats * 10)
        results["params -> z (numpy)"] = median_ms(lambda: fast.to_latent(v_np), repeats * 10)
    return results


def training_throughput(config: ModelConfig, threads: int, batch: int,
                        steps: int) -> tuple[float, float]:
    """Sounds per second: overall, and in the fastest step (less disturbed by other load)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(config).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-4)
    data = {"mel": torch.randn(batch, config.n_mels, config.n_frames),
            "params": torch.rand(batch, config.n_params),
            "tags": torch.randint(-1, 2, (batch, config.n_tags)), "beta": 1.0}

    def step() -> None:
        terms = model.loss(data)
        optimiser.zero_grad()
        terms["total"].backward()
        optimiser.step()

    step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return batch * steps / sum(times), batch / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="flow_dis")
    parser.add_argument("--params", type=int, default=32)
    parser.add_argument("--paper", action="store_true", help="the paper's sizes instead")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a ModelConfig field (repeatable)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--train-threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()

    base = (paper_config if args.paper else cpu_config)(args.kind, args.params)
    config = base.with_changes(**parse_changes(args.set))
    print(f"{config.kind}, {config.n_params} parameters, {count_parameters(build_model(config))}"
          f" weights: channels {config.channels}, kernel {config.kernel}, hidden "
          f"{config.hidden}, IAF {config.iaf_steps}, regression flow {config.flow_steps}, "
          f"disentangling flow {config.dis_steps}")
    for label, ms in latencies(config, args.repeats).items():
        target = TARGETS_MS[label.split(" (")[0]]
        verdict = "met" if ms <= target else "NOT met"
        print(f"  {label:20s} {ms:8.3f} ms  (one thread, median; target <= {target:g} ms: "
              f"{verdict})")
    rate, best = training_throughput(config, args.train_threads, args.batch, args.steps)
    print(f"  training             {rate:8.1f} sounds/s ({args.train_threads} threads, batch "
          f"{args.batch}; fastest step {best:.1f}/s): {TRAIN_SOUNDS / rate:.0f} s per epoch of "
          f"{TRAIN_SOUNDS} sounds, {3600 * rate / TRAIN_SOUNDS:.1f} epochs per hour")


if __name__ == "__main__":
    main()
