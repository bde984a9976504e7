"""Turn datasets, sounds and presets into :class:`~flowsynth_gui.explorer.preset_map.MapPoint`.

- Dataset sounds are placed by their audio (the stored log-mels through ``encode``) and keep
  their true parameters and their tags (the dataset's labels and Character strings).
- Presets (the user's library, imported ``.h2p`` files, the map's sketches) come without audio:
  the synth renders them (the model's parameters; the others at their defaults, as in the
  training data) and they are placed where the model hears that sound, by ``encode``. Not
  through ``f^-1``: for presets the CPU-trained regression does not reproduce (real Diva
  presets), ``f^-1`` lands at |z| of 50 to 170, far outside the prior (|z| ~ 6), where the map,
  the sliders (±3) and the knobs cannot reach them.
- Sounds (audio arrays at the reference pitch) are placed by ``encode``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from flowsynth_gui.data.dataset import LoadedDataset
from flowsynth_gui.explorer.preset_map import MapPoint, labels_from_tags
from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.presets.h2p import H2pPreset
from flowsynth_gui.presets.library import Preset
from flowsynth_gui.synth import params as param_specs

__all__ = ["dataset_points", "model_vector", "preset_points", "sound_points"]


def model_vector(params: Mapping[str, float], names: Sequence[str]) -> np.ndarray:
    """Values of ``names`` from a preset mapping, defaults for those it lacks (validated)."""
    full = param_specs.normalised_vector(params)  # checks every name and value
    return full[[param_specs.param_index(name) for name in names]]


def dataset_points(codec: LatentCodec, dataset: LoadedDataset, which: str | None = None,
                   limit: int | None = None) -> list[MapPoint]:
    """Points for a dataset's sounds (``which``: 'train', 'valid', 'test' or None for all)."""
    rows = dataset.subset(which) if which else np.arange(len(dataset.params))
    if limit is not None:
        rows = rows[:limit]
    z = codec.encode_log_mels(dataset.log_mel[rows])
    names = dataset.spec.parameters
    labels = (dataset.tag_labels[rows] if dataset.tag_labels is not None
              else np.zeros((len(rows), len(codec.metadata.tag_pairs)), np.int8))
    characters = dataset.characters or [""] * len(dataset.params)
    return [MapPoint(f"{which or 'sound'} {int(dataset.ids[row])}", "dataset", z[i],
                     dict(zip(names, dataset.params[row].astype(np.float64).tolist(),
                              strict=True)),
                     labels[i].astype(np.int8), characters[row])
            for i, row in enumerate(rows)]


def preset_points(codec: LatentCodec, presets: Iterable[Preset | H2pPreset],
                  source: str = "library", workers: int | None = None,
                  latents: np.ndarray | None = None) -> list[MapPoint]:
    """Points for presets without audio, placed by their rendered sound (see the module doc).
    Any model can place them; the point keeps the preset's exact parameters. ``latents``:
    where the model made the presets (``f(z)``, e.g. the map's sketches), to place them there."""
    items = [Preset.from_h2p(p) if isinstance(p, H2pPreset) else p for p in presets]
    if not items:
        return []
    vectors = np.stack([model_vector(p.parameters, codec.names) for p in items])
    if latents is not None:
        z = np.asarray(latents, dtype=np.float64)
        if z.shape != (len(items), codec.latent_dim):
            raise ValueError(f"latents must have shape ({len(items)}, {codec.latent_dim})")
    else:
        z = codec.encode_presets(vectors, workers)
    pairs = codec.metadata.tag_pairs
    return [MapPoint(p.name, source, z[i], dict(p.parameters), labels_from_tags(p.tags, pairs),
                     ", ".join(p.tags))
            for i, p in enumerate(items)]


def sound_points(codec: LatentCodec, sounds: Mapping[str, np.ndarray], sample_rate: int,
                 source: str = "sound") -> list[MapPoint]:
    """Points for named 4 s sounds at the reference pitch, placed by ``encode``."""
    if not sounds:
        return []
    names = list(sounds)
    z = codec.encode_audio(np.stack([np.asarray(sounds[n], np.float32) for n in names]),
                           sample_rate)
    return [MapPoint(name, source, z[i]) for i, name in enumerate(names)]
