"""Benchmark of the clathrate MLP on the KRbB6C6 displaced-cell data set (fixed 80/20 split).

Prints validation errors, training wall time, inference throughput for the 14-atom cell and a
2x2x2 (112-atom) supercell, and the speed-up over the pw.x time per configuration stored in the
data set. Run by hand:

    .venv/bin/python benchmarks/mlp.py [--threads 1] [--seed 0] [--save model.pt]
        [--mace-python /work/mace-venv/bin/python] [--parameters '{"committee_size": 8}']

With ``--mace-python`` (a separate virtual environment with mace-torch, which pins e3nn), MACE is
trained on the same split for the same wall time as this potential (epochs set from a 2-epoch
calibration run, or for ``--mace-budget-s``) and evaluated the same way, for a side-by-side
column; the table also gives each energy RMSE within each cell volume and MACE's own validation
errors by epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import torch

from aiida_clathrate.mlp import TrainingResult, TrainingSettings, read_frames, train_committee
from aiida_clathrate.mlp.allocator import keep_freed_memory
from aiida_clathrate.mlp.stress import deviatoric
from aiida_clathrate.mlp.training import (
    EV_PER_ANGSTROM3_IN_GPA,
    error_metrics,
    featurise_committee,
)

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


def frame_errors(model, frames) -> dict:
    """One prediction per frame: the mean committee force spread (meV/Å, per component), the
    correlation over atoms of each atom's force spread with its force error (vector norms), 95 %
    bootstrap intervals of the energy (meV/atom) and force (meV/Å) RMSE over the frames, and the
    energy RMSE within each cell volume (:func:`within_volume_rmse`)."""
    spread, error, energy_mev, forces_sq = [], [], [], []
    for frame in frames:
        p = model.predict_frame(frame, member_forces=True)
        delta = p.forces_ev_per_angstrom - frame.forces_ev_per_angstrom
        spread.append(np.linalg.norm(p.forces_std_ev_per_angstrom, axis=1))
        error.append(np.linalg.norm(delta, axis=1))
        energy_mev.append((p.energy_ev - frame.energy_ev) / len(frame.symbols) * 1e3)
        forces_sq.append(np.sum((delta * 1e3) ** 2))
    spread, error = np.concatenate(spread), np.concatenate(error)
    components = np.array([3.0 * len(f.symbols) for f in frames])
    return {
        "force_spread_mev_per_angstrom": float(np.sqrt(np.mean(spread**2) / 3) * 1e3),
        "spread_error_correlation": float(np.corrcoef(spread, error)[0, 1]),
        "energy_rmse_interval_mev_per_atom": bootstrap_rmse(np.array(energy_mev) ** 2),
        "energy_rmse_within_volume_mev_per_atom": within_volume_rmse(
            np.array(energy_mev), [abs(np.linalg.det(f.cell_angstrom)) for f in frames]
        ),
        "forces_rmse_interval_mev_per_angstrom": bootstrap_rmse(np.array(forces_sq), components),
    }


def within_volume_rmse(errors: np.ndarray, volumes) -> float:
    """RMSE of per-frame errors after removing each cell volume's mean error (volumes that round
    to the same 0.001 Å³ form one group): what is left when a constant offset per lattice
    parameter, such as the jumps of low-cutoff labels between volumes, is not counted."""
    groups = np.unique(np.round(np.asarray(volumes, dtype=float), 3), return_inverse=True)[1]
    means = np.bincount(groups, weights=errors) / np.bincount(groups)
    return float(np.sqrt(np.mean((errors - means[groups]) ** 2)))


def bootstrap_rmse(
    squared: np.ndarray, counts: np.ndarray | None = None, n_draws: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """95 % interval of an RMSE over frames (``squared``: each frame's summed squared errors,
    ``counts`` the terms in each sum), from ``n_draws`` seeded resamples of the frames with
    replacement: how far the figure of this one test set could move with another one."""
    counts = np.ones_like(squared) if counts is None else counts
    draws = np.random.default_rng(seed).integers(0, len(squared), size=(n_draws, len(squared)))
    rmse = np.sqrt(squared[draws].sum(axis=1) / counts[draws].sum(axis=1))
    low, high = np.percentile(rmse, [2.5, 97.5])
    return float(low), float(high)


def assess(model, frames, jacobians: bool = True) -> tuple[dict, dict]:
    """Error metrics of the committee mean on labelled ``frames``, with :func:`frame_errors`
    (``jacobians=False`` for large cells: descriptors differentiated by autograd per frame)."""
    metrics = error_metrics(featurise_committee(frames, model, jacobians=jacobians), model)
    return metrics, frame_errors(model, frames)


def deviatoric_rmse_gpa(stress_ev_per_angstrom3: np.ndarray, frames) -> float:
    """RMSE (GPa, all nine components) of the traceless part of predicted stresses (eV/Å³)."""
    labels = np.array([f.stress_ev_per_angstrom3 for f in frames])
    errors = deviatoric(torch.from_numpy(stress_ev_per_angstrom3 - labels)).numpy()
    return float(np.sqrt(np.mean(errors**2)) * EV_PER_ANGSTROM3_IN_GPA)


@contextlib.contextmanager
def networks_only(model) -> Iterator[None]:
    """The committee's networks alone (kernel weight 0) inside the block; its weight after."""
    weight = model.kernel_weight
    model.kernel_weight = 0.0
    try:
        yield
    finally:
        model.kernel_weight = weight


