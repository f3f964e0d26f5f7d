"""Pressure of the undisplaced KRbB6C6 cell against its lattice parameter: the MLP against pw.x.

The MLP's pressure is the volume derivative of its energy. The shared data set (displaced cells at
4.80, 4.90 and 5.00 Å) labels it only through energies at three volumes and through stresses that
carry the Pulay stress of its 30 Ry cutoff. This script labels the undisplaced cell (the data set's
internal coordinates) across and beyond that range with the data set's pw.x settings and takes the
DFT pressure as −dE/dV of those energies (the pressure of the energy surface the model is fitted
to): of a cubic polynomial fitted to E(V), and by central differences. It prints them beside the
stress labels' pressure, the committee's, its networks' and its kernel member's, the energies'
scatter about the cubic, and the models' RMS errors against the cubic's pressure. Run by hand:

    .venv/bin/python benchmarks/mlp.py --threads 2 --seed 0 --save /tmp/mlp_s0.pt
    .venv/bin/python benchmarks/mlp_pressure.py --model /tmp/mlp_s0.pt --workers 2 \
        --labels /tmp/krbb6c6_pv.xyz

``--labels`` keeps the pw.x results (generated data: keep it out of git) and reuses them when the
file exists; about 30 s of pw.x per lattice parameter and worker. ``--kpoints``, ``--ecutwfc`` (with
``ecutrho`` four times it) and ``--symmetry`` label with other settings than the data set's, to
see what the scatter of its E(V) comes from.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
from concurrent.futures import ProcessPoolExecutor

import ase.io
import numpy as np
import torch
from mlp import networks_only
from mlp_more_frames import INTERNAL, LATTICE_ANGSTROM, label

from aiida_clathrate.mlp import frame_from_atoms, load_potential
from aiida_clathrate.mlp.training import EV_PER_ANGSTROM3_IN_GPA
from aiida_clathrate.structures import xyb6c6

#: the range of the data set's lattice parameters
TRAINED_ANGSTROM = (min(LATTICE_ANGSTROM), max(LATTICE_ANGSTROM))


def dft_labels(
    lattice_angstrom: np.ndarray, workers: int, command: str, kpoints: int, system: dict
) -> list:
    """The undisplaced cell at every lattice parameter, labelled by pw.x (the data set's settings
    with a ``kpoints``^3 grid and the SYSTEM overrides ``system``)."""
    cells = [xyb6c6("K", "Rb", float(a), *INTERNAL) for a in lattice_angstrom]
    with tempfile.TemporaryDirectory(prefix="krbb6c6_pv_") as workdir:
        jobs = [(i, atoms, workdir, command, 1, kpoints, system) for i, atoms in enumerate(cells)]
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(label, jobs))


def pressure_gpa(stress_ev_per_angstrom3: np.ndarray) -> float:
    """Pressure (GPa, compression positive) of an ASE-convention stress tensor."""
    return float(-np.trace(stress_ev_per_angstrom3) / 3 * EV_PER_ANGSTROM3_IN_GPA)


def model_pressures(model, frame) -> tuple[float, float, float]:
    """Pressure (GPa) of the committee, of its networks alone and of its kernel member alone."""
    committee = pressure_gpa(model.predict_frame(frame).stress_ev_per_angstrom3)
    with networks_only(model):
        networks = pressure_gpa(model.predict_frame(frame).stress_ev_per_angstrom3)
    kernel = pressure_gpa(model.kernel.predict_frame(frame)[2]) if model.kernel else np.nan
    return committee, networks, kernel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a committee saved by benchmarks/mlp.py")
    parser.add_argument("--labels", help="extxyz file for the pw.x results (reused if present)")
    parser.add_argument("--first", type=float, default=4.70, help="first lattice parameter, Å")
    parser.add_argument("--last", type=float, default=5.10, help="last lattice parameter, Å")
    parser.add_argument("--step", type=float, default=0.025, help="Å")
    parser.add_argument("--workers", type=int, default=1, help="pw.x processes at a time")
    parser.add_argument("--pw-command", default="pw.x", help="e.g. 'mpirun -np 2 pw.x'")
    parser.add_argument("--kpoints", type=int, default=2, help="k-grid (data set: 2)")
    parser.add_argument("--ecutwfc", type=float, default=30.0, help="Ry (data set: 30)")
    parser.add_argument(
        "--symmetry", action="store_true", help="let pw.x use symmetry (data set: nosym)"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    lattice = np.round(np.arange(args.first, args.last + args.step / 2, args.step), 6)
    if args.labels and pathlib.Path(args.labels).exists():
        labelled = ase.io.read(args.labels, ":")
        lattice = np.round([np.cbrt(atoms.get_volume()) for atoms in labelled], 6)
        print(f"pw.x labels read from {args.labels}")
    else:
        system = {"ecutwfc": args.ecutwfc, "ecutrho": 4 * args.ecutwfc}
        if args.symmetry:
            system["nosym"] = False
        labelled = dft_labels(lattice, args.workers, args.pw_command, args.kpoints, system)
        if args.labels:
            ase.io.write(args.labels, labelled)
        wall = np.mean([atoms.info["wall_s"] for atoms in labelled])
        print(f"pw.x: {len(labelled)} cells, {wall:.1f} s per cell (mean)")
    volume = np.array([atoms.get_volume() for atoms in labelled])
    energy = np.array([atoms.get_potential_energy() for atoms in labelled])
    model = load_potential(args.model)
    print(f"model {args.model}; pressures in GPa, compression positive")
    cubic = np.polyfit(volume, energy, 3)
    residual = 1e3 * (energy - np.polyval(cubic, volume)) / len(labelled[0])
    print(
        f"DFT energies about a cubic in V: {np.sqrt(np.mean(residual**2)):.1f} meV/atom RMS, "
        f"at most {np.abs(residual).max():.1f}"
    )
    print(
        "| a (Å) | V (Å³) | DFT E − cubic (meV/atom) | DFT −dE/dV, cubic | DFT −dE/dV, central "
        "differences | DFT stress (Pulay) | committee | networks alone | kernel alone |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for i in range(1, len(labelled) - 1):  # central differences: interior points
        smooth = -np.polyval(np.polyder(cubic), volume[i]) * EV_PER_ANGSTROM3_IN_GPA
        central = -(energy[i + 1] - energy[i - 1]) / (volume[i + 1] - volume[i - 1])
        central *= EV_PER_ANGSTROM3_IN_GPA
        found = model_pressures(model, frame_from_atoms(labelled[i]))
        rows.append((lattice[i], smooth, *found))
        print(
            f"| {lattice[i]:.3f} | {volume[i]:.1f} | {residual[i]:.1f} | {smooth:.1f} | "
            f"{central:.1f} | {pressure_gpa(labelled[i].get_stress(voigt=False)):.1f} | "
            + " | ".join(f"{p:.1f}" for p in found)
            + " |"
        )
    table = np.array(rows)
    inside = (table[:, 0] >= TRAINED_ANGSTROM[0] - 1e-9) & (
        table[:, 0] <= TRAINED_ANGSTROM[1] + 1e-9
    )
    for name, column in (("committee", 2), ("networks alone", 3), ("kernel alone", 4)):
        errors = table[:, column] - table[:, 1]
        print(
            f"{name}: pressure RMSE against the cubic's "
            f"{np.sqrt(np.mean(errors[inside] ** 2)):.1f} GPa within the "
            f"data set's {TRAINED_ANGSTROM[0]:.2f}-{TRAINED_ANGSTROM[1]:.2f} Å, "
            f"{np.sqrt(np.mean(errors**2)):.1f} GPa over {table[0, 0]:.3f}-{table[-1, 0]:.3f} Å; "
            f"pressure rising with the lattice parameter (negative bulk modulus) in "
            f"{int(np.sum(np.diff(table[:, column]) > 0))} of {len(table) - 1} intervals"
        )


if __name__ == "__main__":
    main()
