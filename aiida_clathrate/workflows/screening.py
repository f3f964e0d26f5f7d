"""Screening of guest pairs by N(E_F): ``PairScreeningWorkChain`` (``clathrate.screening.pair``)
and ``ScreeningWorkChain`` (``clathrate.screening``).

One pair: relax the clathrate at the pressure (``PwRelaxWorkChain``, variable cell) -> electronic
DOS and projections with aiida-quantumespresso's ``PdosWorkChain`` (scf, nscf with optimised
tetrahedra on a dense k-mesh, dos.x, projwfc.x) -> ``fermi_level_summary``: N(E_F) per B6C6 (both
spins), the B–C framework's share of the projected DOS at E_F, the nearest DOS peaks, the average
guest valence (kernel: :mod:`aiida_clathrate.screening`) -> extras on the pair's node.

The screen: every unordered pair of the given metals, X = Y included, at most
``max_concurrent_pairs`` at a time; a failed pair is reported and the rest go on. Outputs: the
table of every pair and the ranking of the pairs above the reference pair (KPbB6C6 by default).
"""

from __future__ import annotations

import pathlib

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, append_, calcfunction, if_, while_
from aiida.plugins import WorkflowFactory
from aiida_quantumespresso.common.types import ElectronicType
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin
from aiida_quantumespresso.workflows.pw.relax import PwRelaxWorkChain

from ..pseudo_family import SHIPPED_FAMILY_LABEL, load_family, recommended_cutoffs_ry
from ..screening import (
    REFERENCE_PAIR,
    fermi_level_dos,
    pair_label,
    rank_above_reference,
    screening_row,
)
from ..structures import enumerate_pairs, formula
from ..validators import pressure_port, set_code_plugins
from .common import (
    calcjob_options,
    check_protocol_overrides,
    failure,
    kpoints_mesh,
    load_codes,
    mpiprocs_per_machine,
    share_cores,
)
from .pw_inputs import pw_overrides, pw_relax_inputs, relax_requested, submit_relax

PdosWorkChain = WorkflowFactory("quantumespresso.pdos")
FRAMEWORK = ("B", "C")
#: Fewest k-points per direction of the DOS mesh (a 1x1x1 mesh gave N(E_F) = 0 for KB3C3).
MIN_TETRAHEDRA_KPOINTS = 2


def projected_dos_by_element(projections: orm.ProjectionData) -> tuple:
    """projwfc.x's energies (eV) and its projected DOS (states/eV) summed over the orbitals of each
    element (kind names without their digits); ``(None, {})`` without projections."""
    energies, curves = None, {}
    for orbital, pdos, energy in projections.get_pdos():
        element = orbital.get_orbital_dict().get("kind_name", "").rstrip("0123456789")
        energies = energy
        curves[element] = curves.get(element, 0.0) + pdos
    return energies, curves


def _projected_dos(projections: orm.ProjectionData) -> tuple:
    """Energies, the framework (B, C) and the total projected DOS summed over orbitals."""
    energies, curves = projected_dos_by_element(projections)
    if energies is None:
        return None, None, None
    framework = sum((curves[e] for e in FRAMEWORK if e in curves), 0.0 * energies)
    return energies, framework, sum(curves.values())


@calcfunction
def fermi_level_summary(
    structure: orm.StructureData,
    metals: orm.List,
    nscf_parameters: orm.Dict,
    dos: orm.XyData,
    projections: orm.ProjectionData,
) -> orm.Dict:
    """N(E_F) per B6C6 from dos.x, the framework share from projwfc.x, the peaks, the valence."""
    import numpy as np

    _, energies, _ = dos.get_x()
    curves = {name: values for name, values, _ in dos.get_y()}
    total_dos = curves.get("dos")
    if total_dos is None:  # spin-polarised: both spins
        total_dos = curves["dos_spin_up"] + curves["dos_spin_down"]
    fermi = float(nscf_parameters["fermi_energy"])
    pdos_energies, framework, projected = _projected_dos(projections)
    framework_on_grid = projected_on_grid = None
    if pdos_energies is not None:
        framework_on_grid = np.interp(energies, pdos_energies, framework)
        projected_on_grid = np.interp(energies, pdos_energies, projected)
    result = fermi_level_dos(energies, total_dos, fermi, framework_on_grid, projected_on_grid)
    x, y = metals.get_list()
    cell = np.array(structure.cell)
    lattice = float(np.cbrt(abs(np.linalg.det(cell))))
    return orm.Dict(screening_row(x, y, lattice, result))