def kernel_parts(model, frames) -> list[tuple[str, str, str]]:
    """Rows with the test errors of the committee's two parts: the networks alone (kernel weight
    0, same networks) and the kernel member alone."""
    weight = model.kernel_weight
    with networks_only(model):
        networks = error_metrics(featurise_committee(frames, model), model)
    found = [model.kernel.predict_frame(f) for f in frames]
    energy = np.array(
        [(e - f.energy_ev) / f.n_atoms for (e, _, _), f in zip(found, frames, strict=True)]
    )
    forces = np.concatenate(
        [(p - f.forces_ev_per_angstrom).ravel() for (_, p, _), f in zip(found, frames, strict=True)]
    )
    stress_rmse_gpa = deviatoric_rmse_gpa(np.array([s for _, _, s in found]), frames)
    return [
        (
            "networks alone (kernel weight 0): energy / force RMSE, traceless stress (GPa)",
            f"{networks['energy_rmse_mev_per_atom']:.3f} / "
            f"{networks['forces_rmse_mev_per_angstrom']:.1f}, "
            f"{networks['stress_deviatoric_rmse_gpa']:.2f}",
            "-",
        ),
        (
            f"kernel member alone (weight {weight:g} in the committee): energy / force RMSE, "
            "traceless stress (GPa)",
            f"{np.sqrt(np.mean(energy**2)) * 1e3:.3f} / {np.sqrt(np.mean(forces**2)) * 1e3:.1f}, "
            f"{stress_rmse_gpa:.2f}",
            "-",
        ),
    ]


def supercell(frame):
    from aiida_clathrate.mlp import frame_from_atoms, frame_to_atoms

    atoms = frame_to_atoms(frame)
    atoms.calc = None
    return frame_from_atoms(atoms.repeat((2, 2, 2)))


