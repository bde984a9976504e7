"""Turn datasets, sounds and presets into :class:`~flowsynth_gui.explorer.preset_map.MapPoint`.

- Dataset sounds are placed by their audio (the stored log-mels through ``encode``) and keep
  their true parameters and their tags (the dataset's labels and Character strings).
- Presets (the user's library, imported ``.h2p`` files) have no audio: they are placed by their
  parameters through ``f^-1`` (``latent_from_params``), which needs an invertible model.
  Parameters a preset leaves out take the synth's defaults, as when it is played.
- Sounds (audio arrays at the reference pitch) are placed by ``encode``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from flowsynth_gui.data.dataset import LoadedDataset
from flowsynth_gui.explorer.codec import LatentCodec
from flowsynth_gui.explorer.preset_map import MapPoint, labels_from_tags
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
                  source: str = "library") -> list[MapPoint]:
    """Points for presets without audio, placed through ``f^-1`` (NotInvertible otherwise)."""
    items = [Preset.from_h2p(p) if isinstance(p, H2pPreset) else p for p in presets]
    if not items:
        return []
    vectors = np.stack([model_vector(p.parameters, codec.names) for p in items])
    z = codec.to_latent(vectors)
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