class _ScreeningProtocol(ProtocolMixin):
    """``protocols/screening.yaml`` for both screening work chains."""

    @classmethod
    def get_protocol_filepath(cls) -> pathlib.Path:
        return pathlib.Path(__file__).parent / "protocols" / "screening.yaml"


class PairScreeningWorkChain(_ScreeningProtocol, WorkChain):
    """One guest pair: relax, DOS and projections, N(E_F) and its extras."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("structure", valid_type=orm.StructureData, help="The unrelaxed clathrate.")
        spec.input("metals", valid_type=orm.List, help="[X, Y] (X = Y for XB3C3).")
        spec.input("pressure_gpa", **pressure_port("Target pressure of the relaxation (GPa)."))
        spec.expose_inputs(
            PwRelaxWorkChain,
            namespace="relax",
            exclude=("structure", "clean_workdir"),
            namespace_options={"required": False, "populate_defaults": False},
        )
        spec.expose_inputs(PdosWorkChain, namespace="pdos", exclude=("structure", "clean_workdir"))
        set_code_plugins(spec.inputs, "relax.base_relax.pw.code", "quantumespresso.pw")
        spec.outline(
            cls.setup,
            if_(cls.should_relax)(cls.run_relax, cls.inspect_relax),
            cls.run_pdos,
            cls.inspect_pdos,
            cls.results,
        )
        spec.output("relaxed_structure", valid_type=orm.StructureData)
        spec.output("summary", valid_type=orm.Dict, help="N(E_F), framework share, peaks, valence.")
        spec.exit_code(401, "ERROR_SUB_PROCESS_FAILED_RELAX", message="the relaxation failed")
        spec.exit_code(402, "ERROR_SUB_PROCESS_FAILED_PDOS", message="the DOS workflow failed")
        spec.exit_code(403, "ERROR_SUMMARY", message="N(E_F) could not be computed: {message}")

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict,
        structure: orm.StructureData,
        metals: list[str],
        protocol: str | None = None,
        pressure_gpa: float = 0.0,
        overrides: dict | None = None,
        pseudo_family: str = SHIPPED_FAMILY_LABEL,
        num_mpiprocs: int = 1,
        relax: bool = True,
    ):
        """Inputs from ``protocols/screening.yaml``: ``codes`` needs ``pw``, ``dos``, ``projwfc``."""
        codes = load_codes(codes, {"pw", "dos", "projwfc"})
        check_protocol_overrides(cls, overrides)
        protocol = protocol or cls.get_default_protocol()
        inputs = cls.get_protocol_inputs(protocol, overrides)
        if min(inputs["nscf_kpoints_mesh"]) < MIN_TETRAHEDRA_KPOINTS:
            raise ValueError(
                f"nscf_kpoints_mesh {inputs['nscf_kpoints_mesh']}: the optimised tetrahedra of the "
                f"DOS need at least {MIN_TETRAHEDRA_KPOINTS} k-points per direction (with 1 the DOS "
                "at E_F comes out zero)"
            )
        base = pw_overrides(
            structure,
            protocol,
            pseudo_family,
            inputs["smearing"],
            inputs["degauss_ry"],
            inputs["conv_thr_per_atom"],
        )
        builder = cls.get_builder()
        builder.structure = structure
        builder.metals = orm.List(list(metals))
        builder.pressure_gpa = orm.Float(pressure_gpa)
        if relax:
            builder.relax = pw_relax_inputs(
                codes["pw"],
                structure,
                protocol,
                base,
                inputs["kpoints_mesh"],
                pressure_gpa,
                inputs["relax_meta_convergence"],
                num_mpiprocs,
            )
        ecutwfc, ecutrho = recommended_cutoffs_ry(load_family(pseudo_family), structure, protocol)
        cutoffs = {"pw": {"parameters": {"SYSTEM": {"ecutwfc": ecutwfc, "ecutrho": ecutrho}}}}
        deltae = {"deltae": inputs["deltae_ev"]}
        pdos = PdosWorkChain.get_builder_from_protocol(
            codes["pw"],
            codes["dos"],
            codes["projwfc"],
            structure,
            protocol,
            overrides={
                "scf": base,
                "nscf": {"pseudo_family": base["pseudo_family"], **cutoffs},
                "dos": {"parameters": {"DOS": deltae}},
                "projwfc": {"parameters": {"PROJWFC": deltae}},
            },
            options=calcjob_options(num_mpiprocs),
            electronic_type=ElectronicType.METAL,
        )
        pdos_inputs = pdos._inputs(prune=True)
        for namespace, key in (("scf", "kpoints_mesh"), ("nscf", "nscf_kpoints_mesh")):
            pdos_inputs[namespace].pop("kpoints_distance", None)
            pdos_inputs[namespace]["kpoints"] = kpoints_mesh(inputs[key])
        pdos_inputs.pop("structure", None)
        pdos_inputs.pop("clean_workdir", None)
        builder.pdos = pdos_inputs
        builder.metadata.label = f"screening {formula(*_pair(metals))} {pressure_gpa:g} GPa"
        builder.metadata.description = f"protocol={protocol}"
        return builder

    def setup(self):
        self.ctx.structure = self.inputs.structure

    def should_relax(self) -> bool:
        return relax_requested(self.inputs)

    def run_relax(self):
        node = submit_relax(self, self.ctx.structure)
        self.report(
            f"relax: launched PwRelaxWorkChain<{node.pk}> at {self.inputs.pressure_gpa.value:g} GPa"
        )
        return ToContext(relax=node)

    def inspect_relax(self):
        node = self.ctx.relax
        if not node.is_finished_ok:
            self.report(failure(node))
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_RELAX
        self.ctx.structure = node.outputs.output_structure
        return None

    def run_pdos(self):
        inputs = AttributeDict(self.exposed_inputs(PdosWorkChain, namespace="pdos"))
        inputs.structure = self.ctx.structure
        inputs.metadata.call_link_label = "pdos"
        node = self.submit(PdosWorkChain, **inputs)
        self.report(f"DOS and projections: launched PdosWorkChain<{node.pk}>")
        return ToContext(pdos=node)

    def inspect_pdos(self):
        node = self.ctx.pdos
        if not node.is_finished_ok:
            self.report(failure(node))
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_PDOS
        return None

    def results(self):
        outputs = self.ctx.pdos.outputs
        try:
            summary = fermi_level_summary(
                self.ctx.structure,
                self.inputs.metals,
                outputs.nscf.output_parameters,
                outputs.dos.output_dos,
                outputs.projwfc.projections,
                metadata={"call_link_label": "fermi_level_summary"},
            )
        except Exception as exc:  # the calcfunction node keeps the traceback
            self.report(f"fermi_level_summary failed: {exc}")
            return self.exit_codes.ERROR_SUMMARY.format(message=str(exc))
        self.out("relaxed_structure", self.ctx.structure)
        self.out("summary", summary)
        row = summary.get_dict()
        self.node.base.extras.set_many(
            {
                "formula": formula(*_pair(row["x"], row["y"])),
                "pair": row["pair"],
                "n_ef_states_per_ev_b6c6": row["n_ef_states_per_ev_b6c6"],
                "average_valence": row["average_valence"],
                "pressure_gpa": self.inputs.pressure_gpa.value,
            }
        )
        from ..query import SCREENING_GROUP

        group, _ = orm.Group.collection.get_or_create(SCREENING_GROUP)
        group.add_nodes(self.node)
        if row["n_ef_states_per_ev_b6c6"] <= 1e-6:
            self.report(
                f"WARNING: {row['pair']}: N(E_F) = 0: E_F in a gap, or a DOS k-mesh too coarse"
            )
        share = row["framework_share"]
        self.report(
            f"{row['pair']}: N(E_F) = {row['n_ef_states_per_ev_b6c6']:.3f} states/eV/B6C6"
            f"{'' if share is None else f', framework share {share:.2f}'}, valence "
            f"{row['average_valence']:+.2f}, a = {row['lattice_parameter_angstrom']:.4f} Å"
        )
        return None


def _pair(x, y=None) -> tuple[str, str | None]:
    """``formula``'s arguments from [X, Y] or X, Y (X = Y -> XB3C3)."""
    if y is None:
        x, y = x
    return (x, None) if y == x else (x, y)