MACE_EVALUATE = r"""
import json, sys, time
import ase.io, numpy as np, torch
from mace.calculators import MACECalculator
torch.set_num_threads(int(sys.argv[3]))
calc = MACECalculator(model_paths=sys.argv[1], device="cpu", default_dtype="float64")
test = ase.io.read(sys.argv[2], ":")
de, df = [], []
for atoms in test:
    ref_e, ref_f = atoms.info["REF_energy"], atoms.arrays["REF_forces"]
    atoms.calc = calc
    de.append((atoms.get_potential_energy() - ref_e) / len(atoms) * 1e3)
    df.append((atoms.get_forces() - ref_f).ravel() * 1e3)
de, df = np.array(de), np.concatenate(df)

def rate(images, repeats):
    images[0].calc = calc; images[0].get_forces(); images[0].get_stress()
    start = time.perf_counter()
    for k in range(repeats):
        a = images[k % len(images)].copy(); a.calc = calc
        a.get_potential_energy(); a.get_forces(); a.get_stress()
    return repeats / (time.perf_counter() - start)

big = [a.repeat((2, 2, 2)) for a in test[:2]]
print(json.dumps({
    "energy_rmse_mev_per_atom": float(np.sqrt(np.mean(de**2))),
    "energy_mae_mev_per_atom": float(np.mean(np.abs(de))),
    "forces_rmse_mev_per_angstrom": float(np.sqrt(np.mean(df**2))),
    "forces_mae_mev_per_angstrom": float(np.mean(np.abs(df))),
    "energy_errors_mev_per_atom": de.tolist(),
    "volumes_angstrom3": [float(a.get_volume()) for a in test],
    "rate_14": rate(test, 40),
    "rate_112": rate(big, 6),
}))
"""


def _write_mace_xyz(path: pathlib.Path, frames) -> None:
    import ase.io
    from ase import Atoms

    images = []
    for f in frames:
        atoms = Atoms(
            list(f.symbols), positions=f.positions_angstrom, cell=f.cell_angstrom, pbc=f.pbc
        )
        atoms.info["REF_energy"] = f.energy_ev
        atoms.arrays["REF_forces"] = f.forces_ev_per_angstrom
        images.append(atoms)
    ase.io.write(path, images, format="extxyz")


