"""Imitation matching against random presets, the model and the spectral engine, in one run.

On an imitation set (``scripts/make_imitation_set.py``: synth sounds and voice-like imitations
of them), every method gets the *imitation* and its answer is scored against the *imitated
original*: the returned preset is rendered at the original's pitch and compared by shape
distance (``matching.shape_distance``, default weights) and by SC (linear mel). Rows:

- random preset; the model's one-shot answer (the imitation at the reference pitch);
- the spectral engine (``MatchEngine.match``, SC against the imitation) at ``--budget``;
- imitation matching, first answer (budget 0) and at ``--budget``, each search on its own (the
  imitator forgets the previous search's best, which would otherwise be among its candidates);
- one simulated round of relevance feedback on the first answer: of its top 8, the 2 nearest
  the original by true shape distance marked closer, the 2 furthest marked further, and the
  search run again from the new query, at budget 0 and at ``--feedback-budget`` (beside the
  same search without feedback, so the search's own gain is not counted as the feedback's);
- for built-in-synth originals that are index rows: the share of imitations whose original
  preset is among the top 10, and the rank of the original among the index shapes the search
  starts from (the imitation's shape, default weights; 0 is first).

Targets (issue "Vocal imitation"): top-1 shape distance <= 0.5 x random's and <= 0.7 x the
spectral engine's; the original's preset in the top 10 for >= 50 %; feedback improves top-1
shape distance by >= 15 %; first candidates <= 0.3 s, refined <= 2 s.

Run: .venv/bin/python benchmarks/bench_imitation.py SET_DIR [--budget 2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowsynth_gui.features.audio_io import load_audio
from flowsynth_gui.features.mel import mel_magnitude_batch
from flowsynth_gui.features.pitch import hz_to_midi
from flowsynth_gui.features.shape import SoundShape, describe_shape
from flowsynth_gui.inference.analysis import analyse_imitation, fit_seconds, load_target
from flowsynth_gui.inference.match import Matcher
from flowsynth_gui.matching import MatchEngine, open_index, open_posterior
from flowsynth_gui.matching.imitation import Imitator
from flowsynth_gui.matching.shape_distance import ShapeQuery, ShapeTable, shape_distance
from flowsynth_gui.matching.shape_index import load_shapes
from flowsynth_gui.models import load_checkpoint
from flowsynth_gui.paths import DEFAULT_MODEL
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE as SR
from flowsynth_gui.synth.render import render_batch


@dataclass
class Original:
    shape: SoundShape
    mel: np.ndarray
    note: int
    midi: float | None  # its median pitch
    row: int | None


@dataclass
class Scores:
    shape: dict[str, list[float]] = field(default_factory=dict)
    sc: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, method: str, scored: tuple[float, float], seconds: float | None = None) -> None:
        self.shape.setdefault(method, []).append(scored[0])
        self.sc.setdefault(method, []).append(scored[1])
        if seconds is not None:
            self.seconds.setdefault(method, []).append(seconds)


def load_original(folder: Path, entry: dict) -> Original:
    audio = fit_seconds(load_audio(folder / entry["original"], sample_rate=SR,
                                   duration=None).samples)
    shape = describe_shape(audio, SR)
    midi = None if shape.pitch_hz is None else float(hz_to_midi(shape.pitch_hz))
    return Original(shape, mel_magnitude_batch(audio[None], SR)[0], int(entry["note"]), midi,
                    entry.get("index_row"))


def score(names: tuple[str, ...], original: Original, params: np.ndarray,
          note: int) -> tuple[float, float]:
    audio = render_batch(np.clip(params, 0, 1)[None], names, note=int(np.clip(note, 24, 108)),
                         seeds=[0], workers=1)
    shape = describe_shape(audio[0], SR)
    error = mel_magnitude_batch(audio, SR)[0] - original.mel
    return (shape_distance(original.shape, shape),
            float(np.linalg.norm(error) / np.linalg.norm(original.mel)))


def original_note(original: Original, candidate_note: int, heard_midi: float | None) -> int:
    """The note at which a candidate that plays the imitation's pitch at ``candidate_note``
    plays the original's pitch instead."""
    if original.midi is None or heard_midi is None:
        return original.note if heard_midi is None else candidate_note
    return int(round(candidate_note + original.midi - heard_midi))


