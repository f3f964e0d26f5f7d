"""Benchmark of the clathrate MLP on the KRbB6C6 displaced-cell data set (fixed 80/20 split).

Prints validation errors, training wall time, inference throughput for the 14-atom cell and a
2x2x2 (112-atom) supercell, and the speed-up over the pw.x time per configuration stored in the
data set. Run by hand:

    .venv/bin/python benchmarks/mlp.py [--threads 1] [--seed 0] [--save model.pt]
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
import torch

from aiida_clathrate.mlp import TrainingSettings, read_frames, train_committee
from aiida_clathrate.mlp.training import error_metrics, featurise

DATA = (
    pathlib.Path(__file__).resolve().parents[2]
    / "shared/datasets/krbb6c6-displaced/krbb6c6_dft.xyz"
)


def split(n: int, seed: int, train_fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(train_fraction * n))
    return order[:n_train], order[n_train:]


def throughput(model, frames, repeats: int) -> float:
    """Configurations per second for energy + forces + stress + committee energy spread."""
    model.predict_frame(frames[0])  # warm-up
    start = time.perf_counter()
    count = 0
    for k in range(repeats):
        model.predict_frame(frames[k % len(frames)])
        count += 1
    return count / (time.perf_counter() - start)


def supercell(frame):
    from aiida_clathrate.mlp import frame_from_atoms, frame_to_atoms

    atoms = frame_to_atoms(frame)
    atoms.calc = None
    return frame_from_atoms(atoms.repeat((2, 2, 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the 80/20 split")
    parser.add_argument("--data", type=pathlib.Path, default=DATA)
    parser.add_argument("--save", type=pathlib.Path, default=None, help="save the model here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import ase.io

    frames = read_frames(args.data)
    wall_s = np.array([a.info["wall_s"] for a in ase.io.read(args.data, ":")])
    train_idx, test_idx = split(len(frames), args.seed)
    train = [frames[i] for i in train_idx]
    test = [frames[i] for i in test_idx]
    settings = TrainingSettings()
    print(f"{len(train)} training / {len(test)} validation frames; torch threads {args.threads}")
    print(f"settings: {settings.as_dict()}")

    start = time.perf_counter()
    result = train_committee(train, settings)
    train_wall = time.perf_counter() - start
    model = result.committee
    if args.save:
        model.save(args.save)

    validation = error_metrics(featurise(test, model.descriptor, settings.dtype), model)
    rate_14 = throughput(model, test, repeats=40)
    big = [supercell(test[0]), supercell(test[1])]
    rate_112 = throughput(model, big, repeats=6)
    model.set_dtype("float32")
    rate_14_f32 = throughput(model, test, repeats=40)
    rate_112_f32 = throughput(model, big, repeats=6)
    pw_s = float(wall_s.mean())

    rows = [
        ("validation energy RMSE (meV/atom)", f"{validation['energy_rmse_mev_per_atom']:.3f}"),
        ("validation energy MAE (meV/atom)", f"{validation['energy_mae_mev_per_atom']:.3f}"),
        ("validation force RMSE (meV/Å)", f"{validation['forces_rmse_mev_per_angstrom']:.1f}"),
        ("validation force MAE (meV/Å)", f"{validation['forces_mae_mev_per_angstrom']:.1f}"),
        ("validation stress RMSE (GPa)", f"{validation.get('stress_rmse_gpa', float('nan')):.2f}"),
        (
            "train energy / force RMSE",
            f"{result.metrics['train']['energy_rmse_mev_per_atom']:.3f} meV/atom / "
            f"{result.metrics['train']['forces_rmse_mev_per_angstrom']:.1f} meV/Å",
        ),
        (
            "mean committee energy spread (meV/atom)",
            f"{validation['committee_energy_std_mev_per_atom']:.3f}",
        ),
        ("training wall time (s), incl. descriptors", f"{train_wall:.0f}"),
        ("epochs per member", str(result.metrics["epochs_per_member"])),
        ("throughput 14-atom cell, float64 (conf/s)", f"{rate_14:.1f}"),
        ("throughput 14-atom cell, float32 (conf/s)", f"{rate_14_f32:.1f}"),
        ("throughput 112-atom 2x2x2, float64 (conf/s)", f"{rate_112:.2f}"),
        ("throughput 112-atom 2x2x2, float32 (conf/s)", f"{rate_112_f32:.2f}"),
        ("pw.x time per 14-atom conf., data set mean (s)", f"{pw_s:.1f}"),
        ("speed-up over pw.x, 14-atom cell (float64)", f"{pw_s * rate_14:.0f}x"),
    ]
    print()
    print(f"| quantity | this MLP (committee of {settings.committee_size}) | MACE |")
    print("|---|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} | not run |")


if __name__ == "__main__":
    main()
