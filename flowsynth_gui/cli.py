"""The ``flowsynth`` command line: datasets, training, matching, evaluation and rendering."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowsynth_gui.fileio import describe_os_error
from flowsynth_gui.paths import DEFAULT_MODEL

__all__ = ["main", "build_parser"]

# The model kinds, listed here so that `--help` does not have to import torch.
KINDS = ("mlp", "cnn", "rescnn", "ae", "vae", "wae", "vae_flow", "flow_reg", "flow_dis")
POSTERIOR_KIND = "param_posterior"  # a flow over parameters, trained on a sound index


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard wants i/N, e.g. 0/4, not {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= i < N")
    return index, count


def _cmd_dataset(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from flowsynth_gui.data.dataset import DatasetSpec, build_dataset

    spec = DatasetSpec(param_set=args.params, size=args.size, seed=args.seed,
                       shard_size=args.shard_size)
    rejected = {"silent": 0, "clipped": 0}
    mine = sum(spec.shard_length(s) for s in range(spec.n_shards)
               if s % args.shard[1] == args.shard[0])
    with tqdm(total=mine, unit="sound", desc=f"dataset {args.out}", smoothing=0.1) as bar:
        def progress(kept: int, rejections: dict[str, int]) -> None:
            for reason, n in rejections.items():
                rejected[reason] = rejected.get(reason, 0) + n
            bar.update(kept)
            bar.set_postfix(rejected_silent=rejected["silent"],
                            rejected_clipped=rejected["clipped"])

        complete = build_dataset(args.out, spec, args.shard, args.workers, progress)
    print(f"kept {mine} sounds; rejected {rejected['silent']} silent and "
          f"{rejected['clipped']} clipped renders")
    if complete:
        print(f"dataset complete: {args.out} (split and tags written to {args.out}/index)")
    else:
        print("this process's shards are done; the dataset is finalised once every shard exists")
    return 0


def _cmd_index_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from flowsynth_gui.matching.index import IndexSpec, build_index

    spec = IndexSpec(param_set=args.params, size=args.size, seed=args.seed,
                     shard_size=args.shard_size, components=args.components)
    print(f"index {args.out}: {spec.size} sounds in {spec.n_shards} shards; the embedding's "
          f"basis is fitted first on {spec.basis_sounds} renders")
    with tqdm(total=spec.size, unit="sound", desc=f"index {args.out}", smoothing=0.1) as bar:
        build_index(args.out, spec, args.workers, bar.update)
    print(f"index complete: {args.out}; match with `flowsynth match SOUND.wav --index "
          f"{args.out} --out preset.json`")
    return 0


def _cmd_index_shapes(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from flowsynth_gui.matching.index import SoundIndexError, load_index
    from flowsynth_gui.matching.shape_index import build_shapes

    try:
        rows = min(args.rows, len(load_index(args.index)))
        with tqdm(total=rows, unit="sound", desc=f"shapes {args.index}", smoothing=0.1) as bar:
            build_shapes(args.index, rows, args.workers, bar.update)
    except SoundIndexError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"shapes complete: the first {rows} sounds of {args.index}; imitate with "
          f"`flowsynth match VOICE.wav --imitation --index {args.index} --out preset.json`")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from flowsynth_gui.training.config import load_train_config

    if args.model == POSTERIOR_KIND:
        return _train_posterior(args, load_train_config(args.config))
    from flowsynth_gui.training.trainer import TrainRequest, train

    setup = load_train_config(args.config, epochs=args.epochs, seed=args.seed,
                              batch_size=args.batch_size, threads=args.threads,
                              max_train_sounds=args.max_train_sounds,
                              time_budget_minutes=args.time_budget)
    request = TrainRequest(kind=args.model, data_dir=args.data, out=args.out, setup=setup,
                           resume=not args.restart, device=args.device)
    result = train(request)
    if int(os.environ.get("RANK", "0")) == 0:
        best = ", ".join(f"{k} {v:.4g}" for k, v in result.best_valid.items())
        print(f"trained {args.model} for {result.epochs_run} epochs in {result.seconds:.0f} s"
              f"{' (stopped early)' if result.stopped_early else ''}"
              f"{' (time budget reached)' if result.stopped_by_budget else ''}; best epoch "
              f"{result.best_epoch}: {best}")
        print(f"checkpoint: {result.checkpoint} (+ {result.checkpoint.with_suffix('.json')})")
    return 0


def _train_posterior(args: argparse.Namespace, setup: Any) -> int:
    from flowsynth_gui.training.posterior_trainer import (
        PosteriorRequest,
        PosteriorSettings,
        train_posterior,
    )

    settings = PosteriorSettings.from_table(
        setup.posterior, epochs=args.epochs, seed=args.seed, batch_size=args.batch_size,
        threads=args.threads, max_train_sounds=args.max_train_sounds,
        time_budget_minutes=args.time_budget)

    def report(epoch: int, record: dict[str, float]) -> None:
        print(f"epoch {epoch + 1}/{settings.epochs}: train NLL {record['train_nll']:.3f}, "
              f"valid NLL {record['valid_nll']:.3f} ({record['seconds']:.0f} s)", flush=True)

    result = train_posterior(PosteriorRequest(args.data, args.out, settings,
                                              resume=not args.restart, device=args.device),
                             report)
    print(f"trained the parameter posterior for {result.epochs_run} epochs in "
          f"{result.seconds:.0f} s{' (time budget reached)' if result.stopped_by_budget else ''}"
          f"; best epoch {result.best_epoch + 1}: valid NLL {result.best_valid_nll:.3f}")
    print(f"checkpoint: {result.checkpoint} (+ {result.checkpoint.with_suffix('.json')})")
    return 0


def _cmd_align(args: argparse.Namespace) -> int:
    from flowsynth_gui.training.slider_alignment import AlignSettings, align_sliders

    given = {name: getattr(args, name) for name in ("rounds", "steps", "weight", "margin",
                                                    "path_weight", "threads", "seed")
             if getattr(args, name) is not None}
    result = align_sliders(args.checkpoint, args.data, args.out, AlignSettings(**given))
    before, after = result.figures["before"], result.figures["after"]
    print(f"slider hinge (valid) {sum(before['hinge']):.4f} -> {sum(after['hinge']):.4f}; "
          f"param MSE {before['param_mse']:.4f} -> {after['param_mse']:.4f} in "
          f"{result.figures['seconds']:.0f} s")
    print(f"checkpoint: {result.checkpoint} (+ {result.checkpoint.with_suffix('.json')}); "
          "measure the sliders on rendered audio with benchmarks/bench_explorer.py --checkpoint")
    return 0


_PRESET_SUFFIXES = {"json": (".json", ".fspreset"), "h2p": (".h2p",)}


def _match_outputs(inputs: list[Path], out: Path, kind: str | None) -> list[Path]:
    """Where each match goes, checked before any work: a folder for several inputs (or an
    existing folder), else the file named; a taken name becomes ``NAME 2`` (never replaced)."""
    from flowsynth_gui.fileio import first_free_path

    if len(inputs) > 1 or out.is_dir():
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out}: several inputs need a folder, and this is a file")
        suffix = _PRESET_SUFFIXES[kind or "json"][0]
        wanted = [out / f"{path.stem}{suffix}" for path in inputs]
    else:
        suffix = out.suffix.lower()
        allowed = _PRESET_SUFFIXES[kind] if kind else sum(_PRESET_SUFFIXES.values(), ())
        if suffix not in allowed:
            raise ValueError(f"--out {out}: use a file name ending in {' or '.join(allowed)}, "
                             "or an existing folder")
        wanted = [out]
    chosen: list[Path] = []
    for path in wanted:  # two inputs with one stem must not share a file either
        free = first_free_path(path)
        while free in chosen:
            free = first_free_path(free.with_name(f"{free.stem} 2{free.suffix}"))
        chosen.append(free)
    return chosen


def _cmd_match(args: argparse.Namespace) -> int:
    from flowsynth_gui.features.audio_io import AudioFileError
    from flowsynth_gui.inference.analysis import load_imitation, load_target
    from flowsynth_gui.inference.match import Matcher
    from flowsynth_gui.matching import MatchEngine, open_index, open_posterior
    from flowsynth_gui.matching.imitation import Imitator
    from flowsynth_gui.matching.shape_index import load_shapes
    from flowsynth_gui.models import load_checkpoint

    missing = [str(p) for p in args.audio if not p.is_file()]
    if missing:
        raise ValueError(f"no such file: {', '.join(missing)}")
    if args.budget < 0 or args.top < 1:
        raise ValueError("--budget must be >= 0 seconds and --top >= 1")
    outputs = _match_outputs(list(args.audio), args.out, args.format)
    matcher = Matcher(load_checkpoint(args.model))
    index, warning = open_index(args.index, matcher.names)
    if warning:
        print(f"note: {warning}")
    posterior, warning = open_posterior(args.posterior, matcher.names, index)
    if warning and (args.posterior is not None or index is not None) and not args.imitation:
        print(f"note: {warning}")
    engine = MatchEngine(matcher.names, matcher=matcher, index=index, posterior=posterior)
    imitator = None
    if args.imitation:
        shapes, warning = load_shapes(index) if index is not None else (None, None)
        if warning:
            print(f"note: {warning}")
        imitator = Imitator(engine, shapes)
    failures = 0
    for path, out in zip(args.audio, outputs, strict=True):
        try:
            if imitator is not None:
                outcome = imitator.imitate(load_imitation(path), budget=args.budget,
                                           top=args.top)
                measure, key = "shape distance", "shape_distance"
            else:
                outcome = engine.match(load_target(path), budget=args.budget, top=args.top)
                measure, key = "SC", "spectral_convergence"
        except AudioFileError as err:
            print(f"{path}: cannot match: {err}", file=sys.stderr)
            failures += 1
            continue
        best = outcome.best
        written = _write_match(out, engine.names, best, key, (
            f"Matched by FlowSynth from {path.name} at MIDI note {best.note} "
            f"({measure} {best.distance:.3f}, {best.source_name})"))
        for note in outcome.target.notes:
            print(f"  {note}")
        print(f"{path.name}: note {best.note}, {measure} {best.distance:.3f} (0 is "
              f"identical) from the {best.source_name}, {outcome.renders} renders in "
              f"{outcome.seconds:.2f} s -> {written}")
        for rank, c in enumerate(outcome.candidates[1:], start=2):
            print(f"    #{rank}: {measure} {c.distance:.3f} ({c.source_name})")
    engine.close()
    return 1 if failures else 0


def _write_match(out: Path, names: tuple[str, ...], best: Any, key: str,
                 description: str) -> Path:
    """The best candidate as a preset file (.h2p, or JSON with its note and distance)."""
    import json

    from flowsynth_gui.fileio import atomic_write_text
    from flowsynth_gui.presets.h2p_writer import write_h2p
    from flowsynth_gui.presets.library import Preset

    values = dict(zip(names, best.params.tolist(), strict=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".h2p":
        return write_h2p(out, values, author="FlowSynth", description=description)
    latent = None if best.z is None else [float(x) for x in best.z]
    data = Preset(name=out.stem, parameters=values, latent=latent, author="FlowSynth",
                  description=description).to_dict()
    data.update({"note": best.note, key: best.distance, "source": best.source})
    atomic_write_text(out, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return out


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from flowsynth_gui.data.dataset import load_dataset
    from flowsynth_gui.evaluation.table import (
        EvaluationRow,
        evaluate_model,
        evaluate_out_of_domain,
        nearest_neighbour_reference,
        random_reference,
        training_summary,
        write_tables,
    )
    from flowsynth_gui.models import load_checkpoint

    checkpoints = [load_checkpoint(path) for path in args.checkpoints]
    ood_files = sorted(p for p in args.ood.rglob("*") if p.suffix.lower() in
                       (".wav", ".flac", ".ogg")) if args.ood else []
    rows = []
    for folder in args.data:
        dataset = load_dataset(folder)
        test = dataset.subset("test")[: args.max_test or None]
        size = len(dataset.spec.parameters)
        print(f"{folder}: {len(test)} test sounds, {size} parameters")
        for path, checkpoint in zip(args.checkpoints, checkpoints, strict=True):
            if tuple(checkpoint.metadata.param_names) != tuple(dataset.spec.parameters):
                continue
            name = _row_name(path, checkpoint, checkpoints)
            ood = evaluate_out_of_domain(checkpoint, ood_files) if ood_files else None
            rows.append(EvaluationRow(name, size, evaluate_model(checkpoint, dataset, test), ood,
                                      {"checkpoint": str(path)},
                                      training_summary(checkpoint.metadata.training)))
            print(f"  {name}: done")
        rows.append(EvaluationRow("nearest neighbour", size,
                                  nearest_neighbour_reference(dataset, test)))
        rows.append(EvaluationRow("random preset", size, random_reference(dataset, test)))
    markdown, table_csv = args.out.with_suffix(".md"), args.out.with_suffix(".csv")
    write_tables(rows, markdown, table_csv)
    print(markdown.read_text())
    print(f"written: {markdown} and {table_csv}")
    return 0


def _row_name(path: Path, checkpoint: Any, everyone: list[Any]) -> str:
    """The model's kind; with its file name when another model of that kind and set is scored."""
    kind, names = checkpoint.model.config.kind, checkpoint.metadata.param_names
    twins = [c for c in everyone if c.model.config.kind == kind
             and c.metadata.param_names == names]
    return kind if len(twins) == 1 else f"{kind} ({Path(path).stem})"


