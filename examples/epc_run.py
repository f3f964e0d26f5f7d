"""Run ElectronPhononWorkChain in this process and print lambda, omega_log, N(Ef), Tc and the wall time.

    AIIDA_PATH=$PWD/.aiida .venv/bin/python examples/epc_run.py --al-tiny        # fcc Al, ~1-2 min
    AIIDA_PATH=$PWD/.aiida .venv/bin/python examples/epc_run.py Sr --protocol fast  # SrB3C3, 14 atoms

Uses the current AiiDA profile (``aiida-clathrate setup`` makes the codes and pseudopotentials).
The structure is the unrelaxed prototype: for real numbers relax it first (HarmonicPhononWorkChain).
"""

from __future__ import annotations

import argparse
import time

from aiida import load_profile, orm
from aiida.engine import run_get_node

#: The tiny fcc Al settings of the tests (``TINY_EPC_OVERRIDES`` in tests/conftest.py), repeated
#: here so that the example runs without the test suite.
AL_TINY_OVERRIDES = {
    "kpoints_mesh": [4, 4, 4],
    "dense_kpoints_mesh": [8, 8, 8],
    "qpoints_mesh": [2, 2, 2],
    "dos_qpoints_mesh": [8, 8, 8],
    "ndos": 60,
    "degauss_ry": 0.05,
    "el_ph_sigma_ry": 0.01,
    "eliashberg_settings": {"gap_curve_points": 4},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metals", nargs="*", help="X [Y] of XB3C3 / XYB6C6")
    parser.add_argument("--al-tiny", action="store_true", help="fcc Al at the test's settings")
    parser.add_argument("--protocol", default="fast")
    parser.add_argument("--num-mpiprocs", type=int, default=1)
    args = parser.parse_args()
    load_profile()

    from aiida_clathrate.localhost import setup_localhost
    from aiida_clathrate.workflows.epc import ElectronPhononWorkChain

    setup_localhost()
    codes = {name: f"{name}@localhost" for name in ("pw", "ph", "q2r", "matdyn")}
    if args.al_tiny:
        from ase.build import bulk

        structure = orm.StructureData(ase=bulk("Al", "fcc", a=4.05))
        overrides = AL_TINY_OVERRIDES
    else:
        from aiida_clathrate.structures import clathrate

        if not 1 <= len(args.metals) <= 2:
            parser.error("give one or two metals, or --al-tiny")
        structure = orm.StructureData(ase=clathrate(*args.metals))
        overrides = None
    builder = ElectronPhononWorkChain.get_builder_from_protocol(
        codes, structure, args.protocol, overrides=overrides, num_mpiprocs=args.num_mpiprocs
    )
    start = time.perf_counter()
    _, node = run_get_node(builder)
    wall = time.perf_counter() - start
    print(f"ElectronPhononWorkChain<{node.pk}> {structure.get_formula()}: exit {node.exit_status}")
    print(f"wall time {wall:.0f} s")
    if not node.is_finished_ok:
        print(node.exit_message)
        return
    summary = node.outputs.epc_summary.get_dict()
    result = node.outputs.eliashberg.get_dict()
    for row in summary["broadenings"]:
        print(
            f"  broadening {row['broadening_ry']:.3f} Ry  lambda {row['lambda_qe']:.4f}  "
            f"omega_log {row['omega_log_kelvin_qe']:.1f} K  N(Ef) "
            f"{row['dos_ef_states_per_ev_spin']:.4f} /eV/spin"
        )
    print(
        f"chosen {summary['broadening_ry']:.3f} Ry (plateau found: {summary['plateau_found']}): "
        f"lambda {summary['lambda']:.4f} (QE) vs {summary['lambda_from_a2f']:.4f} (alpha^2F), "
        f"omega_log {summary['omega_log_kelvin']:.1f} K"
    )
    for mustar, tc in zip(result["mustar"], result["tc_eliashberg_kelvin"], strict=True):
        print(f"  mu* = {mustar:.2f}: Tc = {tc:.2f} K")


if __name__ == "__main__":
    main()
