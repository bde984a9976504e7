"""The explorer's targets (DESIGN.md section 7), measured on a Flow_dis model.

Model: the shipped ``checkpoints/flowsynth_flow_dis_32.pt`` when it exists (or ``--checkpoint``),
else a small Flow_dis trained here in a few minutes (``--work`` keeps it for the next run); the
report says which. Held-out sounds come from a dataset rendered with another seed than any
training set (``--eval-seed``), at the model's parameter set.

Targets:

- semantic sliders: Spearman correlation between slider position (−3…3, other dims fixed)
  and the tag's score on the rendered audio, median over 50 starting points (encoded held-out
  sounds), per pair: ≥ 0.9, and the share of starts with ρ ≥ 0.8: ≥ 90 %; also from 50 prior
  draws (where the map's sketches are) and from the user's kind of starts (the init patch,
  imported Diva presets, each where the model hears it);
- interpolation: fraction of 100 preset pairs whose largest spectral jump between consecutive
  steps (RMS log-mel difference) is smaller along the latent path than along the straight
  parameter path;
- refined matching: SC reduction against the one-shot match on held-out synth sounds, and
  time per sound, on one core: ≥ 30 % lower within 2 s;
- map point → parameters latency: ≤ 2 ms.

Run: .venv/bin/python benchmarks/bench_explorer.py [--checkpoint PATH | --quick] [--work DIR]
     [--starts 50] [--pairs 100] [--sounds 20] [--budget 150]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from flowsynth_gui.data.dataset import DatasetSpec, LoadedDataset, build_dataset, load_dataset
from flowsynth_gui.data.renders import render_log_mels, render_presets
from flowsynth_gui.explorer import Explorer, MacroSettings
from flowsynth_gui.features.mel import mel_magnitude
from flowsynth_gui.features.metrics import spectral_convergence
from flowsynth_gui.latent.sliders import (
    SLIDER_RANGE,
    slider_rank_correlations,
    sweep_slider,
    tag_rules_of,
)
from flowsynth_gui.models import load_checkpoint
from flowsynth_gui.paths import CHECKPOINTS_DIR
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE as SR

SHIPPED = CHECKPOINTS_DIR / "flowsynth_flow_dis_32.pt"
# The quick model: between the tests' tiny networks and the CPU default (which trains for an
# hour), sized to train in a few minutes on one core.
QUICK_MODEL = dict(channels=8, conv_layers=5, hidden=128, dense_layers=2, iaf_steps=4,
                   iaf_hidden=32, flow_steps=4, flow_hidden=64, dis_steps=2, dis_hidden=32)


def quick_model(work: Path, sounds: int, epochs: int) -> Path:
    """Train (or reuse) the quick Flow_dis on a 16-parameter dataset in ``work``."""
    from flowsynth_gui.training.config import load_train_config
    from flowsynth_gui.training.trainer import TrainRequest, train

    checkpoint = work / "quick_flow_dis_16.pt"
    if checkpoint.exists() and not checkpoint.with_suffix(".train.pt").exists():
        return checkpoint
    started = time.perf_counter()
    data = work / f"train_p16_{sounds}"
    build_dataset(data, DatasetSpec(param_set=16, size=sounds, seed=0), workers=2)
    print(f"  training dataset: {sounds} sounds in {time.perf_counter() - started:.0f} s")
    setup = load_train_config("cpu", threads=1, epochs=epochs, batch_size=32,
                              learning_rate=1e-3, beta_warmup_epochs=5, plateau_patience=4,
                              early_stop_patience=epochs)
    setup = replace(setup, model_overrides=QUICK_MODEL)
    started = time.perf_counter()
    result = train(TrainRequest("flow_dis", data, checkpoint, setup, show_progress=True))
    checkpoint.with_suffix(".train.pt").unlink(missing_ok=True)  # marks the run as finished
    print(f"  trained {result.epochs_run} epochs in {time.perf_counter() - started:.0f} s, "
          f"best epoch {result.best_epoch}, valid param MSE "
          f"{result.best_valid.get('param_mse', float('nan')):.4f}")
    return checkpoint


def eval_dataset(work: Path, param_set: int, size: int, seed: int) -> LoadedDataset:
    root = work / f"eval_p{param_set}_{size}_s{seed}"
    build_dataset(root, DatasetSpec(param_set=param_set, size=size, seed=seed), workers=2)
    return load_dataset(root)


def semantic(explorer: Explorer, starts: np.ndarray, steps: int, kind: str) -> None:
    rules = tag_rules_of(explorer.codec.metadata.tag_rules)
    positions = np.linspace(*SLIDER_RANGE, steps)
    print(f"semantic sliders: Spearman(slider, tag score), {len(starts)} starts ({kind}) x "
          f"{steps} positions (target >= 0.9)")
    for slider in explorer.semantic_sliders():
        sweep = sweep_slider(explorer.codec.to_params, explorer.names, starts, slider.dim,
                             positions, rules, workers=explorer.workers)
        rhos = slider_rank_correlations(positions, sweep.scores[:, :, slider.dim])
        print(f"  {slider.label:<20} median {np.median(rhos):+.2f}   "
              f"(mean {rhos.mean():+.2f}, >= 0.9 for {np.mean(rhos >= 0.9):.0%}, >= 0.8 for "
              f"{np.mean(rhos >= 0.8):.0%} of starts; target >= 90 %)")


def user_presets() -> list[dict[str, float]]:
    """What a user starts a slider from: the init patch and imported Diva presets."""
    from flowsynth_gui.presets import read_h2p
    from flowsynth_gui.synth.params import init_patch

    folder = Path(__file__).resolve().parent.parent / "tests" / "data" / "h2p"
    return [init_patch()] + [read_h2p(p).parameters() for p in sorted(folder.glob("*.h2p"))]


def user_starts(explorer: Explorer) -> np.ndarray:
    """Where the model hears the user's presets (the latent the app starts from)."""
    return np.stack([explorer.heard_latent(p) for p in user_presets()])


