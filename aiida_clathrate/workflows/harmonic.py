"""``HarmonicPhononWorkChain``: relax at a target pressure, then harmonic phonons with Quantum ESPRESSO.

relax (``PwRelaxWorkChain``, variable cell, symmetry kept) -> ``DfptWorkChain`` (scf, ph.x with the
irreducible q-points as separate jobs, q2r.x, matdyn.x on the band path and a DOS mesh) ->
stability verdict. With ``electron_phonon`` settings the same DFPT also computes the electron-phonon
gamma matrices (``elph_folder``), so a compound needs one ph.x pass for phonons and linewidths.
"""

from __future__ import annotations

import pathlib

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin
from aiida_quantumespresso.workflows.pw.relax import PwRelaxWorkChain

from ..calculations.phonon_functions import phonon_stability, structure_summary
from ..limits import pressure_error, raise_if
from ..pseudo_family import SHIPPED_FAMILY_LABEL
from ..validators import pressure_port, set_code_plugins
from .common import (
    DFPT_OVERRIDE_NAMESPACES,
    check_protocol_overrides,
    clean_called_workdirs,
    load_codes,
)
from .dfpt import DfptWorkChain, dfpt_inputs
from .pw_inputs import merged, pw_overrides, pw_relax_inputs, relax_requested, submit_relax

#: DfptWorkChain exit status -> this work chain's exit code label.
DFPT_EXIT_CODES = {
    401: "ERROR_SUB_PROCESS_FAILED_SCF_DENSE",
    402: "ERROR_SUB_PROCESS_FAILED_SCF",
    403: "ERROR_SUB_PROCESS_FAILED_PH",
    404: "ERROR_SUB_PROCESS_FAILED_Q2R",
    405: "ERROR_SUB_PROCESS_FAILED_MATDYN_BANDS",
    406: "ERROR_SUB_PROCESS_FAILED_MATDYN_DOS",
    407: "ERROR_SUB_PROCESS_FAILED_PH",
}


