"""More DFT-labelled KRbB6C6 frames drawn like the shared data set, for learning-curve checks.

The recipe of ``shared/datasets/krbb6c6-displaced`` (its README): the 14-atom Pm-3 cell with
x_B = 0.2487 and x_C = 0.2515 at lattice parameters 4.80, 4.90 and 5.00 Å (cycled), every atom
displaced by an independent Gaussian (sigma 0.06 Å per component for B and C, 0.03 Å for K and
Rb), labelled by pw.x with the shipped PseudoDojo pseudopotentials, 30/120 Ry, a 2x2x2
Monkhorst-Pack grid, Marzari-Vanderbilt smearing 0.02 Ry, no symmetry, conv_thr 1e-9 Ry.
A new seed gives frames independent of the data set's. Run by hand (about 25 s per frame and
worker on this machine); the output is generated data: keep it out of git.

    .venv/bin/python benchmarks/mlp_more_frames.py --frames 86 --seed 1000 --workers 2 \
        --output /tmp/krbb6c6_more.xyz

``--supercell 2`` draws the displacements in the 2x2x2 (112-atom) supercell instead, every atom
independently, and labels it at the Gamma point only, which samples the same Brillouin-zone points
as the data set's 2x2x2 grid in the 14-atom cell (a 2x2x2 repeat of a data-set frame gives 8 times
its energy): supercell test frames like the study's, for ``benchmarks/mlp.py --supercell-test``.
Several minutes per frame with ``--pw-command "mpirun --allow-run-as-root -np 2 pw.x"``.

``--relabel-split N --kpoints 4`` instead relabels data-set frames with a denser k-grid (other
settings unchanged): the 20 % test frames of ``benchmarks/mlp.py``'s split and the first ``N`` of
its training frames. The output is the whole data set in its order, every frame tagged with its
grid (``kpoints``), so ``benchmarks/mlp.py --data OUT --train-fraction N/170`` trains and tests on
the relabelled frames only (it refuses a mix of grids):

    .venv/bin/python benchmarks/mlp_more_frames.py --relabel-split 40 --kpoints 4 --workers 2 \
        --output /tmp/krbb6c6_k4.xyz
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import ase.io
import numpy as np
from ase.calculators.espresso import Espresso, EspressoProfile

from aiida_clathrate.pseudo_family import shipped_pseudo_folder
from aiida_clathrate.structures import xyb6c6

LATTICE_ANGSTROM = (4.80, 4.90, 5.00)
#: internal coordinates x of B and C
INTERNAL = (0.2487, 0.2515)
SIGMA_ANGSTROM = {"B": 0.06, "C": 0.06, "K": 0.03, "Rb": 0.03}
PW_INPUT = {
    "control": {"tprnfor": True, "tstress": True},
    "system": {
        "ecutwfc": 30,
        "ecutrho": 120,
        "occupations": "smearing",
        "smearing": "mv",
        "degauss": 0.02,
        "nosym": True,
    },
    "electrons": {"conv_thr": 1e-9},
}


def displaced_cell(
    index: int,
    rng: np.random.Generator,
    repeat: int = 1,
    lattice_angstrom: tuple[float, ...] = LATTICE_ANGSTROM,
    displacement_scale: float = 1.0,
):
    """Frame ``index``: the lattice parameters cycled, every atom displaced by the data set's
    Gaussian widths times ``displacement_scale``."""
    a = lattice_angstrom[index % len(lattice_angstrom)]
    atoms = xyb6c6("K", "Rb", a, *INTERNAL).repeat(repeat)
    sigma = displacement_scale * np.array([SIGMA_ANGSTROM[s] for s in atoms.get_chemical_symbols()])
    atoms.positions += rng.normal(size=atoms.positions.shape) * sigma[:, None]
    return atoms


def _scaled_input(cells: int) -> dict:
    """PW_INPUT for ``cells`` copies of the 14-atom cell: the same SCF threshold per atom, and in
    a supercell gentler density mixing (29 SCF steps with the default mixing in the 2x2x2 cell)."""
    electrons = PW_INPUT["electrons"] | {"conv_thr": PW_INPUT["electrons"]["conv_thr"] * cells}
    if cells > 1:
        electrons |= {"mixing_mode": "local-TF", "mixing_beta": 0.4}
    return PW_INPUT | {"electrons": electrons}


def label(job: tuple):
    """pw.x labels of one frame; ``job``: index, atoms, work folder, command, supercell repeat,
    k-grid, and optionally a dict of SYSTEM overrides (e.g. ``{"nosym": False}``)."""
    index, atoms, workdir, command, repeat, kpoints, *rest = job
    pseudo_dir = shipped_pseudo_folder()
    pseudos = {s: f"{s}.upf" for s in set(atoms.get_chemical_symbols())}
    input_data = _scaled_input(repeat**3)
    if rest:
        input_data = input_data | {"system": input_data["system"] | rest[0]}
    atoms.calc = Espresso(
        profile=EspressoProfile(command=command, pseudo_dir=str(pseudo_dir)),
        directory=str(pathlib.Path(workdir) / f"frame_{index}"),
        pseudopotentials=pseudos,
        kpts=(kpoints,) * 3 if repeat == 1 else None,  # None: K_POINTS gamma
        input_data=input_data,
    )
    start = time.perf_counter()
    atoms.get_potential_energy()
    atoms.get_stress()
    atoms.info["wall_s"] = round(time.perf_counter() - start, 2)
    atoms.info["config"] = index
    if repeat == 1:
        atoms.info["kpoints"] = kpoints
    return atoms


def relabel_split(train_count: int, kpoints: int, workers: int, command: str) -> list:
    """The data set with its benchmark test frames and first ``train_count`` training frames
    relabelled on a ``kpoints``^3 grid, in data-set order; every frame tagged with its grid."""
    from mlp import DATA, split

    frames = ase.io.read(DATA, ":")
    train_idx, test_idx = split(len(frames), seed=0)
    chosen = sorted([*train_idx[:train_count], *test_idx])
    with tempfile.TemporaryDirectory(prefix="krbb6c6_pw_") as workdir:
        jobs = [(i, frames[i].copy(), workdir, command, 1, kpoints) for i in chosen]
        with ProcessPoolExecutor(workers) as pool:
            relabelled = dict(zip(chosen, pool.map(label, jobs), strict=True))
    for i, atoms in enumerate(frames):
        atoms.info.setdefault("kpoints", 2)  # the data set's grid (its README)
        if i in relabelled:
            relabelled[i].info["config"] = atoms.info["config"]
            frames[i] = relabelled[i]
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, help="new frames to draw and label")
    parser.add_argument(
        "--relabel-split",
        type=int,
        metavar="N",
        help="instead of new frames: relabel the benchmark's test frames and first N training "
        "frames with --kpoints",
    )
    parser.add_argument("--kpoints", type=int, default=2, help="k-grid of the 14-atom cell")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="pw.x processes at a time")
    parser.add_argument("--output", type=pathlib.Path, required=True)
    parser.add_argument(
        "--supercell",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: displace and label the 2x2x2 supercell at Gamma (default 1: the 14-atom cell)",
    )
    parser.add_argument("--pw-command", default="pw.x", help="e.g. 'mpirun -np 2 pw.x'")
    parser.add_argument(
        "--lattice",
        type=float,
        nargs="+",
        default=LATTICE_ANGSTROM,
        metavar="A",
        help="lattice parameters (Å) to cycle through (default: the data set's 4.8 4.9 5.0)",
    )
    parser.add_argument(
        "--displacement-scale",
        type=float,
        default=1.0,
        help="multiply the data set's displacement widths (frames outside its distribution)",
    )
    args = parser.parse_args()
    if (args.frames is None) == (args.relabel_split is None):
        parser.error("give exactly one of --frames and --relabel-split")
    if args.relabel_split is not None:
        frames = relabel_split(args.relabel_split, args.kpoints, args.workers, args.pw_command)
        ase.io.write(args.output, frames, format="extxyz")
        print(
            f"{len(frames)} frames -> {args.output}; {args.kpoints}x{args.kpoints}x"
            f"{args.kpoints} labels on {sum(f.info['kpoints'] == args.kpoints for f in frames)}"
        )
        return
    rng = np.random.default_rng(args.seed)
    cells = [
        displaced_cell(i, rng, args.supercell, tuple(args.lattice), args.displacement_scale)
        for i in range(args.frames)
    ]
    with tempfile.TemporaryDirectory(prefix="krbb6c6_pw_") as workdir:
        jobs = [
            (i, atoms, workdir, args.pw_command, args.supercell, args.kpoints)
            for i, atoms in enumerate(cells)
        ]
        with ProcessPoolExecutor(args.workers) as pool:
            labelled = list(pool.map(label, jobs))
    ase.io.write(args.output, labelled, format="extxyz")
    wall = [a.info["wall_s"] for a in labelled]
    print(f"{len(labelled)} frames -> {args.output}; pw.x {np.mean(wall):.1f} s per frame (mean)")


if __name__ == "__main__":
    main()