def _cmd_render(args: argparse.Namespace) -> int:
    from flowsynth_gui.features.audio_io import write_wav
    from flowsynth_gui.presets.files import matched_note, read_preset_file
    from flowsynth_gui.synth import render
    from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, REFERENCE_NOTE

    params, note = {}, args.note
    if args.preset:
        params = read_preset_file(args.preset).parameters
        if note is None:
            note = matched_note(args.preset)
    note = REFERENCE_NOTE if note is None else note
    audio = render(params, note=note, velocity=args.velocity, duration=args.duration)
    print(f"wrote {write_wav(args.out, audio, DEFAULT_SAMPLE_RATE)} (MIDI note {note})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowsynth", description=(
        "FlowSynth: explore a synthesizer by ear. Render datasets of synth sounds; "
        "the desktop app is `flowsynth-gui` (or `python main.py`)."))
    sub = parser.add_subparsers(dest="command", required=True)

    dataset = sub.add_parser("dataset", help="render a dataset of (audio, parameters) pairs")
    dataset.add_argument("--params", type=int, choices=(16, 32, 64), default=32,
                         help="the paper's parameter set to vary (default 32)")
    dataset.add_argument("--size", type=int, default=20000, help="sounds to keep")
    dataset.add_argument("--out", type=Path, required=True, help="dataset folder")
    dataset.add_argument("--seed", type=int, default=0)
    dataset.add_argument("--shard", type=_shard, default=(0, 1), metavar="i/N",
                         help="render only every N-th shard starting at i (several processes "
                              "or machines building one dataset)")
    dataset.add_argument("--shard-size", type=int, default=500, help="sounds per shard")
    dataset.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    dataset.set_defaults(run=_cmd_dataset)

    index = sub.add_parser("index", help="the sound index that matching searches")
    index_sub = index.add_subparsers(dest="index_command", required=True)
    index_build = index_sub.add_parser("build", help=(
        "render presets once and store their sound embeddings (sharded, resumable)"))
    index_build.add_argument("--params", type=int, choices=(16, 32, 64), default=32,
                             help="the paper's parameter set (default 32, the shipped model's)")
    index_build.add_argument("--size", type=int, default=100000, help="sounds to index")
    index_build.add_argument("--out", type=Path, required=True, help="index folder")
    index_build.add_argument("--seed", type=int, default=0)
    index_build.add_argument("--shard-size", type=int, default=10000, help="sounds per shard")
    index_build.add_argument("--components", type=int, default=64,
                             help="embedding size (principal components of the log-mel)")
    index_build.add_argument("--workers", type=int, default=None,
                             help="processes (default: cores)")
    index_build.set_defaults(run=_cmd_index_build)
    index_shapes = index_sub.add_parser("shapes", help=(
        "describe the shapes (loudness, pitch, brightness contours) of an index's first sounds, "
        "which imitation matching searches (resumable)"))
    index_shapes.add_argument("index", type=Path, help="index folder")
    index_shapes.add_argument("--rows", type=int, default=40000,
                              help="how many of its sounds (default 40000)")
    index_shapes.add_argument("--workers", type=int, default=None,
                              help="processes (default: cores)")
    index_shapes.set_defaults(run=_cmd_index_shapes)

    training = sub.add_parser("train", help="train a model on a dataset folder")
    training.add_argument("--model", required=True, choices=(*KINDS, POSTERIOR_KIND),
                          help=f"model kind; {POSTERIOR_KIND} trains on a sound index "
                               "(--data INDEX_DIR)")
    training.add_argument("--params", type=int, choices=(16, 32, 64),
                          help="expected parameter set (checked against the dataset)")
    training.add_argument("--data", type=Path, required=True,
                          help="dataset folder (a sound index for param_posterior)")
    training.add_argument("--out", type=Path, required=True, help="checkpoint path (NAME.pt)")
    training.add_argument("--config", default="cpu",
                          help="training config: cpu (default), paper, tiny or a .toml path")
    training.add_argument("--epochs", type=int)
    training.add_argument("--batch-size", type=int)
    training.add_argument("--seed", type=int)
    training.add_argument("--threads", type=int, help="torch threads per process")
    training.add_argument("--max-train-sounds", type=int, help="use only this many sounds")
    training.add_argument("--time-budget", type=float, metavar="MINUTES",
                          help="stop before an epoch that would end past this many minutes")
    training.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    training.add_argument("--restart", action="store_true",
                          help="ignore a saved training state and start from scratch")
    training.set_defaults(run=_cmd_train)

    align = sub.add_parser("align-sliders", help=(
        "fine-tune a Flow_dis so that each semantic slider moves its tag's score"))
    align.add_argument("--checkpoint", type=Path, required=True, help="Flow_dis checkpoint")
    align.add_argument("--data", type=Path, required=True,
                       help="the dataset folder the model was trained on")
    align.add_argument("--out", type=Path, required=True, help="new checkpoint path (NAME.pt)")
    align.add_argument("--rounds", type=int, help="fine-tune and render rounds (default 4)")
    align.add_argument("--steps", type=int, help="fine-tuning steps per round (default 1000)")
    align.add_argument("--weight", type=float, help="weight of the slider term (default 500)")
    align.add_argument("--margin", type=float,
                       help="score rise per latent unit, in corpus stds (default 0.3)")
    align.add_argument("--path-weight", type=float, help=(
        "how firmly f keeps its values between training latents, where interpolations run "
        "(default 4; 0 lets the sliders change f anywhere)"))
    align.add_argument("--threads", type=int, help="torch threads")
    align.add_argument("--seed", type=int)
    align.set_defaults(run=_cmd_align)

    matching = sub.add_parser("match", help="find the presets that sound like audio files")
    matching.add_argument("audio", type=Path, nargs="+", help="WAV, FLAC or OGG files")
    matching.add_argument("--out", type=Path, required=True, help=(
        "preset.json / preset.fspreset / preset.h2p for one file; a folder for several "
        "(each match written as <input stem>.json, or .h2p with --format h2p)"))
    matching.add_argument("--format", choices=("json", "h2p"),
                          help="preset format in an output folder (default json)")
    matching.add_argument("--budget", type=float, default=2.0, metavar="SECONDS",
                          help="search time per file (default 2; 0: the first answer only)")
    matching.add_argument("--top", type=int, default=5, help="candidates listed per file")
    matching.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                          help=f"checkpoint (default: the shipped {DEFAULT_MODEL.name})")
    matching.add_argument("--index", type=Path, default=None,
                          help="sound index folder (default: the shipped one)")
    matching.add_argument("--posterior", type=Path, default=None,
                          help="parameter posterior checkpoint, trained on that index "
                               "(default: the shipped one)")
    matching.add_argument("--imitation", action="store_true", help=(
        "the inputs imitate a sound (a voice, a hum, a tapped rhythm): match the shape of its "
        "loudness, pitch and brightness, not its spectrum (needs `flowsynth index shapes`)"))
    matching.set_defaults(run=_cmd_match)

    evaluation = sub.add_parser("evaluate", help="Table 1: score models on test splits")
    evaluation.add_argument("--data", type=Path, nargs="+", required=True,
                            help="dataset folders (e.g. a 16- and a 32-parameter one)")
    evaluation.add_argument("--checkpoints", type=Path, nargs="*", default=[],
                            help="model checkpoints; each is scored on the dataset of its set")
    evaluation.add_argument("--ood", type=Path, help="folder of out-of-domain audio files")
    evaluation.add_argument("--max-test", type=int, default=0, help="score only N test sounds")
    evaluation.add_argument("--out", type=Path, required=True,
                            help="table path without suffix: writes .md and .csv")
    evaluation.set_defaults(run=_cmd_evaluate)

    render = sub.add_parser("render", help="render one note to a WAV file (22.05 kHz)")
    render.add_argument("--preset", type=Path, help=(
        "a Diva .h2p, a FlowSynth .fspreset or a `flowsynth match` .json (default: the "
        "synth's default patch)"))
    render.add_argument("--note", type=int, choices=range(128), metavar="0-127", help=(
        "MIDI note (default: the note a matched preset was matched at, else 60)"))
    render.add_argument("--velocity", type=int, default=100)
    render.add_argument("--duration", type=float, default=4.0)
    render.add_argument("--out", type=Path, required=True)
    render.set_defaults(run=_cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, OSError) as err:  # our errors say what to do: show them, no traceback
        reason = describe_os_error(err) if isinstance(err, OSError) else err
        print(f"flowsynth {args.command}: error: {reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