def run_mace(mace_python: pathlib.Path, train, test, budget_s: float, threads: int) -> dict:
    """Train MACE (mace_run_train) on the same frames for about ``budget_s`` and evaluate it."""
    bin_dir = pathlib.Path(mace_python).parent
    work = pathlib.Path(tempfile.mkdtemp(prefix="mace_bench_"))
    _write_mace_xyz(work / "train.xyz", train)
    _write_mace_xyz(work / "test.xyz", test)
    env = {"OMP_NUM_THREADS": str(threads), "PATH": f"{bin_dir}:/usr/bin:/bin"}

    def train_run(name: str, epochs: int, stage_two: bool = False) -> float:
        command = [
            str(bin_dir / "mace_run_train"),
            "--name",
            name,
            "--train_file",
            "train.xyz",
            "--valid_fraction",
            "0.1",
            "--E0s",
            "average",
            "--model",
            "MACE",
            "--num_channels",
            "32",
            "--max_L",
            "1",
            "--r_max",
            "5.0",
            "--batch_size",
            "8",
            "--max_num_epochs",
            str(epochs),
            "--device",
            "cpu",
            "--default_dtype",
            "float64",
            "--seed",
            "0",
            "--energy_key",
            "REF_energy",
            "--forces_key",
            "REF_forces",
            "--eval_interval",
            "1",
        ]
        if stage_two:
            # MACE's recommended finish: exponential moving average of the weights and, for the
            # last 30 % of the epochs, a lower learning rate and energy weight 1000
            command += ["--ema", "--ema_decay", "0.99", "--swa"]
            command += ["--start_swa", str(max(1, int(0.7 * epochs)))]
        start = time.perf_counter()
        subprocess.run(command, cwd=work, env=env, check=True, capture_output=True)
        return time.perf_counter() - start

    calibration = train_run("calibration", 2)
    single = train_run("calibration1", 1)
    # on a loaded machine the difference can be noisy: never assume an epoch is cheaper than
    # a third of the one-epoch run
    per_epoch = max(calibration - single, single / 3.0)
    overhead = max(single - per_epoch, 0.0)
    epochs = max(2, int((budget_s - overhead) / per_epoch))
    wall = train_run("mace", epochs, stage_two=True)
    # the stage-two (EMA) model when MACE wrote one, else the stage-one model
    candidates = ["mace_stagetwo.model", "mace.model", "mace_compiled.model"]
    model = next(work / name for name in candidates if (work / name).exists())
    out = subprocess.run(
        [str(mace_python), "-c", MACE_EVALUATE, str(model), str(work / "test.xyz"), str(threads)],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update({"train_wall_s": wall, "epochs": epochs, "workdir": str(work)})
    result["validation_curve"] = mace_validation_curve(work / "logs" / "mace_run-0.log")
    result["energy_rmse_within_volume_mev_per_atom"] = within_volume_rmse(
        np.array(result.pop("energy_errors_mev_per_atom")), result.pop("volumes_angstrom3")
    )
    return result


#: MACE's per-epoch line on its own validation frames
MACE_EPOCH = re.compile(
    r"Epoch (\d+):.*RMSE_E_per_atom=\s*([\d.]+) meV, RMSE_F=\s*([\d.]+) meV / A"
)


def mace_validation_curve(log: pathlib.Path) -> list[tuple[int, float, float]]:
    """(epoch, energy RMSE in meV/atom, force RMSE in meV/Å) on MACE's own validation frames,
    from its training log (empty when the log is missing or has no such lines)."""
    if not log.is_file():
        return []
    found = (MACE_EPOCH.search(line) for line in log.read_text().splitlines())
    return [(int(m[1]), float(m[2]), float(m[3])) for m in found if m]


def curve_summary(curve: list[tuple[int, float, float]]) -> str:
    """The first and the last three epochs of a validation curve, ``epoch: E / F``."""
    shown = curve if len(curve) <= 4 else [curve[0], None, *curve[-3:]]
    return ", ".join("…" if c is None else f"{c[0]}: {c[1]:.1f} / {c[2]:.0f}" for c in shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the 80/20 split")
    parser.add_argument("--data", type=pathlib.Path, default=DATA)
    parser.add_argument(
        "--train-fraction",
        type=float,
        default=1.0,
        help="train on this leading fraction of the 80 %% split (learning curves); same test set",
    )
    parser.add_argument(
        "--extra-train",
        type=pathlib.Path,
        nargs="*",
        default=[],
        help="more labelled frames (extxyz, e.g. from mlp_more_frames.py) added to the training "
        "set; the test set stays the data set's 20 %%",
    )
    parser.add_argument(
        "--mace-budget-s",
        type=float,
        default=None,
        help="MACE training time (default: the measured training time of this potential)",
    )
    parser.add_argument("--save", type=pathlib.Path, default=None, help="save the model here")
    parser.add_argument(
        "--parameters",
        type=json.loads,
        default={},
        help="TrainingSettings fields as JSON instead of the defaults, e.g. '{\"committee_size\": 8}'",
    )
    parser.add_argument(
        "--model",
        type=pathlib.Path,
        default=None,
        help="evaluate this saved model instead of training (training time from its metadata)",
    )
    parser.add_argument(
        "--supercell-test",
        type=pathlib.Path,
        default=None,
        help="labelled 112-atom frames (mlp_more_frames.py --supercell 2): report this "
        "potential's errors on them too (the study validated on 2x2x2 supercells)",
    )
    parser.add_argument(
        "--mace-python",
        type=pathlib.Path,
        default=None,
        help="python of a venv with mace-torch: adds a MACE column",
    )
    parser.add_argument(
        "--default-allocator",
        action="store_true",
        help="keep glibc's malloc thresholds (the default before 2026-12-05; see "
        "aiida_clathrate.mlp.allocator)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.default_allocator:
        keep_freed_memory()

    import ase.io

    frames = read_frames(args.data)
    images = ase.io.read(args.data, ":")
    wall_s = np.array([a.info["wall_s"] for a in images])
    train_idx, test_idx = split(len(frames), args.seed)
    train_idx = train_idx[: max(1, int(round(args.train_fraction * len(train_idx))))]
    grids = {images[i].info.get("kpoints") for i in [*train_idx, *test_idx]}
    if len(grids) > 1:  # mlp_more_frames.py --relabel-split: only some frames relabelled
        parser.error(
            f"the chosen frames mix k-grids {sorted(map(str, grids))}; lower --train-fraction"
        )
    train = [frames[i] for i in train_idx]
    for path in args.extra_train:
        train += read_frames(path)
    test = [frames[i] for i in test_idx]
    settings = TrainingSettings.from_dict(args.parameters)
    print(f"{len(train)} training / {len(test)} validation frames; torch threads {args.threads}")
    print(f"settings: {settings.as_dict()}")

    if args.model:
        from aiida_clathrate.mlp import load_potential

        model = load_potential(args.model)
        metadata = model.metadata
        settings = TrainingSettings.from_dict(metadata["settings"])
        result = TrainingResult(model, metadata["metrics"], [])
        train_wall = metadata["metrics"]["training_time_s"]
    else:
        start = time.perf_counter()
        result = train_committee(train, settings)
        train_wall = time.perf_counter() - start
        model = result.committee
    if args.save:
        model.save(args.save)

    validation, on_test = assess(model, test)
    kernel_rows = kernel_parts(model, test) if model.kernel is not None else []
    supercell_rows = []
    if args.supercell_test:
        big_frames = read_frames(args.supercell_test)
        on_big, big_errors = assess(model, big_frames, jacobians=False)
        atoms = sorted({len(f.symbols) for f in big_frames})
        label = f"{len(big_frames)} supercell test frames ({'/'.join(map(str, atoms))} atoms)"
        supercell_rows = [
            (
                f"{label}: energy RMSE / MAE (meV/atom)",
                f"{on_big['energy_rmse_mev_per_atom']:.3f} / "
                f"{on_big['energy_mae_mev_per_atom']:.3f}",
                "-",
            ),
            (
                f"{label}: force RMSE / MAE (meV/Å)",
                f"{on_big['forces_rmse_mev_per_angstrom']:.1f} / "
                f"{on_big['forces_mae_mev_per_angstrom']:.1f}",
                "-",
            ),
            (
                f"{label}: committee force spread RMS (meV/Å); correlation per atom",
                f"{big_errors['force_spread_mev_per_angstrom']:.1f}; "
                f"{big_errors['spread_error_correlation']:.2f}",
                "-",
            ),
        ]
    rate_14 = throughput(model, test, repeats=40)
    big = [supercell(test[0]), supercell(test[1])]
    rate_112 = throughput(model, big, repeats=6)
    model.set_dtype("float32")
    rate_14_f32 = throughput(model, test, repeats=40)
    rate_112_f32 = throughput(model, big, repeats=6)
    pw_s = float(wall_s.mean())

    mace = None
    if args.mace_python:
        try:
            mace = run_mace(
                args.mace_python,
                train,
                test,
                budget_s=args.mace_budget_s or train_wall,
                threads=args.threads,
            )
        except (subprocess.CalledProcessError, OSError, StopIteration, ValueError) as exc:
            print(f"MACE comparison failed: {exc}")

    def m(key: str, fmt: str) -> str:
        return "not run" if mace is None else format(mace[key], fmt)

    rows = [
        (
            "validation energy RMSE (meV/atom)",
            f"{validation['energy_rmse_mev_per_atom']:.3f}",
            m("energy_rmse_mev_per_atom", ".3f"),
        ),
        (
            "95 % bootstrap interval of the energy RMSE over test frames (meV/atom)",
            "{:.3f}–{:.3f}".format(*on_test["energy_rmse_interval_mev_per_atom"]),
            "-",
        ),
        (
            "energy RMSE within each cell volume (its mean error removed; meV/atom)",
            f"{on_test['energy_rmse_within_volume_mev_per_atom']:.3f}",
            m("energy_rmse_within_volume_mev_per_atom", ".3f"),
        ),
        (
            "validation energy MAE (meV/atom)",
            f"{validation['energy_mae_mev_per_atom']:.3f}",
            m("energy_mae_mev_per_atom", ".3f"),
        ),
        (
            "validation force RMSE (meV/Å)",
            f"{validation['forces_rmse_mev_per_angstrom']:.1f}",
            m("forces_rmse_mev_per_angstrom", ".1f"),
        ),
        (
            "95 % bootstrap interval of the force RMSE over test frames (meV/Å)",
            "{:.1f}–{:.1f}".format(*on_test["forces_rmse_interval_mev_per_angstrom"]),
            "-",
        ),
        (
            "validation force MAE (meV/Å)",
            f"{validation['forces_mae_mev_per_angstrom']:.1f}",
            m("forces_mae_mev_per_angstrom", ".1f"),
        ),
        (
            "validation stress RMSE (GPa)",
            f"{validation.get('stress_rmse_gpa', float('nan')):.2f}",
            "not fitted",
        ),
        (
            "validation deviatoric stress RMSE (GPa; free of the labels' Pulay stress)",
            f"{validation.get('stress_deviatoric_rmse_gpa', float('nan')):.2f}",
            "not fitted",
        ),
        (
            "train energy / force RMSE",
            f"{result.metrics['train']['energy_rmse_mev_per_atom']:.3f} meV/atom / "
            f"{result.metrics['train']['forces_rmse_mev_per_angstrom']:.1f} meV/Å",
            "-",
        ),
        (
            "mean committee energy spread (meV/atom)",
            f"{validation['committee_energy_std_mev_per_atom']:.3f}",
            "-",
        ),
        (
            "committee force spread RMS (meV/Å); correlation with the error per atom",
            f"{on_test['force_spread_mev_per_angstrom']:.1f}; "
            f"{on_test['spread_error_correlation']:.2f}",
            "-",
        ),
        *kernel_rows,
        *supercell_rows,
        (
            "training wall time (s), incl. descriptors",
            f"{train_wall:.0f}",
            m("train_wall_s", ".0f"),
        ),
        ("epochs", str(result.metrics["epochs_per_member"]), m("epochs", "d")),
        ("throughput 14-atom cell, float64 (conf/s)", f"{rate_14:.1f}", m("rate_14", ".1f")),
        ("throughput 14-atom cell, float32 (conf/s)", f"{rate_14_f32:.1f}", "-"),
        ("throughput 112-atom 2x2x2, float64 (conf/s)", f"{rate_112:.2f}", m("rate_112", ".2f")),
        ("throughput 112-atom 2x2x2, float32 (conf/s)", f"{rate_112_f32:.2f}", "-"),
        ("pw.x time per 14-atom conf., data set mean (s)", f"{pw_s:.1f}", f"{pw_s:.1f}"),
        (
            "speed-up over pw.x, 14-atom cell (float64)",
            f"{pw_s * rate_14:.0f}x",
            "not run" if mace is None else f"{pw_s * mace['rate_14']:.0f}x",
        ),
        (
            "MACE's own validation frames by epoch: energy (meV/atom) / force (meV/Å) RMSE",
            "-",
            "not run" if mace is None else curve_summary(mace["validation_curve"]) or "no log",
        ),
    ]
    print()
    budget = "same time" if args.mace_budget_s is None else f"{args.mace_budget_s:.0f} s"
    mace_head = f"MACE (32 ch., L=1, r 5 Å, stage two + EMA; same split, {budget})"
    print(f"| quantity | this MLP (committee of {settings.committee_size}) | {mace_head} |")
    print("|---|---|---|")
    for name, value, other in rows:
        print(f"| {name} | {value} | {other} |")


if __name__ == "__main__":
    main()