def semantic_as_the_app_moves(explorer: Explorer, steps: int) -> None:
    """The sliders from the user's presets as the app plays them: the loaded preset's exact
    values (its residual from f(z), fading with distance) included."""
    rules = tag_rules_of(explorer.codec.metadata.tag_rules)
    positions = np.linspace(*SLIDER_RANGE, steps)
    rhos: dict[str, list[float]] = {}
    for preset in user_presets():
        start = explorer.heard_latent(preset)
        explorer.load_preset(preset, z=start, record=False)
        for slider in explorer.semantic_sliders():
            sweep = sweep_slider(lambda z: np.stack([explorer._params_at(row) for row in z]),
                                 explorer.names, start[None], slider.dim, positions, rules,
                                 workers=explorer.workers)
            rhos.setdefault(slider.label, []).append(float(slider_rank_correlations(
                positions, sweep.scores[:, :, slider.dim])[0]))
    print(f"semantic sliders as the app moves them from {len(user_presets())} user presets "
          "(residual included):")
    for label, values in rhos.items():
        r = np.array(values)
        print(f"  {label:<20} median {np.median(r):+.2f}   (>= 0.8 for {np.mean(r >= 0.8):.0%}; "
              f"each: {', '.join(f'{v:+.2f}' for v in r)})")


def interpolation(explorer: Explorer, presets: np.ndarray, pairs: int, steps: int) -> None:
    rng = np.random.default_rng(1)
    wins, latent_jumps, straight_jumps = 0, [], []
    for _ in range(pairs):
        a, b = rng.choice(len(presets), 2, replace=False)
        path = explorer.interpolate(presets[a], presets[b], steps)
        both = np.concatenate([path.latent_params, path.straight_params])
        mels = render_log_mels(both, explorer.names, 60)
        jumps = [float(np.sqrt(np.square(np.diff(m, axis=0)).mean(axis=(1, 2))).max())
                 for m in (mels[:steps], mels[steps:])]
        latent_jumps.append(jumps[0])
        straight_jumps.append(jumps[1])
        wins += jumps[0] < jumps[1]
    print(f"interpolation: {pairs} pairs, {steps} steps: latent path has the smaller largest "
          f"jump in {wins / pairs:.0%} of pairs (median largest jump: latent "
          f"{np.median(latent_jumps):.3f}, straight {np.median(straight_jumps):.3f} log-mel RMS)")


