"""Compare descriptor settings in seconds with the committee's kernel member alone.

For each descriptor variant (``TrainingSettings`` descriptor fields over the shipped defaults), fit
the kernel member (:mod:`aiida_clathrate.mlp.kernel`, a per-element polynomial-kernel ridge model
``E_atom = w_s·x + Σ_m α_m (x·z_m / D)²`` on energies per atom and forces) to the benchmark's
training split and print its test errors. No network, no training loop: a descriptor that lets
this model fit better is a candidate for the kernel member or the networks, whose training takes
ten minutes per trial. With ``--model`` (a committee saved by ``benchmarks/mlp.py --save`` on the
same split; its networks alone are used) also the errors of weighted means of the two.

    .venv/bin/python benchmarks/mlp_kernel_probe.py --threads 2 [--seed S] \
        --variant '{}' --variant '{"angular_radial_order": 2, "angular_cutoff_angstrom": 3.5}'
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from mlp import DATA, deviatoric_rmse_gpa, split

from aiida_clathrate.mlp import load_potential, read_frames
from aiida_clathrate.mlp.descriptors import DescriptorSpec
from aiida_clathrate.mlp.featurisation import featurise
from aiida_clathrate.mlp.kernel import KernelFitSettings, fit_kernel_member
from aiida_clathrate.mlp.training import (
    DESCRIPTOR_FIELDS,
    TrainingSettings,
    _element_order,
)


def probe(train_frames, test_frames, spec: DescriptorSpec, settings: KernelFitSettings) -> dict:
    """Fit the kernel member with descriptor ``spec`` and return its train and test errors."""
    start = time.perf_counter()
    kernel, summary = fit_kernel_member(featurise(train_frames, spec, jacobians=False), settings)
    out = {"descriptor_size": spec.size, "fit_s": time.perf_counter() - start}
    for name, frames in (("train", train_frames), ("test", test_frames)):
        found = [kernel.predict_frame(f) for f in frames]
        energy = np.array([e / f.n_atoms for (e, _, _), f in zip(found, frames, strict=True)])
        forces = np.array([f for _, f, _ in found])
        out[f"{name}_energy_ev_per_atom"], out[f"{name}_forces_ev_per_angstrom"] = energy, forces
        out[f"{name}_stress_ev_per_angstrom3"] = np.array([s for _, _, s in found])
        labels = np.array([f.energy_ev / f.n_atoms for f in frames])
        out[f"{name}_energy_rmse_mev_per_atom"] = _rmse_milli(energy - labels)
        out[f"{name}_forces_rmse_mev_per_angstrom"] = _rmse_milli(
            forces - np.array([f.forces_ev_per_angstrom for f in frames])
        )
        out[f"{name}_stress_deviatoric_rmse_gpa"] = deviatoric_rmse_gpa(
            out[f"{name}_stress_ev_per_angstrom3"], frames
        )
    return out


def _rmse_milli(errors: np.ndarray) -> float:
    """RMSE in milli-units (meV/atom, meV/Å) of errors in eV/atom or eV/Å."""
    return float(np.sqrt(np.mean(errors**2)) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--seed", type=int, default=0, help="seed of the 80/20 split")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--variant",
        action="append",
        type=json.loads,
        help="descriptor fields over the shipped defaults, JSON (repeatable; default '{}')",
    )
    shipped = KernelFitSettings()
    parser.add_argument(
        "--energy-sigma", type=float, default=shipped.energy_sigma_ev_per_atom, help="eV/atom"
    )
    parser.add_argument(
        "--force-sigma", type=float, default=shipped.forces_sigma_ev_per_angstrom, help="eV/Å"
    )
    parser.add_argument("--regularisation", type=float, default=shipped.regularisation)
    parser.add_argument(
        "--linear-regularisation",
        type=float,
        default=shipped.linear_regularisation,
        help="ridge on the linear weights, relative to the kernel prior",
    )
    parser.add_argument(
        "--deviatoric-stress-sigma",
        type=float,
        default=shipped.deviatoric_stress_sigma_ev_per_angstrom3,
        help="eV/Å³, sigma of the traceless stress rows (0: none)",
    )
    parser.add_argument(
        "--model",
        help="a committee saved by benchmarks/mlp.py --save on the same split: also print how "
        "its networks' test energy errors correlate with each kernel model's, and the errors of "
        "weighted means of the two",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    frames = read_frames(args.data)
    train_idx, test_idx = split(len(frames), args.seed)
    train, test = [frames[i] for i in train_idx], [frames[i] for i in test_idx]
    elements = tuple(sorted({s for f in frames for s in f.symbols}, key=_element_order))
    settings = TrainingSettings()
    base = {name: getattr(settings, name) for name in DESCRIPTOR_FIELDS}
    print(f"split seed {args.seed}: {len(train)} training / {len(test)} test frames")
    label_energy = np.array([f.energy_ev / f.n_atoms for f in test])
    label_forces = np.array([f.forces_ev_per_angstrom for f in test])
    committee = None
    if args.model:
        model = load_potential(args.model)
        model.kernel_weight = 0.0  # its networks alone
        predictions = [model.predict_frame(f) for f in test]
        committee = (
            np.array([p.energy_ev / f.n_atoms for p, f in zip(predictions, test, strict=True)]),
            np.array([p.forces_ev_per_angstrom for p in predictions]),
            np.array([p.stress_ev_per_angstrom3 for p in predictions]),
        )
        print(
            f"committee {args.model}: test energy / force RMSE "
            f"{_rmse_milli(committee[0] - label_energy):.3f} / "
            f"{_rmse_milli(committee[1] - label_forces):.1f}, traceless stress "
            f"{deviatoric_rmse_gpa(committee[2], test):.2f} GPa"
        )
    fit_settings = KernelFitSettings(
        energy_sigma_ev_per_atom=args.energy_sigma,
        forces_sigma_ev_per_angstrom=args.force_sigma,
        regularisation=args.regularisation,
        linear_regularisation=args.linear_regularisation,
        deviatoric_stress_sigma_ev_per_angstrom3=args.deviatoric_stress_sigma or None,
    )
    print(
        "| descriptor variant | D | test energy / force RMSE | test traceless stress (GPa) "
        "| train | fit (s) |"
    )
    print("|---|---|---|---|---|---|")
    for variant in args.variant or [{}]:
        try:  # the training code's check of a descriptor variant
            TrainingSettings(descriptor_variants=(variant,))
        except ValueError as exc:
            parser.error(f"--variant {json.dumps(variant)}: {exc}")
        spec = DescriptorSpec(elements=elements, **(base | variant))
        out = probe(train, test, spec, fit_settings)
        print(
            f"| `{json.dumps(variant)}` | {out['descriptor_size']} | "
            f"{out['test_energy_rmse_mev_per_atom']:.3f} / "
            f"{out['test_forces_rmse_mev_per_angstrom']:.1f} | "
            f"{out['test_stress_deviatoric_rmse_gpa']:.2f} | "
            f"{out['train_energy_rmse_mev_per_atom']:.3f} / "
            f"{out['train_forces_rmse_mev_per_angstrom']:.1f} | "
            f"{out['fit_s']:.0f} |",
            flush=True,
        )
        if committee is None:
            continue
        kernel = (
            out["test_energy_ev_per_atom"],
            out["test_forces_ev_per_angstrom"],
            out["test_stress_ev_per_angstrom3"],
        )
        correlation = np.corrcoef(kernel[0] - label_energy, committee[0] - label_energy)[0, 1]
        print(f"  correlation of its test energy errors with the committee's: {correlation:.2f}")
        for weight in (0.3, 0.4, 0.5, 0.6, 0.7):
            energy, forces, stress = (
                weight * k + (1 - weight) * c for k, c in zip(kernel, committee, strict=True)
            )
            print(
                f"  {weight:.1f} kernel + {1 - weight:.1f} committee: test energy / force RMSE "
                f"{_rmse_milli(energy - label_energy):.3f} / "
                f"{_rmse_milli(forces - label_forces):.1f}, traceless stress "
                f"{deviatoric_rmse_gpa(stress, test):.2f} GPa"
            )


if __name__ == "__main__":
    main()