def feedback_round(imitator: Imitator, target, outcome, names, original: Original,
                   budget: float = 0.0):
    top = outcome.candidates[:8]
    heard = None if target.shape.pitch_hz is None else float(hz_to_midi(target.shape.pitch_hz))
    truth = [score(names, original, c.params, original_note(original, c.note, heard))[0]
             for c in top]
    order = list(np.argsort(truth))
    query = imitator.feedback(outcome, closer=order[:2], further=order[-2:])
    imitator.forget_previous()
    began = time.perf_counter()
    again = imitator.imitate(target, query=query, again=outcome, budget=budget, top=10, seed=3)
    return again, time.perf_counter() - began


def retrieval_rank(shapes: ShapeTable, target, row: int) -> int:
    """How many index shapes are nearer the imitation than the imitated sound's own."""
    distances = shapes.distances(ShapeQuery.of(target.shape))
    return int(np.sum(distances < distances[row])) if row < len(distances) else -1


def median_row(name: str, rows: Scores, count_in_time: bool = True) -> str:
    shape, sc = np.median(rows.shape[name]), np.median(rows.sc[name])
    time_ms = (f"{1e3 * np.median(rows.seconds[name]):.0f} ms"
               if count_in_time and name in rows.seconds else "–")
    return f"| {name} | {shape:.3f} | {sc:.3f} | {time_ms} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", type=Path, help="imitation set folder")
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--limit", type=int, default=0, help="first N originals only")
    parser.add_argument("--feedback-budget", type=float, default=0.4,
                        help="seconds a search after feedback may take (the issue allows 0.5)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    manifest = json.loads((args.set / "manifest.json").read_text())
    sounds = manifest["sounds"][: args.limit or None]
    matcher = Matcher(load_checkpoint(DEFAULT_MODEL))
    names = tuple(matcher.names)
    index, warning = open_index(None, names)
    posterior, _ = open_posterior(None, names, index)
    shapes, shape_warning = load_shapes(index)
    if warning or shape_warning:
        raise SystemExit(warning or shape_warning)
    engine = MatchEngine(names, matcher=matcher, index=index, posterior=posterior, workers=2)
    imitator = Imitator(engine, shapes)
    rng = np.random.default_rng(args.seed)
    rows, found, gains, ranks = Scores(), [], [], []
    warm = analyse_imitation(np.sin(np.arange(SR) / 10).astype(np.float32), SR)
    imitator.imitate(warm, budget=0)  # compiled kernels and caches loaded once
    print(f"{len(sounds)} originals, index {len(index):,} sounds ({len(shapes):,} shapes), "
          f"budget {args.budget} s, 2 workers")
    for entry in sounds:
        original = load_original(args.set, entry)
        for path in entry["imitations"]:
            target = analyse_imitation(load_audio(args.set / path, sample_rate=SR,
                                                  duration=None).samples, SR)
            heard = (None if target.shape.pitch_hz is None
                     else float(hz_to_midi(target.shape.pitch_hz)))
            rows.add("random preset", score(names, original, rng.uniform(0.05, 0.95, len(names)),
                                            original.note))
            began = time.perf_counter()
            values, _ = matcher.infer(target.at_reference)
            model_s = time.perf_counter() - began
            rows.add("model one-shot", score(names, original, np.array(
                [values[n] for n in names]), original.note), model_s)
            spectral = engine.match(load_target(args.set / path), budget=args.budget)
            spectral_heard = (None if spectral.target.detected_hz is None
                              else float(hz_to_midi(spectral.target.detected_hz)))
            rows.add(f"spectral engine, {args.budget:g} s", score(
                names, original, spectral.best.params,
                original_note(original, spectral.best.note, spectral_heard)), spectral.seconds)
            imitator.forget_previous()  # no search below sees another's answers
            first = imitator.imitate(target, budget=0, top=10, seed=1)
            rows.add("imitation, first answer", score(
                names, original, first.best.params,
                original_note(original, first.best.note, heard)), first.first_seconds)
            again, again_s = feedback_round(imitator, target, first, names, original)
            rows.add("imitation, first answer after one round of feedback", score(
                names, original, again.best.params,
                original_note(original, again.best.note, heard)), again_s)
            fb = args.feedback_budget
            imitator.forget_previous()
            plain = imitator.imitate(target, again=first, budget=fb, top=10, seed=3)
            rows.add(f"imitation, first answer searched on {fb:g} s", score(
                names, original, plain.best.params,
                original_note(original, plain.best.note, heard)), plain.seconds)
            fed, fed_s = feedback_round(imitator, target, first, names, original, budget=fb)
            rows.add(f"imitation, one round of feedback and {fb:g} s", score(
                names, original, fed.best.params,
                original_note(original, fed.best.note, heard)), fed_s)
            imitator.forget_previous()
            full = imitator.imitate(target, budget=args.budget, top=10, seed=2)
            rows.add(f"imitation, {args.budget:g} s", score(
                names, original, full.best.params,
                original_note(original, full.best.note, heard)), full.seconds)
            if original.row is not None:
                own = f"index #{original.row}"
                found.append(any(c.label == own for c in full.candidates[:10]))
                ranks.append(retrieval_rank(shapes, target, original.row))
            before = rows.shape["imitation, first answer"][-1]
            gains.append(1 - rows.shape["imitation, first answer after one round of feedback"][-1]
                         / max(before, 1e-9))
            print(f"  {path}: random {rows.shape['random preset'][-1]:.3f}, spectral "
                  f"{rows.shape[f'spectral engine, {args.budget:g} s'][-1]:.3f}, imitation "
                  f"{before:.3f} -> feedback "
                  f"{rows.shape['imitation, first answer after one round of feedback'][-1]:.3f},"
                  f" {args.budget:g} s {rows.shape[f'imitation, {args.budget:g} s'][-1]:.3f}",
                  flush=True)
    engine.close()
    print("\n| method | shape distance (median) | SC (median) | time (median) |\n|---|---|---|---|")
    for name in rows.shape:
        print(median_row(name, rows))
    random_d = np.median(rows.shape["random preset"])
    spectral_d = np.median(rows.shape[f"spectral engine, {args.budget:g} s"])
    best_d = np.median(rows.shape[f"imitation, {args.budget:g} s"])
    first_d = np.median(rows.shape["imitation, first answer"])
    fed_d = np.median(rows.shape["imitation, first answer after one round of feedback"])
    print(f"\nimitation {args.budget:g} s / random: {best_d / random_d:.2f} (target <= 0.5); "
          f"/ spectral engine: {best_d / spectral_d:.2f} (target <= 0.7)")
    if found:
        print(f"original preset in the top 10: {np.mean(found):.0%} of {len(found)} imitations "
              "of index originals (target >= 50 %)")
        known = np.array([r for r in ranks if r >= 0])
        if known.size:
            print(f"rank of the original among the {len(shapes):,} index shapes: median "
                  f"{np.median(known):.0f}, top 10 {np.mean(known < 10):.0%}, top 100 "
                  f"{np.mean(known < 100):.0%} ({known.size} imitations)")
    print(f"feedback: median top-1 shape distance {first_d:.3f} -> {fed_d:.3f} "
          f"({1 - fed_d / first_d:.1%} better; median per imitation {np.median(gains):.0%}; "
          "target >= 15 %)")
    fb = args.feedback_budget
    plain_d = np.median(rows.shape[f"imitation, first answer searched on {fb:g} s"])
    fed_search_d = np.median(rows.shape[f"imitation, one round of feedback and {fb:g} s"])
    print(f"feedback with a {fb:g} s search: {first_d:.3f} -> {fed_search_d:.3f} "
          f"({1 - fed_search_d / first_d:.1%} better than the first answer); the same search "
          f"without feedback {plain_d:.3f} ({1 - fed_search_d / plain_d:.0%} better with it)")


if __name__ == "__main__":
    main()
