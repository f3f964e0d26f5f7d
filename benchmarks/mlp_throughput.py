"""Throughput of the committee potential on an SSCHA-like population of 112-atom KRbB6C6 cells.

A population of the SSCHA displaces the atoms of one 2x2x2 supercell (112 atoms) around their
centroids; issue 27 asks for at least 15 such configurations per second on this machine, so
that 10,000 take about 11 minutes. This script predicts energy, forces, stress and the committee
spread for ``--configurations`` configurations (Gaussian displacements, seeded: ``--sigma-light``
Å per component for B and C, ``--sigma-heavy`` for the metals) and prints configurations per
second for each dtype and torch thread count, with and without the member forces (the active
engine's force spread), and with the neighbour lists searched anew for every configuration
(``cold``: what configurations of different cells cost). A second table compares one process
with two torch threads against two single-threaded worker processes
(``aiida-clathrate-mlp evaluate --workers``).

    .venv/bin/python benchmarks/mlp_throughput.py [--model model.pt] [--configurations 40]

Without ``--model`` the committee has the shipped architecture (``TrainingSettings()``: four
members with two descriptor families, message passing and the kernel member) and weights from a
two-epoch training on 20 frames of the shared data set: the cost of a prediction does not depend
on the weights. To compare with another version of the package, run the script with that
version first on ``PYTHONPATH`` (a ``git worktree`` of the older commit), in the same session.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

import numpy as np
import torch
from ase import Atoms

DATA = (
    pathlib.Path(__file__).resolve().parents[2]
    / "shared/datasets/krbb6c6-displaced/krbb6c6_dft.xyz"
)
LIGHT = {"B", "C"}


def shipped_architecture(path: pathlib.Path) -> pathlib.Path:
    """A committee with the default settings, trained for two epochs on 20 frames."""
    from aiida_clathrate.mlp import TrainingSettings, read_frames, train_committee

    torch.manual_seed(0)
    frames = read_frames(DATA)[:20]
    settings = TrainingSettings(max_epochs=2, finetune_epochs=0)
    train_committee(frames, settings).committee.save(path)
    return path


def population(count: int, sigma_light: float, sigma_heavy: float, seed: int):
    """Symbols, cell and ``count`` displaced position arrays of the 2x2x2 KRbB6C6 supercell."""
    from aiida_clathrate.mlp import read_frames

    frame = read_frames(DATA, index="0:1")[0]
    cell = Atoms(frame.symbols, frame.positions_angstrom, cell=frame.cell_angstrom, pbc=True)
    atoms = cell * (2, 2, 2)
    symbols = atoms.get_chemical_symbols()
    sigma = np.array([sigma_light if s in LIGHT else sigma_heavy for s in symbols])[:, None]
    rng = np.random.default_rng(seed)
    positions = [atoms.positions + sigma * rng.normal(size=(len(atoms), 3)) for _ in range(count)]
    return symbols, atoms.cell[:], positions


def rate(model, symbols, cell, positions, member_forces: bool, cold: bool) -> float:
    """Configurations per second (one warm-up prediction first)."""
    model.predict(symbols, positions[0], cell, member_forces=member_forces)
    start = time.perf_counter()
    for p in positions:
        if cold and hasattr(model, "neighbour_cache"):
            model.neighbour_cache = type(model.neighbour_cache)()
        model.predict(symbols, p, cell, member_forces=member_forces)
    return len(positions) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=pathlib.Path, default=None)
    parser.add_argument("--configurations", type=int, default=40)
    parser.add_argument("--sigma-light", type=float, default=0.06, help="Å, B and C")
    parser.add_argument("--sigma-heavy", type=float, default=0.03, help="Å, the metals")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--workers-configurations",
        type=int,
        default=200,
        help="configurations for the table of worker processes (0: no table)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or shipped_architecture(pathlib.Path(tmp) / "model.pt")
        print(f"model: {args.model or 'shipped architecture'}")
        single_process_table(path, args)
        if args.workers_configurations:
            workers_table(path, args)


def single_process_table(path: pathlib.Path, args) -> None:
    """Configurations per second of one process, by dtype and torch threads."""
    from aiida_clathrate.mlp import load_potential

    model = load_potential(path).eval()
    symbols, cell, positions = population(
        args.configurations, args.sigma_light, args.sigma_heavy, args.seed
    )
    print(f"{len(positions)} configurations of {len(symbols)} atoms")
    print("| dtype | threads | configurations/s | with member forces | lists searched each time |")
    print("|---|---|---|---|---|")
    for dtype in ("float64", "float32"):
        model.set_dtype(dtype)
        for threads in args.threads:
            torch.set_num_threads(threads)
            figures = [
                rate(model, symbols, cell, positions, member_forces=False, cold=False),
                rate(model, symbols, cell, positions, member_forces=True, cold=False),
                rate(model, symbols, cell, positions, member_forces=False, cold=True),
            ]
            print(f"| {dtype} | {threads} | " + " | ".join(f"{f:.2f}" for f in figures) + " |")


def workers_table(path: pathlib.Path, args) -> None:
    """Configurations per second of ``predict_frames_in_workers`` (start-up and model loading
    of the worker processes included) against one process with as many threads."""
    from aiida_clathrate.mlp import Frame
    from aiida_clathrate.mlp.evaluation import predict_frames_in_workers

    symbols, cell, positions = population(
        args.workers_configurations, args.sigma_light, args.sigma_heavy, args.seed + 1
    )
    frames = [Frame(symbols, p, cell, (True, True, True)) for p in positions]
    print(f"\n{len(frames)} configurations, worker start-up and model loading included")
    print("| dtype | processes x torch threads | configurations/s |")
    print("|---|---|---|")
    for dtype in ("float64", "float32"):
        for workers, threads in ((1, 2), (2, 1)):
            start = time.perf_counter()
            predict_frames_in_workers(path, frames, workers, threads, dtype)
            figure = len(frames) / (time.perf_counter() - start)
            print(f"| {dtype} | {workers} x {threads} | {figure:.2f} |")


if __name__ == "__main__":
    main()
