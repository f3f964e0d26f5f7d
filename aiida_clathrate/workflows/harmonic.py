"""``HarmonicPhononWorkChain``: relax at a target pressure, then harmonic phonons with Quantum ESPRESSO.

relax (``PwRelaxWorkChain``, variable cell, symmetry kept) -> scf (``PwBaseWorkChain``) -> ph.x on a
q-mesh (``PhBaseWorkChain``) -> q2r.x (``Q2rBaseWorkChain``) -> matdyn.x along the band path and on a
DOS mesh (``MatdynBaseWorkChain``) -> stability verdict.
"""

from __future__ import annotations

import pathlib

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_
from aiida_quantumespresso.common.types import ElectronicType
from aiida_quantumespresso.workflows.matdyn.base import MatdynBaseWorkChain
from aiida_quantumespresso.workflows.ph.base import PhBaseWorkChain
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin, recursive_merge
from aiida_quantumespresso.workflows.pw.base import PwBaseWorkChain
from aiida_quantumespresso.workflows.pw.relax import PwRelaxWorkChain
from aiida_quantumespresso.workflows.q2r.base import Q2rBaseWorkChain

from ..calculations.phonon_functions import (
    extract_dynamical_matrices,
    phonon_band_path,
    phonon_stability,
    structure_summary,
)
from ..pseudo_family import SHIPPED_FAMILY_LABEL, load_family, recommended_cutoffs_ry
from .common import calcjob_options, kpoints_mesh

KBAR_PER_GPA = 10.0


