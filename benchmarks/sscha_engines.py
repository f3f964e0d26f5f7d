"""SSCHA cost with DFT forces only (``dft``) against the study's active learning (``active``).

Both engines run ``SschaWorkChain`` on the same harmonic matrices with the same population sizes,
seeds and stop criteria (the ``fast`` protocol's by default); the script prints, per engine, the
populations run, whether they converged, the number of pw.x calculations, the wall time and the
lowest auxiliary (and, when converged, Hessian) frequencies, then the active/dft ratios and the
frequency differences. Run by hand in the project's profile (``make profile`` first):

    AIIDA_PATH=$PWD/.aiida .venv/bin/python benchmarks/sscha_engines.py [--harmonic PK]
        [--kpoints-mesh 1 1 1] [--sizes 20 40] [--max-populations 4] [--max-concurrent-dft 4]
        [--engines dft active]

Without ``--harmonic`` it first runs the harmonic workchain of KRbB6C6 on the fast protocol
(with ``--kpoints-mesh`` if given). pw.x runs with one process per calculation; both engines
see the same machine load, so compare the ratios, not the seconds across runs.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def harmonic_node(args):
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_clathrate.structures import clathrate
    from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain

    if args.harmonic is not None:
        return orm.load_node(args.harmonic), 0.0
    overrides = {"kpoints_mesh": args.kpoints_mesh} if args.kpoints_mesh else None
    builder = HarmonicPhononWorkChain.get_builder_from_protocol(
        {name: f"{name}@localhost" for name in ("pw", "ph", "q2r", "matdyn")},
        orm.StructureData(ase=clathrate(args.x, args.y)),
        "fast",
        overrides=overrides,
    )
    start = time.perf_counter()
    _, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f"HarmonicPhononWorkChain<{node.pk}> failed: {node.exit_status}")
    return node, time.perf_counter() - start


def run_engine(harmonic, engine: str, args) -> dict:
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_clathrate.summary import sscha_summary
    from aiida_clathrate.workflows.sscha_inputs import sscha_builder_on_harmonic

    builder = sscha_builder_on_harmonic(
        harmonic,
        "fast",
        engine,
        temperature_kelvin=args.temperature,
        overrides={"max_concurrent_dft": args.max_concurrent_dft},
        num_mpiprocs=1,
    )
    builder.population_sizes = orm.List(args.sizes)
    builder.max_populations = orm.Int(args.max_populations)
    builder.seed = orm.Int(args.seed)
    if engine == "active" and args.spread_threshold is not None:
        builder.spread_threshold_ev_per_angstrom = orm.Float(args.spread_threshold)
    if engine == "active" and args.max_validation_force_rmse is not None:
        builder.max_validation_force_rmse_mev_per_angstrom = orm.Float(
            args.max_validation_force_rmse
        )
    start = time.perf_counter()
    _, node = run_get_node(builder)
    wall_s = time.perf_counter() - start
    summary = sscha_summary(node)
    table = node.outputs.populations if "populations" in node.outputs else None
    return {
        "engine": engine,
        "pk": node.pk,
        "exit_status": node.exit_status,
        "wall_s": wall_s,
        "n_populations": summary["n_populations"],
        "n_dft_total": summary["n_dft_total"],
        "n_dft_per_population": None if table is None else table.get_array("n_dft").tolist(),
        "converged": summary["converged"],
        "free_energy_ev": summary["free_energy_ev"],
        "lowest_auxiliary_cm1": summary["lowest_auxiliary_cm1"],
        "lowest_hessian_cm1": summary["lowest_hessian_cm1"],
        "lowest_frequencies_cm1": (
            None if table is None else table.get_array("lowest_frequencies_cm1")[-1].tolist()
        ),
    }


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'engine':8} {'pops':>4} {'conv':>5} {'DFT':>5} {'wall s':>8} "
        f"{'F (eV/cell)':>14} {'lowest aux':>11} {'lowest Hess':>11}"
    )
    print(header)
    for row in rows:
        print(
            f"{row['engine']:8} {_fmt(row['n_populations'], 'd'):>4} "
            f"{str(row['converged']):>5} {_fmt(row['n_dft_total'], 'd'):>5} "
            f"{row['wall_s']:8.1f} {_fmt(row['free_energy_ev'], '.5f'):>14} "
            f"{_fmt(row['lowest_auxiliary_cm1'], '.1f'):>11} "
            f"{_fmt(row['lowest_hessian_cm1'], '.1f'):>11}"
        )
    by_engine = {row["engine"]: row for row in rows}
    if {"dft", "active"} <= set(by_engine):
        dft, active = by_engine["dft"], by_engine["active"]
        print(
            f"active/dft: DFT calculations {active['n_dft_total'] / dft['n_dft_total']:.2f}, "
            f"wall time {active['wall_s'] / dft['wall_s']:.2f}"
        )
        if dft["lowest_frequencies_cm1"] and active["lowest_frequencies_cm1"]:
            difference = np.subtract(
                active["lowest_frequencies_cm1"], dft["lowest_frequencies_cm1"]
            )
            print(
                "six lowest auxiliary frequencies of the last population, active - dft (cm^-1): "
                + " ".join(f"{d:+.1f}" for d in difference)
            )
        if dft["free_energy_ev"] is not None and active["free_energy_ev"] is not None:
            print(
                "free energy, active - dft: "
                f"{1000 * (active['free_energy_ev'] - dft['free_energy_ev']):+.2f} meV/cell"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("x", nargs="?", default="K")
    parser.add_argument("y", nargs="?", default="Rb")
    parser.add_argument("--harmonic", type=int, help="PK of a finished HarmonicPhononWorkChain")
    parser.add_argument("--kpoints-mesh", type=int, nargs=3, help="override the fast k-mesh")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--max-populations", type=int, default=4)
    parser.add_argument(
        "--max-concurrent-dft",
        type=int,
        default=4,
        help="pw.x runs at a time (the measurements in docs/sscha.md: 4; the fast protocol: 2)",
    )
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", nargs="+", default=["dft", "active"])
    parser.add_argument(
        "--spread-threshold",
        type=float,
        help="active engine: absolute committee force spread (eV/A) above which a configuration "
        "goes to DFT (default: the protocol's factor x the committee's 95th-percentile spread on "
        "its training configurations)",
    )
    parser.add_argument(
        "--max-validation-force-rmse",
        type=float,
        help="active engine: validation force RMSE (meV/A) above which the committee labels "
        "nothing (default: the workchain's 50)",
    )
    parser.add_argument("--profile", default=None, help="AiiDA profile (default: the default)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()

    from aiida import load_profile

    load_profile(args.profile)
    harmonic, harmonic_s = harmonic_node(args)
    print(
        f"HarmonicPhononWorkChain<{harmonic.pk}>"
        + (f" ran in {harmonic_s:.1f} s" if harmonic_s else " reused")
        + f"; lowest harmonic {harmonic.outputs.min_frequency_cm1.value:.1f} cm^-1"
    )
    rows = [run_engine(harmonic, engine, args) for engine in args.engines]
    print_table(rows)
    for row in rows:
        print(
            f"{row['engine']}: SschaWorkChain<{row['pk']}>, DFT per population "
            f"{row['n_dft_per_population']}"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
