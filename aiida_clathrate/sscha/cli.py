"""``aiida-clathrate-sscha``: one SSCHA population step without AiiDA.

aiida-clathrate-sscha minimize --dyn-dir DIR [--prefix dyn] --nqirr N --ensemble ensemble.npz
    --temperature K [--settings settings.json] [--next-configurations N --seed S]
    [--output-dir out] [--hessian [--v4] [--memory-limit-gib G] [--bootstrap N --bootstrap-seed S]]
aiida-clathrate-sscha generate --dyn-dir DIR [--prefix dyn] --nqirr N --temperature K
    --configurations N --seed S [--force-positive-definite] [--output population.npz]

``ensemble.npz`` holds ``positions_angstrom`` (N, n_atoms, 3), ``energies_ev`` (N,),
``forces_ev_per_angstrom`` (N, n_atoms, 3) and optionally ``stresses_ev_per_angstrom3``
(N, 3, 3, ASE sign), for the supercell of the matrix in ``--dyn-dir`` (the one that generated
the positions). ``minimize`` writes ``out/dyn/{prefix}0..`` (the new matrix), ``out/results.json``
and, with ``--next-configurations``, ``out/next_population.npz`` (``positions_angstrom``,
``reference_positions_angstrom``, ``cell_angstrom``, ``symbols``); with ``--hessian`` the
free-energy Hessian goes to ``out/hessian/`` and its frequencies into ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

RESULTS_FILE = "results.json"
NEXT_POPULATION_FILE = "next_population.npz"
DYN_SUBDIR = "dyn"
HESSIAN_SUBDIR = "hessian"


def write_population(path: pathlib.Path, phonons, positions_angstrom: np.ndarray) -> None:
    """Positions of a population and its supercell reference (cell, symbols) as ``.npz``."""
    from .dynamical_matrix import supercell_atoms

    atoms = supercell_atoms(phonons)
    np.savez(
        path,
        positions_angstrom=np.asarray(positions_angstrom, dtype=float),
        reference_positions_angstrom=atoms.get_positions(),
        cell_angstrom=np.asarray(atoms.cell[:]),
        symbols=np.array(atoms.get_chemical_symbols()),
    )


def _read_ensemble(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        arrays = {key: np.asarray(data[key]) for key in data.files}
    required = ("positions_angstrom", "energies_ev", "forces_ev_per_angstrom")
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ValueError(f"{path} lacks arrays {missing}")
    return arrays


def _structure_record(phonons) -> dict:
    atoms = phonons.structure.get_ase_atoms()
    return {
        "cell_angstrom": np.asarray(atoms.cell[:]).tolist(),
        "positions_angstrom": atoms.get_positions().tolist(),
        "symbols": atoms.get_chemical_symbols(),
    }


def _minimize(args: argparse.Namespace) -> int:
    from .dynamical_matrix import load_phonons, save_phonons
    from .minimize import MinimizerSettings, run_minimization
    from .population import (
        ensemble_from_positions,
        ensemble_positions_angstrom,
        fill_ensemble_results,
        generate_ensemble,
    )

    start = time.perf_counter()
    settings = MinimizerSettings.from_dict(
        json.loads(pathlib.Path(args.settings).read_text()) if args.settings else {}
    )
    if args.bootstrap and (not args.hessian or args.bootstrap < 2):
        raise ValueError("--bootstrap needs --hessian and at least 2 samples")
    if (args.next_configurations is None) != (args.seed is None):
        raise ValueError("--next-configurations and --seed go together")
    phonons = load_phonons(args.dyn_dir, args.prefix, args.nqirr)
    arrays = _read_ensemble(args.ensemble)
    ensemble = ensemble_from_positions(phonons, args.temperature, arrays["positions_angstrom"])
    fill_ensemble_results(
        ensemble,
        arrays["energies_ev"],
        arrays["forces_ev_per_angstrom"],
        arrays.get("stresses_ev_per_angstrom3"),
    )
    result = run_minimization(ensemble, settings)
    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    files = save_phonons(result.phonons, output / DYN_SUBDIR, args.prefix)
    record = result.summary()
    record.update(
        {
            "temperature_kelvin": args.temperature,
            "n_configurations": int(len(arrays["energies_ev"])),
            "lowest_frequency_cm1": float(np.min(result.frequencies_cm1)),
            "settings": settings.to_dict(),
            "structure": _structure_record(result.phonons),
            "dyn_prefix": args.prefix,
            "nqirr": int(result.phonons.nqirr),
            "qpoints_mesh": [int(n) for n in result.phonons.GetSupercell()],
            "dyn_files": files,
        }
    )
    if args.next_configurations is not None:
        next_ensemble = generate_ensemble(
            result.phonons, args.temperature, args.next_configurations, args.seed
        )
        write_population(
            output / NEXT_POPULATION_FILE,
            result.phonons,
            ensemble_positions_angstrom(next_ensemble),
        )
        record["next_population"] = {
            "n_configurations": args.next_configurations,
            "seed": args.seed,
        }
    record["wall_time_s"] = time.perf_counter() - start
    if args.hessian:
        from .hessian import free_energy_hessian

        limit = None if args.memory_limit_gib is None else int(args.memory_limit_gib * 2**30)
        hessian = free_energy_hessian(result.ensemble, include_v4=args.v4, memory_limit_bytes=limit)
        save_phonons(hessian.phonons, output / HESSIAN_SUBDIR, args.prefix)
        record["hessian"] = {
            "frequencies_cm1": [float(w) for w in hessian.frequencies_cm1],
            "lowest_frequency_cm1": float(min(hessian.frequencies_cm1)),
            "included_v4": hessian.included_v4,
            "warning": hessian.warning,
        }
        if hessian.warning:
            print(f"warning: {hessian.warning}")
        if args.bootstrap:
            from .hessian import bootstrap_hessian_frequencies

            samples = bootstrap_hessian_frequencies(
                phonons,
                args.temperature,
                arrays["positions_angstrom"],
                arrays["energies_ev"],
                arrays["forces_ev_per_angstrom"],
                args.bootstrap,
                args.bootstrap_seed,
                settings,
                include_v4=hessian.included_v4,
                stresses_ev_per_angstrom3=arrays.get("stresses_ev_per_angstrom3"),
            )
            record["hessian"]["bootstrap_frequencies_cm1"] = samples.tolist()
            record["hessian"]["bootstrap_samples"] = args.bootstrap
            record["hessian"]["bootstrap_seed"] = args.bootstrap_seed
            print(
                f"Hessian bootstrap: {args.bootstrap} resamples, lowest frequency "
                f"{samples.min(axis=1).mean():.1f} +- {samples.min(axis=1).std(ddof=1):.1f} cm-1"
            )
    (output / RESULTS_FILE).write_text(json.dumps(record, indent=1))
    (output / "minimizer.log").write_text(result.log)
    print(
        f"free energy {result.free_energy_ev:.6f} +- {result.free_energy_error_ev:.6f} eV, "
        f"Kong-Liu {result.kong_liu_ratio:.3f}, gradient/error {result.gradient_ratio_fc:.3g}, "
        f"converged {result.converged} ({result.stop_reason})"
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    from .dynamical_matrix import force_positive_definite, load_phonons
    from .population import ensemble_positions_angstrom, generate_ensemble

    phonons = load_phonons(args.dyn_dir, args.prefix, args.nqirr)
    if args.force_positive_definite:
        outcome = force_positive_definite(phonons)
        phonons = outcome.phonons
        print(outcome.message())
    ensemble = generate_ensemble(phonons, args.temperature, args.configurations, args.seed)
    write_population(pathlib.Path(args.output), phonons, ensemble_positions_angstrom(ensemble))
    print(f"wrote {args.configurations} configurations to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiida-clathrate-sscha", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--dyn-dir", required=True, help="folder with {prefix}1..{prefix}{nqirr}")
        sub.add_argument("--prefix", default="dyn")
        sub.add_argument("--nqirr", type=int, required=True)
        sub.add_argument("--temperature", type=float, required=True, help="kelvin")

    minimize = commands.add_parser("minimize", help="minimise on one population with results")
    common(minimize)
    minimize.add_argument("--ensemble", required=True, help="npz with positions and results")
    minimize.add_argument("--settings", help="JSON with MinimizerSettings fields")
    minimize.add_argument("--next-configurations", type=int, help="size of the next population")
    minimize.add_argument("--seed", type=int, help="seed of the next population")
    minimize.add_argument("--output-dir", default="out")
    minimize.add_argument(
        "--hessian", action="store_true", help="also the free-energy Hessian (out/hessian/)"
    )
    minimize.add_argument("--v4", action="store_true", help="include the fourth-order term")
    minimize.add_argument(
        "--memory-limit-gib", type=float, help="above this, v4 is dropped with a warning"
    )
    minimize.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        help="with --hessian: this many bootstrap resamples of the population, each minimised "
        "again, for the stochastic error of the Hessian frequencies",
    )
    minimize.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the resampling")
    minimize.set_defaults(handler=_minimize)

    generate = commands.add_parser("generate", help="draw a seeded population from a matrix")
    common(generate)
    generate.add_argument("--configurations", type=int, required=True)
    generate.add_argument("--seed", type=int, required=True)
    generate.add_argument("--force-positive-definite", action="store_true")
    generate.add_argument("--output", default="population.npz")
    generate.set_defaults(handler=_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except MemoryError as exc:  # the AiiDA parser maps this line to exit 110 (out of memory)
        print(f"aiida-clathrate-sscha: error: out of memory: {exc}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"aiida-clathrate-sscha: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