class HarmonicPhononWorkChain(ProtocolMixin, WorkChain):
    """Relaxed structure, harmonic dynamical matrices, phonon bands/DOS and a dynamical-stability verdict."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("structure", valid_type=orm.StructureData, help="The starting structure.")
        spec.input(
            "pressure_gpa",
            valid_type=orm.Float,
            default=lambda: orm.Float(0.0),
            help="Target pressure of the variable-cell relaxation (GPa).",
        )
        spec.input(
            "stability_tolerance_cm1",
            valid_type=orm.Float,
            default=lambda: orm.Float(10.0),
            help="Imaginary modes shallower than this (cm^-1) count as numerical noise.",
        )
        spec.input("bands_npoints", valid_type=orm.Int, default=lambda: orm.Int(120))
        spec.input(
            "dos_qpoints",
            valid_type=orm.KpointsData,
            help="Mesh on which matdyn.x computes the phonon DOS.",
        )
        spec.input("clean_workdir", valid_type=orm.Bool, default=lambda: orm.Bool(False))
        spec.expose_inputs(
            PwRelaxWorkChain,
            namespace="relax",
            exclude=("structure", "clean_workdir"),
            namespace_options={
                "required": False,
                "populate_defaults": False,
                "help": "Omit to skip relaxation.",
            },
        )
        spec.expose_inputs(
            PwBaseWorkChain, namespace="scf", exclude=("pw.structure", "clean_workdir")
        )
        spec.expose_inputs(
            PhBaseWorkChain, namespace="ph", exclude=("ph.parent_folder", "clean_workdir")
        )
        spec.expose_inputs(
            Q2rBaseWorkChain, namespace="q2r", exclude=("q2r.parent_folder", "clean_workdir")
        )
        spec.expose_inputs(
            MatdynBaseWorkChain,
            namespace="matdyn",
            exclude=("matdyn.force_constants", "matdyn.kpoints", "clean_workdir"),
        )
        spec.outline(
            cls.setup,
            if_(cls.should_relax)(cls.run_relax, cls.inspect_relax),
            cls.run_scf,
            cls.inspect_scf,
            cls.run_ph,
            cls.inspect_ph,
            cls.run_q2r,
            cls.inspect_q2r,
            cls.run_matdyn,
            cls.inspect_matdyn,
            cls.results,
        )
        spec.output("relaxed_structure", valid_type=orm.StructureData)
        spec.output(
            "dynamical_matrices",
            valid_type=orm.FolderData,
            help="ph.x dynamical matrices as dyn0..dynN (python-sscha's `Phonons(prefix, nqirr)` layout).",
        )
        spec.output("force_constants", valid_type=orm.SinglefileData)
        spec.output(
            "phonon_bands",
            valid_type=orm.BandsData,
            help="Frequencies in THz (matdyn parser units).",
        )
        spec.output("phonon_dos", valid_type=orm.XyData)
        spec.output("min_frequency_cm1", valid_type=orm.Float, help="Negative means imaginary.")
        spec.output("dynamically_stable", valid_type=orm.Bool)
        spec.output(
            "structure_parameters",
            valid_type=orm.Dict,
            help="Lattice parameter and B-C bond lengths.",
        )
        spec.exit_code(
            401, "ERROR_SUB_PROCESS_FAILED_RELAX", message="The PwRelaxWorkChain failed."
        )
        spec.exit_code(
            402, "ERROR_SUB_PROCESS_FAILED_SCF", message="The scf PwBaseWorkChain failed."
        )
        spec.exit_code(
            403, "ERROR_SUB_PROCESS_FAILED_PH", message="The PhBaseWorkChain (ph.x) failed."
        )
        spec.exit_code(
            404, "ERROR_SUB_PROCESS_FAILED_Q2R", message="The Q2rBaseWorkChain (q2r.x) failed."
        )
        spec.exit_code(
            405,
            "ERROR_SUB_PROCESS_FAILED_MATDYN_BANDS",
            message="matdyn.x on the band path failed.",
        )
        spec.exit_code(
            406, "ERROR_SUB_PROCESS_FAILED_MATDYN_DOS", message="matdyn.x on the DOS mesh failed."
        )

    @classmethod
    def get_protocol_filepath(cls) -> pathlib.Path:
        return pathlib.Path(__file__).parent / "protocols" / "harmonic.yaml"

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict[str, orm.AbstractCode | str],
        structure: orm.StructureData,
        protocol: str | None = None,
        overrides: dict | None = None,
        pressure_gpa: float = 0.0,
        pseudo_family: str = SHIPPED_FAMILY_LABEL,
        num_mpiprocs: int = 1,
        relax: bool = True,
    ):
        """A builder filled from the ``fast``/``balanced``/``stringent`` protocol.

        :param codes: codes for ``pw``, ``ph``, ``q2r`` and ``matdyn`` (nodes or labels).
        :param overrides: nested overrides of this protocol's keys (``kpoints_mesh``, ``qpoints_mesh``,
            ``dos_qpoints_mesh``, ``tr2_ph``, ...) and of the sub-builders (``relax``, ``scf``, ``ph``,
            ``q2r``, ``matdyn`` as in aiida-quantumespresso).
        """
        missing = {"pw", "ph", "q2r", "matdyn"} - set(codes)
        if missing:
            raise ValueError(f"codes missing for: {sorted(missing)}")
        codes = {
            key: orm.load_code(code) if isinstance(code, str) else code
            for key, code in codes.items()
        }
        protocol = protocol or cls.get_default_protocol()
        inputs = cls.get_protocol_inputs(protocol, overrides)
        family = load_family(pseudo_family)
        ecutwfc, ecutrho = recommended_cutoffs_ry(family, structure, protocol)
        options = calcjob_options(num_mpiprocs)
        n_atoms = len(structure.sites)

        pw_overrides = {
            "pseudo_family": family.label,
            "meta_parameters": {"conv_thr_per_atom": inputs["conv_thr_per_atom"]},
            "pw": {
                "parameters": {
                    "SYSTEM": {
                        "ecutwfc": ecutwfc,
                        "ecutrho": ecutrho,
                        "occupations": "smearing",
                        "smearing": inputs["smearing"],
                        "degauss": inputs["degauss_ry"],
                    }
                }
            },
        }
        kpoints = kpoints_mesh(inputs["kpoints_mesh"])
        builder = cls.get_builder()
        builder.structure = structure
        builder.pressure_gpa = orm.Float(pressure_gpa)
        builder.stability_tolerance_cm1 = orm.Float(inputs["stability_tolerance_cm1"])
        builder.bands_npoints = orm.Int(inputs["bands_npoints"])
        builder.dos_qpoints = kpoints_mesh(inputs["dos_qpoints_mesh"])

        if relax:
            base_relax_overrides = recursive_merge(pw_overrides, inputs.get("relax", {}))
            relax_builder = PwRelaxWorkChain.get_builder_from_protocol(
                codes["pw"],
                structure,
                protocol,
                overrides={
                    "base_relax": base_relax_overrides,
                    "base_init_relax": base_relax_overrides,
                },
                options=options,
                electronic_type=ElectronicType.METAL,
            )
            relax_builder.pop("base_init_relax", None)
            relax_builder.base_relax.pop("kpoints_distance", None)
            relax_builder.base_relax.kpoints = kpoints
            parameters = relax_builder.base_relax.pw.parameters.get_dict()
            parameters["CELL"]["press"] = pressure_gpa * KBAR_PER_GPA
            relax_builder.base_relax.pw.parameters = orm.Dict(parameters)
            relax_builder.meta_convergence = orm.Bool(inputs["relax_meta_convergence"])
            relax_builder.pop("structure", None)
            relax_builder.pop("clean_workdir", None)
            builder.relax = relax_builder

        scf_builder = PwBaseWorkChain.get_builder_from_protocol(
            codes["pw"],
            structure,
            protocol,
            overrides=recursive_merge(pw_overrides, inputs.get("scf", {})),
            options=options,
            electronic_type=ElectronicType.METAL,
        )
        scf_builder.pop("kpoints_distance", None)
        scf_builder.kpoints = kpoints
        scf_builder.pw.pop("structure", None)
        scf_builder.pop("clean_workdir", None)
        builder.scf = scf_builder

        ph_overrides = recursive_merge(
            {
                "ph": {
                    "parameters": {
                        "INPUTPH": {"tr2_ph": inputs["tr2_ph"], "nmix_ph": inputs["nmix_ph"]}
                    }
                }
            },
            inputs.get("ph", {}),
        )
        ph_builder = PhBaseWorkChain.get_builder_from_protocol(
            codes["ph"], protocol=protocol, overrides=ph_overrides, options=options
        )
        ph_builder.pop("qpoints_distance", None)
        ph_builder.qpoints = kpoints_mesh(inputs["qpoints_mesh"])
        ph_builder.pop("clean_workdir", None)
        ph_builder.ph.metadata.options = options
        builder.ph = ph_builder

        builder.q2r.q2r.code = codes["q2r"]
        builder.q2r.q2r.parameters = orm.Dict({"INPUT": {"zasr": "crystal"}})
        builder.q2r.q2r.metadata.options = options
        builder.matdyn.matdyn.code = codes["matdyn"]
        builder.matdyn.matdyn.parameters = orm.Dict({"INPUT": {"asr": "crystal"}})
        builder.matdyn.matdyn.metadata.options = options
        builder.metadata.label = f"harmonic {structure.get_formula()} {pressure_gpa:g} GPa"
        builder.metadata.description = f"protocol={protocol}, {n_atoms} atoms"
        return builder

    def setup(self):
        self.ctx.structure = self.inputs.structure

    def should_relax(self) -> bool:
        """Relax unless the ``relax`` namespace was left empty (an empty builder namespace may be present)."""
        relax = self.inputs.get("relax", {})
        return "parameters" in relax.get("base_relax", {}).get("pw", {})

    def run_relax(self):
        inputs = AttributeDict(self.exposed_inputs(PwRelaxWorkChain, namespace="relax"))
        inputs.structure = self.ctx.structure
        parameters = inputs.base_relax.pw.parameters.get_dict()
        parameters.setdefault("CELL", {})["press"] = self.inputs.pressure_gpa.value * KBAR_PER_GPA
        inputs.base_relax.pw.parameters = orm.Dict(parameters)
        inputs.metadata.call_link_label = "relax"
        node = self.submit(PwRelaxWorkChain, **inputs)
        self.report(
            f"step 1/5 relax: launched PwRelaxWorkChain<{node.pk}> at {self.inputs.pressure_gpa.value} GPa"
        )
        return ToContext(relax=node)

    def inspect_relax(self):
        node = self.ctx.relax
        if not node.is_finished_ok:
            self.report(f"PwRelaxWorkChain<{node.pk}> failed with exit status {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_RELAX
        self.ctx.structure = node.outputs.output_structure
        self.report(f"relaxed cell volume {self.ctx.structure.get_cell_volume():.3f} Å^3")

    def run_scf(self):
        inputs = AttributeDict(self.exposed_inputs(PwBaseWorkChain, namespace="scf"))
        inputs.pw.structure = self.ctx.structure
        inputs.metadata.call_link_label = "scf"
        node = self.submit(PwBaseWorkChain, **inputs)
        self.report(f"step 2/5 scf: launched PwBaseWorkChain<{node.pk}>")
        return ToContext(scf=node)

    def inspect_scf(self):
        node = self.ctx.scf
        if not node.is_finished_ok:
            self.report(
                f"scf PwBaseWorkChain<{node.pk}> failed with exit status {node.exit_status}"
            )
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_SCF

    def run_ph(self):
        inputs = AttributeDict(self.exposed_inputs(PhBaseWorkChain, namespace="ph"))
        inputs.ph.parent_folder = self.ctx.scf.outputs.remote_folder
        inputs.metadata.call_link_label = "ph"
        node = self.submit(PhBaseWorkChain, **inputs)
        self.report(f"step 3/5 ph.x: launched PhBaseWorkChain<{node.pk}>")
        return ToContext(ph=node)

    def inspect_ph(self):
        node = self.ctx.ph
        if not node.is_finished_ok:
            self.report(f"PhBaseWorkChain<{node.pk}> failed with exit status {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_PH

    def run_q2r(self):
        inputs = AttributeDict(self.exposed_inputs(Q2rBaseWorkChain, namespace="q2r"))
        inputs.q2r.parent_folder = self.ctx.ph.outputs.retrieved
        inputs.metadata.call_link_label = "q2r"
        node = self.submit(Q2rBaseWorkChain, **inputs)
        self.report(f"step 4/5 q2r.x: launched Q2rBaseWorkChain<{node.pk}>")
        return ToContext(q2r=node)

    def inspect_q2r(self):
        node = self.ctx.q2r
        if not node.is_finished_ok:
            self.report(f"Q2rBaseWorkChain<{node.pk}> failed with exit status {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_Q2R

    def run_matdyn(self):
        force_constants = self.ctx.q2r.outputs.force_constants
        path = phonon_band_path(self.ctx.structure, self.inputs.bands_npoints)
        launched = {}
        for label, kpoints in (("matdyn_bands", path), ("matdyn_dos", self.inputs.dos_qpoints)):
            inputs = AttributeDict(self.exposed_inputs(MatdynBaseWorkChain, namespace="matdyn"))
            inputs.matdyn.force_constants = force_constants
            inputs.matdyn.kpoints = kpoints
            if label == "matdyn_dos":
                parameters = (
                    inputs.matdyn.parameters.get_dict() if "parameters" in inputs.matdyn else {}
                )
                parameters.setdefault("INPUT", {})["dos"] = True
                inputs.matdyn.parameters = orm.Dict(parameters)
            inputs.metadata.call_link_label = label
            launched[label] = self.submit(MatdynBaseWorkChain, **inputs)
        self.report(
            "step 5/5 matdyn.x: launched MatdynBaseWorkChain<{}> (bands) and <{}> (DOS)".format(
                launched["matdyn_bands"].pk, launched["matdyn_dos"].pk
            )
        )
        return ToContext(**launched)

    def inspect_matdyn(self):
        for label, exit_code in (
            ("matdyn_bands", self.exit_codes.ERROR_SUB_PROCESS_FAILED_MATDYN_BANDS),
            ("matdyn_dos", self.exit_codes.ERROR_SUB_PROCESS_FAILED_MATDYN_DOS),
        ):
            node = self.ctx[label]
            if not node.is_finished_ok:
                self.report(
                    f"MatdynBaseWorkChain<{node.pk}> ({label}) failed with exit status {node.exit_status}"
                )
                return exit_code

    def results(self):
        bands = self.ctx.matdyn_bands.outputs.output_phonon_bands
        verdict = phonon_stability(bands, self.inputs.stability_tolerance_cm1)
        self.out("relaxed_structure", self.ctx.structure)
        self.out("structure_parameters", structure_summary(self.ctx.structure))
        self.out("dynamical_matrices", extract_dynamical_matrices(self.ctx.ph.outputs.retrieved))
        self.out("force_constants", self.ctx.q2r.outputs.force_constants)
        self.out("phonon_bands", bands)
        self.out("phonon_dos", self.ctx.matdyn_dos.outputs.output_phonon_dos)
        self.out("min_frequency_cm1", verdict["min_frequency_cm1"])
        self.out("dynamically_stable", verdict["dynamically_stable"])
        state = (
            "dynamically stable" if verdict["dynamically_stable"].value else "dynamically UNSTABLE"
        )
        self.report(
            f"done: lowest frequency {verdict['min_frequency_cm1'].value:.1f} cm^-1, {state}"
        )

    def on_terminated(self):
        super().on_terminated()
        if not self.inputs.clean_workdir.value:
            return
        cleaned = []
        for called in self.node.called_descendants:
            if isinstance(called, orm.CalcJobNode):
                try:
                    called.outputs.remote_folder._clean()
                    cleaned.append(called.pk)
                except (OSError, KeyError, AttributeError):
                    pass
        if cleaned:
            self.report(f"cleaned remote folders of calculations: {' '.join(map(str, cleaned))}")
