"""``aiida-clathrate-mlp``: train and evaluate the potential without AiiDA.

aiida-clathrate-mlp train --train data.xyz [--valid valid.xyz] [--parameters params.json]
    [--model model.pt] [--metrics metrics.json] [--learning-curve learning_curve.json]
aiida-clathrate-mlp [--threads T] evaluate --model model.pt --input configs.xyz
    [--output labelled.xyz] [--spread spread.json] [--member-forces] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

from .allocator import keep_freed_memory


def _set_threads(threads: int | None) -> None:
    import torch

    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def _train(args: argparse.Namespace) -> int:
    from .frames import read_frames
    from .training import TrainingSettings, train_committee

    parameters = {}
    for path in args.parameters or []:
        parameters.update(json.loads(pathlib.Path(path).read_text()))
    settings = TrainingSettings.from_dict(parameters)
    frames = []
    for path in args.train:
        frames += read_frames(path)
    valid = []
    for path in args.valid or []:
        valid += read_frames(path)

    def log(message: str) -> None:
        print(message, flush=True)

    log(f"training a committee of {settings.committee_size} on {len(frames)} frames")
    result = train_committee(frames, settings, validation_frames=valid or None, log=log)
    result.committee.save(args.model)
    pathlib.Path(args.metrics).write_text(
        json.dumps({"metrics": result.metrics, "settings": settings.as_dict()}, indent=2)
    )
    pathlib.Path(args.learning_curve).write_text(json.dumps(result.learning_curve))
    for split in ("train", "validation"):
        m = result.metrics[split]
        log(
            f"{split}: energy RMSE {m['energy_rmse_mev_per_atom']:.3f} meV/atom, "
            f"forces RMSE {m['forces_rmse_mev_per_angstrom']:.1f} meV/Å"
            + (f", stress RMSE {m['stress_rmse_gpa']:.2f} GPa" if "stress_rmse_gpa" in m else "")
        )
    log(f"wrote {args.model}, {args.metrics}, {args.learning_curve}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluation import predict_frames_in_workers
    from .frames import Frame, read_frames, write_frames

    frames = read_frames(args.input)
    labelled, info, spread = [], [], []
    start = time.perf_counter()
    predictions = predict_frames_in_workers(
        args.model, frames, args.workers, args.threads, args.dtype, args.member_forces
    )
    for frame, p in zip(frames, predictions, strict=True):
        labelled.append(
            Frame(
                frame.symbols,
                frame.positions_angstrom,
                frame.cell_angstrom,
                frame.pbc,
                energy_ev=p.energy_ev,
                forces_ev_per_angstrom=p.forces_ev_per_angstrom,
                stress_ev_per_angstrom3=p.stress_ev_per_angstrom3,
            )
        )
        record = {
            "energy_ev": p.energy_ev,
            "committee_energy_std_ev": p.energy_std_ev,
            "committee_energy_std_mev_per_atom": 1e3 * p.energy_std_ev / frame.n_atoms,
            "committee_energies_ev": [float(e) for e in p.member_energies_ev],
            "kernel_energy_ev": p.kernel_energy_ev,
        }
        if p.forces_std_ev_per_angstrom is not None:
            record["committee_max_force_std_ev_per_angstrom"] = float(
                p.forces_std_ev_per_angstrom.max()
            )
        spread.append(record)
        info.append({"committee_energy_std_ev": p.energy_std_ev})
    elapsed = time.perf_counter() - start
    write_frames(args.output, labelled, extra_info=info)
    pathlib.Path(args.spread).write_text(
        json.dumps(
            {
                "n_configurations": len(frames),
                "elapsed_s": elapsed,
                "workers": args.workers,
                "configurations": spread,
            },
            indent=2,
        )
    )
    print(
        f"evaluated {len(frames)} configurations in {elapsed:.2f} s; wrote {args.output}, {args.spread}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiida-clathrate-mlp", description="Train and evaluate the clathrate MLP (no AiiDA)."
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a committee on labelled extxyz frames")
    train.add_argument("--train", nargs="+", required=True, help="labelled extxyz file(s)")
    train.add_argument("--valid", nargs="*", help="validation extxyz file(s) (else a split)")
    train.add_argument("--parameters", nargs="*", help="JSON file(s) of TrainingSettings fields")
    train.add_argument("--model", default="model.pt", help="output model file")
    train.add_argument("--metrics", default="metrics.json", help="output metrics JSON")
    train.add_argument("--learning-curve", default="learning_curve.json")
    train.set_defaults(handler=_train)
    evaluate = sub.add_parser("evaluate", help="label configurations with a trained model")
    evaluate.add_argument("--model", required=True, help="model file from `train`")
    evaluate.add_argument("--input", required=True, help="extxyz configurations")
    evaluate.add_argument("--output", default="labelled.xyz", help="labelled extxyz output")
    evaluate.add_argument("--spread", default="spread.json", help="committee spread JSON output")
    evaluate.add_argument("--member-forces", action="store_true", help="also force spread")
    evaluate.add_argument("--dtype", choices=["float32", "float64"], default=None)
    evaluate.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes, each with --threads torch threads and a contiguous block of the "
        "configurations (default 1)",
    )
    evaluate.set_defaults(handler=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _set_threads(args.threads)
        keep_freed_memory()  # a process that trains or evaluates, then ends
        return args.handler(args)
    except MemoryError as exc:  # the AiiDA parser maps this line to exit 110 (out of memory)
        print(f"aiida-clathrate-mlp: error: out of memory: {exc}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError) as exc:
        print(f"aiida-clathrate-mlp: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