def refinement(explorer: Explorer, audio: np.ndarray, budget: int, limit: float) -> None:
    torch.set_num_threads(1)
    explorer.workers = 1
    one_shot, refined, times, renders = [], [], [], []
    for sound in audio:
        match = explorer.match(sound, SR)
        target = mel_magnitude(sound, SR)
        started = time.perf_counter()
        result = explorer.refine(budget=budget, time_limit=limit)
        times.append(time.perf_counter() - started)
        best = render_presets(result.best.params[None], explorer.names, match.note)[0]
        one_shot.append(match.spectral_convergence)
        refined.append(float(spectral_convergence(target, mel_magnitude(best, SR))))
        renders.append(result.renders)
    one_shot_a, refined_a = np.array(one_shot), np.array(refined)
    per_sound = 1.0 - refined_a / one_shot_a
    overall = 1.0 - refined_a.mean() / one_shot_a.mean()
    print(f"refined matching: {len(audio)} held-out sounds, budget {budget} renders, limit "
          f"{limit:g} s, one core (target >= 30 % lower SC within 2 s)")
    print(f"  SC one-shot {one_shot_a.mean():.3f} +- {one_shot_a.std():.3f} -> refined "
          f"{refined_a.mean():.3f} +- {refined_a.std():.3f}: mean SC {overall:.0%} "
          f"lower, median per-sound reduction {np.median(per_sound):.0%}, "
          f"worse on {int(np.sum(per_sound < -1e-9))} sounds")
    print(f"  time per sound: median {np.median(times):.2f} s, max {np.max(times):.2f} s, "
          f"{np.mean(renders):.0f} renders on average")


def map_latency(explorer: Explorer, moves: int) -> None:
    for axes, name in (((0, 1), "dims 0, 1"), (None, "PCA")):
        explorer.set_map_axes(axes)
        x0, y0 = explorer.map_position()
        offsets = np.random.default_rng(0).uniform(-1.5, 1.5, (moves, 2))
        times = []
        for dx, dy in offsets:
            started = time.perf_counter()
            explorer.move_on_map(x0 + dx, y0 + dy)
            times.append(time.perf_counter() - started)
        ms = 1e3 * np.array(times)
        print(f"map point -> parameters ({name}): median {np.median(ms):.3f} ms, p99 "
              f"{np.percentile(ms, 99):.3f} ms, max {ms.max():.3f} ms (target <= 2 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--quick", action="store_true",
                        help="use the quick model even when the shipped one exists")
    parser.add_argument("--work", type=Path, default=Path("/tmp/flowsynth-bench-explorer"))
    parser.add_argument("--train-sounds", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--eval-seed", type=int, default=777)
    parser.add_argument("--starts", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--sounds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=150)
    parser.add_argument("--limit", type=float, default=2.0)
    parser.add_argument("--only-sliders", action="store_true",
                        help="stop after the semantic sliders")
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    path = args.checkpoint or (SHIPPED if SHIPPED.exists() and not args.quick else None)
    if path is None:
        why = "--quick" if args.quick else f"{SHIPPED} not found"
        print(f"{why}: training a quick Flow_dis in {args.work}")
        path = quick_model(args.work, args.train_sounds, args.epochs)
        which = f"quick Flow_dis trained here ({path})"
    else:
        which = f"checkpoint {path}"
    loaded = load_checkpoint(path)
    names = loaded.metadata.param_names
    explorer = Explorer(loaded, macro_settings=MacroSettings(), workers=2)
    print(f"model: {which}: {loaded.config.kind}, {len(names)} parameters")

    size = max(args.starts, args.sounds, 2 * args.pairs, 100) + 20
    data = eval_dataset(args.work, len(names), size, args.eval_seed)
    if tuple(data.spec.parameters) != tuple(names):
        raise SystemExit("the evaluation set's parameters differ from the model's")
    presets = data.params.astype(np.float64)

    started = time.perf_counter()
    knobs = explorer.macros(6)
    print(f"macro ranking: {time.perf_counter() - started:.1f} s; top knobs: " + "; ".join(
        f"{k.name}=z{k.dim} ({k.audio_motion:.2f}, {k.top_params[0].name})" for k in knobs[:4]))
    starts = explorer.codec.encode_log_mels(data.log_mel[: args.starts])
    semantic(explorer, starts, steps=7, kind="encoded held-out sounds")
    # The map's sketches (and any point dragged to) start from the prior, not from sounds.
    prior = np.random.default_rng(args.eval_seed).standard_normal((args.starts, len(starts[0])))
    semantic(explorer, prior, steps=7, kind="prior draws, like the map's sketches")
    semantic(explorer, user_starts(explorer), steps=7,
             kind="the init patch and imported Diva presets, where the model hears them")
    semantic_as_the_app_moves(explorer, steps=7)
    if args.only_sliders:
        return
    interpolation(explorer, presets, args.pairs, steps=8)
    explorer.add_dataset_to_map(data, limit=200)
    map_latency(explorer, 2000)
    held_out = render_presets(presets[-args.sounds:], names, 60)
    refinement(explorer, held_out, args.budget, args.limit)


if __name__ == "__main__":
    main()
