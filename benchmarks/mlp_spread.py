"""Committee force spread against the errors, on the benchmark split and on other labelled frames.

Prints, per set of frames, the spread per configuration (the largest member standard deviation
of a force component: what the active SSCHA engine compares with its threshold), the force and
energy RMSE, the ratio of error to spread, and how many configurations lie above ``--factor``
times the model's training median (``committee_spread_reference``; computed on the benchmark's
training frames when the model file predates it). For example, with frames drawn outside the data
set's distribution by ``mlp_more_frames.py --displacement-scale 2`` or ``--lattice 5.2``:

    .venv/bin/python benchmarks/mlp.py --threads 2 --save /tmp/model.pt
    .venv/bin/python benchmarks/mlp_spread.py --model /tmp/model.pt x2.xyz a52.xyz
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import torch
from mlp import DATA, split

from aiida_clathrate.mlp import load_potential, read_frames
from aiida_clathrate.mlp.uncertainty import (
    DEFAULT_SPREAD_THRESHOLD_FACTOR,
    REFERENCE_KEY,
    spread_reference,
    spread_threshold_ev_per_angstrom,
)


def spread_rows(model, frames) -> dict[str, np.ndarray]:
    """Per configuration: spread (eV/Å), force RMSE (eV/Å), RMS spread, energy error (meV/atom)."""
    rows = {"spread": [], "force_rmse": [], "rms_spread": [], "energy_error": []}
    for frame in frames:
        p = model.predict_frame(frame, member_forces=True)
        std = p.forces_std_ev_per_angstrom
        rows["spread"].append(std.max())
        rows["rms_spread"].append(np.sqrt(np.mean(std**2)))
        rows["force_rmse"].append(
            np.sqrt(np.mean((p.forces_ev_per_angstrom - frame.forces_ev_per_angstrom) ** 2))
        )
        rows["energy_error"].append(1e3 * (p.energy_ev - frame.energy_ev) / frame.n_atoms)
    return {key: np.array(values) for key, values in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("frames", type=pathlib.Path, nargs="*", help="more labelled extxyz files")
    parser.add_argument("--factor", type=float, default=DEFAULT_SPREAD_THRESHOLD_FACTOR)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = load_potential(args.model)
    data = read_frames(DATA)
    train_idx, test_idx = split(len(data), seed=0)
    sets = {"training": [data[i] for i in train_idx], "test": [data[i] for i in test_idx]}
    sets |= {path.stem: read_frames(path) for path in args.frames}
    reference = model.metadata.get("metrics", {}).get("committee_spread_reference")
    if reference is None:
        reference = spread_reference(model, sets["training"])
    threshold = spread_threshold_ev_per_angstrom(reference, args.factor)
    print(
        f"threshold {threshold:.4f} eV/A = {args.factor:g} x training median "
        f"{reference[REFERENCE_KEY]:.4f} eV/A ({reference['n_configurations']} configurations)"
    )
    print(
        "set | n | spread median / 90th pct / min / max (eV/A) | force RMSE (meV/A) | "
        "energy RMSE (meV/atom) | error / RMS spread | above threshold"
    )
    for name, frames in sets.items():
        r = spread_rows(model, frames)
        spread = r["spread"]
        ratio = np.sqrt(np.mean(r["force_rmse"] ** 2) / np.mean(r["rms_spread"] ** 2))
        above = int(np.sum(spread > threshold))
        print(
            f"{name} | {len(frames)} | {np.median(spread):.3f} / {np.percentile(spread, 90):.3f}"
            f" / {spread.min():.3f} / {spread.max():.3f} | "
            f"{1e3 * np.sqrt(np.mean(r['force_rmse'] ** 2)):.1f} | "
            f"{np.sqrt(np.mean(r['energy_error'] ** 2)):.2f} | {ratio:.2f} | "
            f"{above} ({100 * above / len(frames):.0f} %)"
        )


if __name__ == "__main__":
    main()
