"""The matching engine against its components and the simple baselines, in one run.

Targets (issue "Sound matching that finds the sound"), median spectral convergence (SC, linear
mel, target vs the match rendered at the target's pitch) on 2 cores:

- (a) random in-domain presets: the model's parameters uniform in [0.05, 0.95], rendered at
  MIDI 60 (seed ``--seed``, never the index's);
- (b) the out-of-domain corpus (``scripts/make_ood_corpus.py``: instruments, voices, other
  synths), each at its own pitch.

Rows: a random preset; the model's one-shot answer; the nearest index sound (NN-1); 16
nearest re-ranked by rendering (NN-16); the engine's first answer (budget 0: index, model,
posterior, ranked) and the engine polished for 0.5, 1 and 2 s. At equal time (2 s) beside the
engine: each component alone — the index re-ranked with as many neighbours as the engine
rendered, the model's posterior best-of-that-many, and CMA-ES polish from the model's answer.
Then the index size (first N sounds of the index) and the embedding (PCA vs the model's z)
for NN-16 re-ranked. With a parameter posterior (``--posterior``, default the shipped one):
the same engine without it (first answer and at 2 s) and the posterior alone (best of 64).

Run: .venv/bin/python benchmarks/bench_matching.py --index DIR --ood DIR [--targets 30]
     [--budgets 0.5 1 2] [--sizes 20000 50000 100000 200000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from flowsynth_gui.features.mel import mel_magnitude
from flowsynth_gui.inference.analysis import analyse_audio, load_target
from flowsynth_gui.inference.match import Matcher
from flowsynth_gui.matching import EngineSettings, MatchEngine, load_index, open_posterior
from flowsynth_gui.matching.polish import polish
from flowsynth_gui.models import load_checkpoint
from flowsynth_gui.paths import DEFAULT_MODEL, DEFAULT_POSTERIOR
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE as SR
from flowsynth_gui.synth.render import render_batch

SHIPPED = DEFAULT_MODEL


def in_domain_targets(names: tuple[str, ...], count: int, seed: int) -> list:
    values = np.random.default_rng(seed).uniform(0.05, 0.95, (count, len(names)))
    audio = render_batch(values, names, note=60, seeds=[0] * count)
    return [analyse_audio(a, SR) for a in audio]


def ood_targets(folder: Path) -> list:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".wav", ".flac", ".ogg"))
    return [load_target(p) for p in files]


class Rows:
    """Per method: SC and seconds for each target of one corpus."""

    def __init__(self) -> None:
        self.sc: dict[str, list[float]] = {}
        self.seconds: dict[str, list[float]] = {}

    def add(self, method: str, sc: float, seconds: float) -> None:
        self.sc.setdefault(method, []).append(float(sc))
        self.seconds.setdefault(method, []).append(float(seconds))


def nn_reranked(engine: MatchEngine, index, target, k: int,
                both_pitches: bool = False) -> tuple[float, float]:
    """Best SC of the k nearest index sounds re-ranked by rendering; ``both_pitches``: half
    of them for each of the engine's two pitch hypotheses (as the engine does)."""
    began = time.perf_counter()
    hypotheses = [(target.note, target.at_reference)]
    if both_pitches and target.note != 60:
        hypotheses.append((60, target.audio))
    best = np.inf
    for note, heard in hypotheses:
        rows, _ = index.nearest(index.embed(mel_magnitude(heard, SR)[None])[0],
                                max(1, k // len(hypotheses)))
        best = min(best, float(engine.scorer.scores(index.params(rows), note, target.mel).min()))
    return best, time.perf_counter() - began


def z_reranked(engine: MatchEngine, matcher: Matcher, index_z: np.ndarray, index, target,
               k: int) -> float:
    _, z = matcher.infer(target.at_reference)
    rows = np.argsort(np.linalg.norm(index_z - z, axis=1))[:k]
    return float(engine.scorer.scores(index.params(rows), target.note, target.mel).min())


def measure(corpus: str, targets: list, engine: MatchEngine, matcher: Matcher, index,
            budgets: list[float], sizes: list[int], components: list[int],
            index_z: np.ndarray | None, rng: np.random.Generator) -> Rows:
    rows = Rows()
    names = engine.names
    for n, target in enumerate(targets):
        random_preset = rng.uniform(0.0, 1.0, (1, len(names)))
        rows.add("random preset", engine.scorer.scores(random_preset, target.note,
                                                       target.mel)[0], 0)
        began = time.perf_counter()
        params, _ = matcher.infer(target.at_reference)
        model_sc = engine.scorer.scores(np.array([[params[k] for k in names]]), target.note,
                                        target.mel)[0]
        rows.add("model one-shot", model_sc, time.perf_counter() - began)
        sc, sec = nn_reranked(engine, index, target, 1)
        rows.add("NN-1 (index)", sc, sec)
        sc, sec = nn_reranked(engine, index, target, 16)
        rows.add("NN-16 re-ranked", sc, sec)
        sc, _ = nn_reranked(engine, index, target, 16, both_pitches=True)
        rows.add("NN-16 re-ranked (both pitches)", sc, 0)
        first = engine.match(target, budget=0)
        rows.add("engine, first answer", first.best.distance, first.seconds)
        if engine.posterior is not None:  # the same engine without the parameter posterior
            plain = MatchEngine(names, matcher=matcher, index=index, workers=engine.scorer.workers,
                                settings=engine.settings)
            for budget in (0.0, budgets[-1]):
                outcome = plain.match(target, budget=budget)
                label = "first answer" if budget == 0 else f"{budget:g} s"
                rows.add(f"engine without the parameter posterior, {label}",
                         outcome.best.distance, outcome.seconds)
            plain.close()
            began = time.perf_counter()
            query = index.embed(mel_magnitude(target.at_reference, SR)[None])[0]
            draws = engine.posterior.propose(query, 64, seed=n, ranked=False)[0]
            rows.add("alone: parameter posterior, best of 64",
                     engine.scorer.scores(draws, target.note, target.mel).min(),
                     time.perf_counter() - began)
        renders_at_2s = 0
        for budget in budgets:
            outcome = engine.match(target, budget=budget)
            rows.add(f"engine, {budget:g} s", outcome.best.distance, outcome.seconds)
            renders_at_2s = outcome.renders
        # Components alone at the engine's largest budget, with as many renders.
        sc, sec = nn_reranked(engine, index, target, renders_at_2s, both_pitches=True)
        rows.add("alone: index, as many neighbours re-ranked as the engine rendered", sc, sec)
        began = time.perf_counter()
        draws = matcher.sample_posterior(target.at_reference, renders_at_2s, seed=n)
        post = engine.scorer.scores(draws[1], target.note, target.mel).min() if draws else np.nan
        rows.add("alone: model posterior, as many draws re-ranked", post,
                 time.perf_counter() - began)
        began = time.perf_counter()
        best = [model_sc]
        start = np.array([params[k] for k in names])

        def seen(_rows: np.ndarray, distances: np.ndarray, best: list = best) -> None:
            best[0] = min(best[0], float(distances.min()))

        polish([start], lambda r, t=target: engine.scorer.scores(r, t.note, t.mel),
               began + budgets[-1], seed=n, on_generation=seen)
        rows.add(f"alone: CMA-ES from the model, {budgets[-1]:g} s", best[0],
                 time.perf_counter() - began)
        for size in sizes:
            for axes in components:
                if size <= len(index) and (size, axes) != (len(index), index.spec.components):
                    sc, _ = nn_reranked(engine, index.head(size, axes), target, 16,
                                        both_pitches=True)
                    rows.add(f"NN-16 re-ranked (both pitches), index {size:,} × {axes} axes",
                             sc, 0)
        if index_z is not None:
            rows.add(f"NN-16 re-ranked by model z, index {len(index_z):,}",
                     z_reranked(engine, matcher, index_z, index.head(len(index_z)), target, 16),
                     0)
        print(f"  {corpus} {n + 1}/{len(targets)}: model {model_sc:.3f}, NN-16 "
              f"{rows.sc['NN-16 re-ranked'][-1]:.3f}, engine first {first.best.distance:.3f}, "
              f"engine {budgets[-1]:g} s {rows.sc[f'engine, {budgets[-1]:g} s'][-1]:.3f}",
              flush=True)
    return rows


def table(results: dict[str, Rows]) -> str:
    corpora = list(results)
    methods = list(results[corpora[0]].sc)
    head = "| method | " + " | ".join(f"{c} SC (median) | {c} time" for c in corpora) + " |"
    lines = [head, "|---|" + "---|---|" * len(corpora)]
    for m in methods:
        cells = []
        for c in corpora:
            sc, sec = results[c].sc.get(m, [np.nan]), results[c].seconds.get(m, [0])
            cells.append(f"{np.median(sc):.3f}")
            cells.append(f"{np.median(sec) * 1000:.0f} ms" if np.median(sec) > 0 else "–")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--ood", type=Path)
    parser.add_argument("--targets", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[20000, 50000, 100000])
    parser.add_argument("--components", type=int, nargs="*", default=[64],
                        help="embedding axes for the size sweep (the index's leading axes)")
    parser.add_argument("--z-size", type=int, default=0,
                        help="also rank the first N index sounds by the model's latent "
                             "(renders and encodes them first)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--posterior", type=Path, default=DEFAULT_POSTERIOR,
                        help="parameter posterior for the engine (rows with and without it)")
    args = parser.parse_args()

    matcher = Matcher(load_checkpoint(args.checkpoint))
    index = load_index(args.index)
    posterior, why = open_posterior(args.posterior, matcher.names, index)
    if why:
        print(f"note: {why}")
    engine = MatchEngine(matcher.names, matcher=matcher, index=index, workers=args.workers,
                         settings=EngineSettings(previous=0), posterior=posterior)
    index_z = None
    if args.z_size:
        from flowsynth_gui.latent.codec import LatentCodec
        codec, size = LatentCodec(matcher.checkpoint), min(args.z_size, len(index))
        index_z = np.concatenate([codec.encode_presets(
            index.params(np.arange(s, min(s + 2000, size))), args.workers)
            for s in range(0, size, 2000)])
    print(f"model {args.checkpoint.name}, index {args.index} ({len(index):,} sounds), "
          f"{args.workers} workers")
    rng = np.random.default_rng(args.seed + 1)
    results = {"in-domain": measure("in-domain", in_domain_targets(matcher.names, args.targets,
                                                                   args.seed),
                                    engine, matcher, index, args.budgets, args.sizes,
                                    args.components, index_z, rng)}
    if args.ood:
        results["out-of-domain"] = measure("out-of-domain", ood_targets(args.ood), engine,
                                           matcher, index, args.budgets, args.sizes,
                                           args.components, index_z, rng)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