@calcfunction
def screening_table(reference_pair: orm.List, **summaries) -> dict:
    """The table of every screened pair (``rows``) and the ranking above the reference pair."""
    rows = [summary.get_dict() for _, summary in sorted(summaries.items())]
    ranked, level = rank_above_reference(rows, tuple(reference_pair.get_list()))
    return {
        "table": orm.Dict({"rows": rows}),
        "ranking": orm.Dict(
            {
                "reference_pair": "".join(reference_pair.get_list()),
                "reference_n_ef_states_per_ev_b6c6": level,
                "pairs": [row["pair"] for row in ranked],
                "n_ef_states_per_ev_b6c6": [row["n_ef_states_per_ev_b6c6"] for row in ranked],
            }
        ),
    }


class ScreeningWorkChain(_ScreeningProtocol, WorkChain):
    """Every pair of the given metals, at most ``max_concurrent_pairs`` at a time."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("metals", valid_type=orm.List, help="Guest metals; every unordered pair.")
        spec.input("pressure_gpa", **pressure_port("Pressure of the screen (GPa)."))
        spec.input("protocol", valid_type=orm.Str, default=lambda: orm.Str("fast"))
        spec.input("pw_code", valid_type=orm.AbstractCode)
        spec.input("dos_code", valid_type=orm.AbstractCode)
        spec.input("projwfc_code", valid_type=orm.AbstractCode)
        spec.input(
            "pseudo_family", valid_type=orm.Str, default=lambda: orm.Str(SHIPPED_FAMILY_LABEL)
        )
        spec.input("num_mpiprocs", valid_type=orm.Int, default=lambda: orm.Int(1))
        spec.input("max_concurrent_pairs", valid_type=orm.Int, default=lambda: orm.Int(4))
        spec.input(
            "reference_pair", valid_type=orm.List, default=lambda: orm.List(list(REFERENCE_PAIR))
        )
        spec.input("relax", valid_type=orm.Bool, default=lambda: orm.Bool(True))
        spec.input(
            "overrides",
            valid_type=orm.Dict,
            required=False,
            help="Protocol overrides of every pair (keys of protocols/screening.yaml).",
        )
        spec.inputs["metals"].validator = cls._validate_metals
        spec.outline(
            cls.setup,
            while_(cls.pairs_pending)(cls.run_batch),
            cls.results,
        )
        spec.output("table", valid_type=orm.Dict, help="One row per screened pair.")
        spec.output(
            "ranking", valid_type=orm.Dict, help="Pairs above the reference, highest first."
        )
        spec.exit_code(401, "ERROR_ALL_PAIRS_FAILED", message="every pair failed")

    @staticmethod
    def _validate_metals(value, _ctx=None):
        try:
            enumerate_pairs(value.get_list())
        except (ValueError, KeyError) as exc:
            return str(exc)
        return None

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict,
        metals: list[str],
        protocol: str = "fast",
        pressure_gpa: float = 0.0,
        pseudo_family: str = SHIPPED_FAMILY_LABEL,
        num_mpiprocs: int = 1,
        max_concurrent_pairs: int | None = None,
        relax: bool = True,
        overrides: dict | None = None,
    ):
        codes = load_codes(codes, {"pw", "dos", "projwfc"})
        # an unknown or repeated metal fails here, before anything is stored
        enumerate_pairs(metals)
        check_protocol_overrides(cls, overrides)
        inputs = cls.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        builder.metals = orm.List(list(metals))
        builder.pressure_gpa = orm.Float(pressure_gpa)
        builder.protocol = orm.Str(protocol)
        builder.pw_code = codes["pw"]
        builder.dos_code = codes["dos"]
        builder.projwfc_code = codes["projwfc"]
        builder.pseudo_family = orm.Str(pseudo_family)
        builder.num_mpiprocs = orm.Int(num_mpiprocs)
        builder.max_concurrent_pairs = orm.Int(
            max_concurrent_pairs or inputs["max_concurrent_pairs"]
        )
        builder.reference_pair = orm.List(list(inputs["reference_pair"]))
        builder.relax = orm.Bool(relax)
        if overrides:
            builder.overrides = orm.Dict(overrides)
        builder.metadata.label = f"screening {'-'.join(metals)} {pressure_gpa:g} GPa"
        return builder

    def setup(self):
        self.ctx.pairs = enumerate_pairs(self.inputs.metals.get_list())
        self.ctx.next = 0
        self.ctx.pair_runs = []
        self.ctx.not_launched = []
        self.report(
            f"{len(self.ctx.pairs)} pairs of {', '.join(self.inputs.metals.get_list())} at "
            f"{self.inputs.pressure_gpa.value:g} GPa, at most "
            f"{self.inputs.max_concurrent_pairs.value} at a time"
        )

    def pairs_pending(self) -> bool:
        return self.ctx.next < len(self.ctx.pairs)

    def run_batch(self):
        from ..structures import clathrate

        codes = {
            "pw": self.inputs.pw_code,
            "dos": self.inputs.dos_code,
            "projwfc": self.inputs.projwfc_code,
        }
        stop = min(self.ctx.next + self.inputs.max_concurrent_pairs.value, len(self.ctx.pairs))
        # pairs running together on one machine (direct scheduler) share its MPI processes
        options = share_cores(
            calcjob_options(self.inputs.num_mpiprocs.value),
            self.inputs.pw_code.computer,
            stop - self.ctx.next,
        )
        nproc = mpiprocs_per_machine(options)
        for x, y in self.ctx.pairs[self.ctx.next : stop]:
            structure = orm.StructureData(ase=clathrate(x, None if y == x else y))
            try:
                builder = PairScreeningWorkChain.get_builder_from_protocol(
                    codes,
                    structure,
                    [x, y],
                    self.inputs.protocol.value,
                    self.inputs.pressure_gpa.value,
                    pseudo_family=self.inputs.pseudo_family.value,
                    num_mpiprocs=nproc,
                    relax=self.inputs.relax.value,
                    overrides=(
                        self.inputs.overrides.get_dict() if "overrides" in self.inputs else None
                    ),
                )
            except (ValueError, KeyError) as exc:  # e.g. no pseudopotential for a guest
                message = f"{pair_label(x, y)}: not launched ({exc})"
                self.report(message)
                self.ctx.not_launched.append(message)
                continue
            builder.metadata.call_link_label = f"pair_{x}_{y}"
            node = self.submit(builder)
            self.to_context(pair_runs=append_(node))
        self.report(
            f"launched pairs {self.ctx.next + 1}..{stop} of {len(self.ctx.pairs)} "
            f"({nproc} MPI process{'es' if nproc > 1 else ''} each)"
        )
        self.ctx.next = stop

    def results(self):
        summaries, failed = {}, list(self.ctx.not_launched)
        for node in self.ctx.pair_runs:
            x, y = node.inputs.metals.get_list()
            if node.is_finished_ok:
                summaries[f"{x}_{y}"] = node.outputs.summary
            else:
                failed.append(f"{x}{'' if x == y else y}: {failure(node)}")
        if failed:
            self.report(f"{len(failed)} of {len(self.ctx.pairs)} pairs failed: {'; '.join(failed)}")
        if not summaries:
            return self.exit_codes.ERROR_ALL_PAIRS_FAILED
        result = screening_table(
            self.inputs.reference_pair, **summaries, metadata={"call_link_label": "table"}
        )
        self.out("table", result["table"])
        self.out("ranking", result["ranking"])
        ranking = result["ranking"].get_dict()
        level = ranking["reference_n_ef_states_per_ev_b6c6"]
        reference = ranking["reference_pair"]
        self.report(
            (
                f"reference pair {reference} not screened: every pair ranked: "
                if level is None
                else f"{len(ranking['pairs'])} pairs above {reference} ({level:.3f} states/eV/B6C6): "
            )
            + ", ".join(
                f"{p} {n:.3f}"
                for p, n in zip(ranking["pairs"], ranking["n_ef_states_per_ev_b6c6"], strict=True)
            )
        )
        return None
