"""The ``flowsynth`` command line: datasets, training, matching, evaluation and rendering."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowsynth_gui.fileio import describe_os_error
from flowsynth_gui.paths import CHECKPOINTS_DIR

__all__ = ["main", "build_parser"]

DEFAULT_MODEL = CHECKPOINTS_DIR / "flowsynth_flow_dis_32.pt"
# The model kinds, listed here so that `--help` does not have to import torch.
KINDS = ("mlp", "cnn", "rescnn", "ae", "vae", "wae", "vae_flow", "flow_reg", "flow_dis")


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


def _cmd_train(args: argparse.Namespace) -> int:
    from flowsynth_gui.training.config import load_train_config
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


def _cmd_match(args: argparse.Namespace) -> int:
    from flowsynth_gui.fileio import atomic_write_text
    from flowsynth_gui.inference.match import Matcher
    from flowsynth_gui.models import load_checkpoint
    from flowsynth_gui.presets.h2p_writer import write_h2p
    from flowsynth_gui.presets.library import Preset

    result = Matcher(load_checkpoint(args.model)).match_file(args.audio)
    for note in result.notes:
        print(f"  {note}")
    suffix = args.out.suffix.lower()
    description = f"Matched by FlowSynth from {Path(args.audio).name}"
    if suffix == ".h2p":
        written = write_h2p(args.out, result.params, author="FlowSynth", description=description)
    elif suffix in (".json", ".fspreset"):
        latent = None if result.latent is None else [float(x) for x in result.latent]
        preset = Preset(name=args.out.stem, parameters=result.params, latent=latent,
                        author="FlowSynth", description=description)
        atomic_write_text(args.out, preset.to_json())
        written = args.out
    else:
        raise ValueError(f"--out {args.out}: use a .h2p (Diva) or .json/.fspreset file name")
    print(f"spectral convergence of the re-rendered match: {result.spectral_convergence:.3f} "
          f"(0 is identical); preset written to {written}")
    return 0


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
    import json

    from flowsynth_gui.features.audio_io import write_wav
    from flowsynth_gui.synth import render

    params = json.loads(Path(args.preset).read_text())["parameters"] if args.preset else {}
    audio = render(params, note=args.note, velocity=args.velocity, duration=args.duration)
    print(f"wrote {write_wav(args.out, audio, 22050)}")
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

    training = sub.add_parser("train", help="train a model on a dataset folder")
    training.add_argument("--model", required=True, choices=KINDS)
    training.add_argument("--params", type=int, choices=(16, 32, 64),
                          help="expected parameter set (checked against the dataset)")
    training.add_argument("--data", type=Path, required=True, help="dataset folder")
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

    matching = sub.add_parser("match", help="infer a preset from an audio file")
    matching.add_argument("audio", type=Path, help="WAV, FLAC or OGG file")
    matching.add_argument("--out", type=Path, required=True, help="preset.h2p or preset.json")
    matching.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                          help=f"checkpoint (default: the shipped {DEFAULT_MODEL.name})")
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

    render = sub.add_parser("render", help="render one note to a WAV file")
    render.add_argument("--preset", type=Path, help="a FlowSynth preset (.fspreset JSON)")
    render.add_argument("--note", type=int, default=60)
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
