"""The parameter posterior against nearest neighbours from the same index, in one run.

Targets (issue "A posterior that proposes presets"), median SC of the best candidate re-ranked
by rendering at the target's pitch (lower is closer), on 2 cores:

- best-of-16 ≤ 0.60 in-domain and ≤ 0.65 out-of-domain, beside NN-16;
- best-of-64 ≤ 0.52 in-domain; the most likely preset (one shot) ≤ NN-1;
- calibration: the share of true parameters inside the posterior's central 50 % and 90 %
  intervals within ±10 points of 50 and 90 (fresh presets, canonical, inaudible ones skipped:
  ``synth/symmetry.py``), and the test log-likelihood (per preset, nats, over [0, 1]^P);
- sampling 64 candidates ≤ 20 ms.

In-domain targets are uniform random presets in [0.05, 0.95] at MIDI 60 (the matching
benchmark's); out-of-domain ones the corpus of ``scripts/make_ood_corpus.py``. Both methods
hear the input at the reference note and play at the input's note.

Run: .venv/bin/python benchmarks/bench_posterior.py
     --posterior checkpoints/flowsynth_posterior_32.pt
     --index checkpoints/flowsynth_index_32 [--ood /work/data/ood] [--targets 30]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from flowsynth_gui.data.dataset import reject_reasons, sample_parameters
from flowsynth_gui.features.mel import mel_magnitude, mel_magnitude_batch
from flowsynth_gui.inference.analysis import analyse_audio, load_target
from flowsynth_gui.matching import load_index
from flowsynth_gui.matching.scoring import Scorer
from flowsynth_gui.models.param_posterior import load_posterior
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE as SR
from flowsynth_gui.synth.render import render_batch
from flowsynth_gui.synth.symmetry import canonical, inert_mask


def targets_in_domain(names: tuple[str, ...], count: int, seed: int) -> list:
    values = np.random.default_rng(seed).uniform(0.05, 0.95, (count, len(names)))
    return [analyse_audio(a, SR) for a in render_batch(values, names, 60, seeds=[0] * count)]


def targets_ood(folder: Path) -> list:
    return [load_target(p) for p in sorted(folder.rglob("*"))
            if p.suffix.lower() in (".wav", ".flac", ".ogg")]


def matching_rows(targets: list, index, posterior, scorer: Scorer) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    for n, target in enumerate(targets):
        query = index.embed(mel_magnitude(target.at_reference, SR)[None])[0]
        near, _ = index.nearest(query, 64)
        sc = scorer.scores(index.params(near), target.note, target.mel)
        began = time.perf_counter()
        draws, _ = posterior.propose(query, 64, seed=n, ranked=False)
        rows.setdefault("sampling 64 (ms)", []).append(1000 * (time.perf_counter() - began))
        mode = posterior.propose(query, 64, seed=n, temperature=0.5)[0][:1]
        post = scorer.scores(np.concatenate([mode, draws]), target.note, target.mel)
        for k in (1, 16, 64):
            rows.setdefault(f"NN-{k}", []).append(float(sc[:k].min()))
        rows.setdefault("posterior, most likely (one shot)", []).append(float(post[0]))
        for k in (16, 64):  # the draws in drawing order (not sorted: sorted would cheat)
            rows.setdefault(f"posterior, best of {k}", []).append(float(post[1:1 + k].min()))
    return rows


def fresh_presets(names: tuple[str, ...], count: int, seed: int, index
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Audible presets drawn like the index's (another seed) and their embeddings."""
    values = sample_parameters(np.random.default_rng(seed), count, names, 0.5)
    audio = render_batch(values, names, 60, seeds=[0] * count)
    keep = reject_reasons(audio) == ""
    return values[keep], index.embed(mel_magnitude_batch(audio[keep], SR))


def calibration(values: np.ndarray, embeddings: np.ndarray, posterior, names, draws: int
                ) -> tuple[float, float, float]:
    """(log-likelihood per preset, share inside the 50 % and 90 % central intervals)."""
    truth = canonical(values, names)
    hidden = inert_mask(values, names)
    hidden[:, list(posterior.model.config.frozen)] = True
    with torch.no_grad():  # the training objective: presets pile up on defaults (point
        torch.manual_seed(0)  # masses), so the density is taken of dequantised logits
        log_lik = -posterior.model.training_loss(torch.as_tensor(truth, dtype=torch.float32),
                                                 torch.as_tensor(embeddings,
                                                                 dtype=torch.float32))
    inside50, inside90 = [], []
    for i, (row, e) in enumerate(zip(truth, embeddings, strict=True)):
        sample, _ = posterior.propose(e, draws, seed=10_000 + i, ranked=False)
        lo50, hi50, lo90, hi90 = np.quantile(sample, [0.25, 0.75, 0.05, 0.95], axis=0)
        # A point mass (a default, a bound) inside its interval counts as inside.
        seen = ~hidden[i]
        inside50 += list(((row >= lo50) & (row <= hi50))[seen])
        inside90 += list(((row >= lo90) & (row <= hi90))[seen])
    return float(log_lik), float(np.mean(inside50)), float(np.mean(inside90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posterior", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--ood", type=Path)
    parser.add_argument("--targets", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--calibration-presets", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(1)  # the renders take the cores; sampling is timed on one
    index = load_index(args.index)
    posterior = load_posterior(args.posterior, index.names, index.fingerprint)
    scorer = Scorer(index.names, args.workers)
    print(f"posterior {args.posterior.name} ({len(index.names)} parameters, trained on "
          f"{posterior.training.get('train_sounds', '?')} sounds in "
          f"{posterior.training.get('seconds', 0) / 60:.0f} min), index {len(index):,} sounds")
    corpora = {"in-domain": targets_in_domain(index.names, args.targets, args.seed)}
    if args.ood:
        corpora["out-of-domain"] = targets_ood(args.ood)
    results = {name: matching_rows(t, index, posterior, scorer) for name, t in corpora.items()}
    methods = list(results["in-domain"])
    print("\n| method | " + " | ".join(f"{c} (median SC, n={len(corpora[c])})"
                                      for c in corpora) + " |")
    print("|---|" + "---|" * len(corpora))
    for m in methods:
        print(f"| {m} | " + " | ".join(f"{np.median(results[c][m]):.3f}" for c in corpora)
              + " |")
    values, embeddings = fresh_presets(index.names, args.calibration_presets, args.seed + 7,
                                       index)
    log_lik, c50, c90 = calibration(values, embeddings, posterior, index.names, 200)
    print(f"\ntest log-likelihood {log_lik:.2f} nats per preset (dequantised logits, "
          f"{len(values)} fresh presets); "
          f"calibration: {100 * c50:.1f} % inside the 50 % intervals, {100 * c90:.1f} % inside "
          "the 90 % intervals (audible parameters)")


if __name__ == "__main__":
    main()