class HarmonicPhononWorkChain(ProtocolMixin, WorkChain):
    """Relaxed structure, harmonic dynamical matrices, phonon bands/DOS and a dynamical-stability verdict."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("structure", valid_type=orm.StructureData, help="The starting structure.")
        spec.input(
            "pressure_gpa",
            **pressure_port("Target pressure of the variable-cell relaxation (GPa)."),
        )
        spec.input(
            "stability_tolerance_cm1",
            valid_type=orm.Float,
            default=lambda: orm.Float(10.0),
            help="Imaginary modes shallower than this (cm^-1) count as numerical noise.",
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
        for path in ("relax.base_relax.pw.code", "relax.base_init_relax.pw.code"):
            set_code_plugins(spec.inputs, path, "quantumespresso.pw")
        spec.expose_inputs(
            DfptWorkChain,
            namespace="dfpt",
            exclude=("structure", "clean_workdir", "dynamical_matrices", "parent_elph_folder"),
        )
        spec.outline(
            cls.setup,
            if_(cls.should_relax)(cls.run_relax, cls.inspect_relax),
            cls.run_dfpt,
            cls.inspect_dfpt,
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
        spec.output(
            "elph_folder",
            valid_type=orm.RemoteData,
            required=False,
            help="With `dfpt.electron_phonon`: the real-space gamma matrices of the same ph.x "
            "runs (q2r.x with la2F), for ElectronPhononWorkChain's `parent_elph_folder`.",
        )
        spec.exit_code(
            401, "ERROR_SUB_PROCESS_FAILED_RELAX", message="The PwRelaxWorkChain failed."
        )
        spec.exit_code(
            402, "ERROR_SUB_PROCESS_FAILED_SCF", message="The scf PwBaseWorkChain failed."
        )
        spec.exit_code(
            403, "ERROR_SUB_PROCESS_FAILED_PH", message="The ph.x step failed: {message}"
        )
        spec.exit_code(404, "ERROR_SUB_PROCESS_FAILED_Q2R", message="q2r.x failed.")
        spec.exit_code(
            405,
            "ERROR_SUB_PROCESS_FAILED_MATDYN_BANDS",
            message="matdyn.x on the band path failed.",
        )
        spec.exit_code(
            406, "ERROR_SUB_PROCESS_FAILED_MATDYN_DOS", message="matdyn.x on the DOS mesh failed."
        )
        spec.exit_code(
            407,
            "ERROR_SUB_PROCESS_FAILED_SCF_DENSE",
            message="The la2F scf PwBaseWorkChain failed.",
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
        electron_phonon_settings: dict | None = None,
    ):
        """A builder filled from the ``fast``/``balanced``/``stringent`` protocol.

        :param codes: codes for ``pw``, ``ph``, ``q2r`` and ``matdyn`` (nodes or labels).
        :param overrides: nested overrides of this protocol's keys (``kpoints_mesh``, ``qpoints_mesh``,
            ``dos_qpoints_mesh``, ``tr2_ph``, ``max_concurrent_qpoints``, ...) and of the sub-builders
            (``relax``, ``scf``, ``ph``, ``q2r``, ``matdyn`` as in aiida-quantumespresso).
        :param electron_phonon_settings: the electron-phonon protocol inputs
            (``ElectronPhononWorkChain.get_protocol_inputs``): the DFPT then also computes the
            gamma matrices with their dense k-mesh and broadenings (one ph.x pass for both).
        """
        codes = load_codes(codes, {"pw", "ph", "q2r", "matdyn"})
        check_protocol_overrides(cls, overrides, ("relax", *DFPT_OVERRIDE_NAMESPACES))
        raise_if(pressure_error(pressure_gpa))
        protocol = protocol or cls.get_default_protocol()
        inputs = cls.get_protocol_inputs(protocol, overrides)
        n_atoms = len(structure.sites)

        builder = cls.get_builder()
        builder.structure = structure
        builder.pressure_gpa = orm.Float(pressure_gpa)
        builder.stability_tolerance_cm1 = orm.Float(inputs["stability_tolerance_cm1"])
        if relax:
            base = pw_overrides(
                structure,
                protocol,
                pseudo_family,
                inputs["smearing"],
                inputs["degauss_ry"],
                inputs["conv_thr_per_atom"],
            )
            builder.relax = pw_relax_inputs(
                codes["pw"],
                structure,
                protocol,
                merged(base, inputs.get("relax")),
                inputs["kpoints_mesh"],
                pressure_gpa,
                inputs["relax_meta_convergence"],
                num_mpiprocs,
            )
        settings = dict(inputs)
        if electron_phonon_settings is not None:
            for key in ("dense_kpoints_mesh", "el_ph_sigma_ry", "el_ph_nsigma", "scf_dense"):
                if key in electron_phonon_settings:
                    settings[key] = electron_phonon_settings[key]
        builder.dfpt = dfpt_inputs(
            codes,
            structure,
            protocol,
            settings,
            pseudo_family,
            num_mpiprocs,
            electron_phonon=electron_phonon_settings is not None,
        )
        builder.metadata.label = f"harmonic {structure.get_formula()} {pressure_gpa:g} GPa"
        builder.metadata.description = f"protocol={protocol}, {n_atoms} atoms"
        return builder

    def setup(self):
        self.ctx.structure = self.inputs.structure

    def should_relax(self) -> bool:
        return relax_requested(self.inputs)

    def run_relax(self):
        node = submit_relax(self, self.ctx.structure)
        self.report(
            f"step 1/2 relax: launched PwRelaxWorkChain<{node.pk}> at {self.inputs.pressure_gpa.value} GPa"
        )
        return ToContext(relax=node)

    def inspect_relax(self):
        node = self.ctx.relax
        if not node.is_finished_ok:
            self.report(f"PwRelaxWorkChain<{node.pk}> failed with exit status {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_RELAX
        self.ctx.structure = node.outputs.output_structure
        self.report(f"relaxed cell volume {self.ctx.structure.get_cell_volume():.3f} Å^3")
        return None

    def run_dfpt(self):
        inputs = AttributeDict(self.exposed_inputs(DfptWorkChain, namespace="dfpt"))
        inputs.structure = self.ctx.structure
        inputs.metadata.call_link_label = "dfpt"
        node = self.submit(DfptWorkChain, **inputs)
        what = (
            "phonons and electron-phonon gamma matrices"
            if inputs.electron_phonon.value
            else "phonons"
        )
        self.report(f"step 2/2 DFPT ({what}): launched DfptWorkChain<{node.pk}>")
        return ToContext(dfpt=node)

    def inspect_dfpt(self):
        node = self.ctx.dfpt
        if node.is_finished_ok:
            return None
        self.report(f"DfptWorkChain<{node.pk}> failed: {node.exit_status} {node.exit_message}")
        label = DFPT_EXIT_CODES.get(node.exit_status, "ERROR_SUB_PROCESS_FAILED_PH")
        exit_code = self.exit_codes[label]
        if label == "ERROR_SUB_PROCESS_FAILED_PH":
            return exit_code.format(message=node.exit_message or f"exit {node.exit_status}")
        return exit_code

    def results(self):
        outputs = self.ctx.dfpt.outputs
        verdict = phonon_stability(outputs.phonon_bands, self.inputs.stability_tolerance_cm1)
        self.out("relaxed_structure", self.ctx.structure)
        self.out("structure_parameters", structure_summary(self.ctx.structure))
        for name in ("dynamical_matrices", "force_constants", "phonon_bands", "phonon_dos"):
            self.out(name, outputs[name])
        if "elph_folder" in outputs:
            self.out("elph_folder", outputs.elph_folder)
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
        clean_called_workdirs(self)
