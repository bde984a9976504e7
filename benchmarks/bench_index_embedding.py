"""Which embedding should the sound index search by? Measured on the same sounds and targets.

The first ``--sounds`` presets of an index are rendered once (their linear mels kept); for each
embedding a PCA basis (64 axes, fitted on the first 4,000) embeds them, and every target's 16
nearest neighbours (8 per pitch hypothesis, as the engine asks) are re-ranked by rendering.
Printed: median SC in-domain (random presets, as ``bench_matching.py``) and out-of-domain.

Embeddings: PCA of log(mel + 1e-3) (the models' feature), of log(mel + 1e-2), of sqrt(mel), of
the linear mel (what SC compares), and the shipped model's latent z where ``--model-z``.

Run: .venv/bin/python benchmarks/bench_index_embedding.py --index DIR --ood DIR
     [--sounds 20000] [--targets 16] [--model-z]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_matching import SHIPPED, in_domain_targets, ood_targets

from flowsynth_gui.features.mel import log_mel, mel_magnitude, mel_magnitude_batch
from flowsynth_gui.matching import load_index
from flowsynth_gui.matching.scoring import Scorer
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE as SR
from flowsynth_gui.synth.render import render_batch

COMPRESSIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "PCA of log(mel + 1e-3)": lambda m: np.log(m + 1e-3),
    "PCA of log(mel + 1e-2)": lambda m: np.log(m + 1e-2),
    "PCA of sqrt(mel)": np.sqrt,
    "PCA of the linear mel (shipped)": lambda m: m,
}


def pca(features: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    flat = features.reshape(len(features), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    centred = flat - mean
    values, vectors = np.linalg.eigh(centred @ centred.T)
    order = np.argsort(values)[::-1][:components]
    return mean, (vectors[:, order].T @ centred) / np.sqrt(values[order])[:, None]


def best_of_neighbours(scorer: Scorer, params: np.ndarray, embedding: np.ndarray,
                       embed_query: Callable[[np.ndarray], np.ndarray], target, k: int) -> float:
    hypotheses = [(target.note, target.at_reference)]
    if target.note != 60:
        hypotheses.append((60, target.audio))
    best = np.inf
    for note, heard in hypotheses:
        distance = np.linalg.norm(embedding - embed_query(heard), axis=1)
        rows = np.argsort(distance)[: k // len(hypotheses)]
        best = min(best, float(scorer.scores(params[rows], note, target.mel).min()))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--ood", type=Path, required=True)
    parser.add_argument("--sounds", type=int, default=20000)
    parser.add_argument("--targets", type=int, default=16)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--model-z", action="store_true")
    args = parser.parse_args()

    index = load_index(args.index)
    n = min(args.sounds, len(index))
    params = index.params(np.arange(n))
    began = time.perf_counter()
    mels = np.empty((n, *index.mean.reshape(128, -1).shape), np.float16)
    for s in range(0, n, 256):
        chunk = params[s:s + 256]
        mels[s:s + len(chunk)] = mel_magnitude_batch(
            render_batch(chunk, index.names, seeds=[0] * len(chunk), workers=2), SR)
    print(f"{n:,} index sounds rendered in {time.perf_counter() - began:.0f} s")
    corpora = {"in-domain": in_domain_targets(index.names, args.targets, args.seed),
               "out-of-domain": ood_targets(args.ood)}
    scorer = Scorer(index.names, 2)
    embeddings = {}
    for name, compress in COMPRESSIONS.items():
        mean, axes = pca(compress(mels[:4000].astype(np.float32)), 64)
        embedding = np.concatenate([(compress(mels[s:s + 2000].astype(np.float32))
                                     .reshape(-1, mean.size) - mean) @ axes.T
                                    for s in range(0, n, 2000)])

        def query(audio: np.ndarray, mean=mean, axes=axes, compress=compress) -> np.ndarray:
            return (compress(mel_magnitude(audio, SR)).ravel() - mean) @ axes.T

        embeddings[name] = (embedding, query)
    if args.model_z:
        from flowsynth_gui.latent.codec import LatentCodec
        from flowsynth_gui.models import load_checkpoint

        codec = LatentCodec(load_checkpoint(SHIPPED))
        z = np.concatenate([codec.encode_log_mels(np.log(mels[s:s + 500].astype(np.float32)
                                                         + 1e-3))
                            for s in range(0, n, 500)])
        embeddings["the model's latent z"] = (
            z, lambda audio: codec.encode_log_mels(log_mel(audio, SR)[None])[0])
    print("| embedding | " + " | ".join(f"{c}: 16 neighbours re-ranked, median SC"
                                         for c in corpora) + " |")
    print("|---|" + "---|" * len(corpora))
    for name, (embedding, query) in embeddings.items():
        cells = [np.median([best_of_neighbours(scorer, params, embedding, query, t, 16)
                            for t in targets]) for targets in corpora.values()]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
