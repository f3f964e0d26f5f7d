"""``ElectronPhononWorkChain``: alpha^2F, lambda and Tc with Quantum ESPRESSO's interpolation method.

pw.x scf on a dense k-mesh with ``la2F`` (writes ``aiida.a2Fsave``) -> pw.x scf on the phonon k-mesh,
restarting from the dense run's folder (so ``aiida.a2Fsave`` sits in its ``out/``) -> ph.x with
``electron_phonon='interpolated'`` on the q-mesh -> q2r.x with ``la2F`` (reads ph.x's ``elph_dir/``)
-> matdyn.x with ``la2F`` and ``dos`` (a2F.dosN, lambda) -> parse every broadening -> Eliashberg on
the broadening chosen by the plateau rule. Beside the DOS run (``compute_linewidths``, default on),
matdyn.x with ``la2F`` and ``dos=.false.`` on the structure's band path writes the electron-phonon
linewidth of every mode at every q (``gam.lines``, ``elph.gamma.N``): ``phonon_bands`` and
``phonon_linewidths`` (GHz, at the chosen broadening) for the study's Fig. 2.

Given-matrices branch (``dynamical_matrices``, e.g. the SSCHA anharmonic matrices, on the q-mesh of
the electron-phonon ph.x run): ph.x writes the electron-phonon linewidth ("gamma") matrices in the
Cartesian basis (``elph_dir/a2Fq2r.*``); they do not depend on the phonons. q2r.x with ``la2F``
on ph.x's own matrices turns them into real-space matrices (``elph_dir/a2Fmatdyn.*``), a second
q2r.x turns the *given* matrices into force constants, and matdyn.x diagonalises those and projects
the gamma matrices on their eigenvectors: gamma_nu = (pi/2) z_nu^+ G z_nu, lambda_nu =
gamma_nu / (pi N(Ef) omega_nu^2). Unchanged harmonic matrices give the harmonic result exactly.
``parent_ph_folder`` (the ``ph_remote_folder`` output of an earlier run) skips the scf and DFPT
steps; without it they run here first.
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
from aiida_quantumespresso.workflows.q2r.base import Q2rBaseWorkChain

from ..calculations.eliashberg import eliashberg
from ..calculations.epc_functions import (
    dynamical_matrices_for_q2r,
    given_matrices_qpoints_mesh,
    parse_epc_linewidths,
    parse_epc_outputs,
    ph_qpoints_mesh,
)
from ..calculations.epc_linewidths import retrieve_names
from ..calculations.phonon_functions import extract_dynamical_matrices, phonon_band_path
from ..pseudo_family import SHIPPED_FAMILY_LABEL, load_family, recommended_cutoffs_ry
from .common import calcjob_options, kpoints_mesh

#: aiida-quantumespresso's MatdynCalculation retrieves a2F.dos1..a2F.dos10 only.
MAX_EL_PH_NSIGMA = 10


def validate_meshes(kpoints_mesh, dense_kpoints_mesh, qpoints_mesh) -> None:
    """Raise ``ValueError`` unless the dense (la2F) k-mesh and the scf k-mesh are multiples of the q-mesh."""
    for name, mesh in (("kpoints_mesh", kpoints_mesh), ("dense_kpoints_mesh", dense_kpoints_mesh)):
        for n, nq in zip(mesh, qpoints_mesh, strict=True):
            if int(nq) < 1 or int(n) % int(nq):
                raise ValueError(
                    f"{name} {list(mesh)} is not a multiple of qpoints_mesh {list(qpoints_mesh)}: "
                    "ph.x needs every k+q on the grid"
                )


def _validate_parent_ph_folder(folder: orm.RemoteData) -> str | None:
    """An error unless ``folder`` is the remote folder of an electron-phonon ph.x calculation."""
    creator = folder.creator
    if creator is None or creator.process_type != "aiida.calculations:quantumespresso.ph":
        return f"`parent_ph_folder` RemoteData<{folder.pk}> is not the folder of a ph.x calculation"
    inputph = creator.inputs.parameters.get_dict().get("INPUTPH", {})
    if inputph.get("electron_phonon") != "interpolated":
        return (
            f"`parent_ph_folder`: ph.x calculation<{creator.pk}> ran without "
            "electron_phonon='interpolated', so it wrote no elph_dir/ gamma matrices"
        )
    return None


def _validate_given_mesh(value) -> str | None:
    """An error unless the given matrices lie on the q-mesh of the electron-phonon ph.x run."""
    try:
        given = given_matrices_qpoints_mesh(value["dynamical_matrices"])
        if "parent_ph_folder" in value:
            elph = ph_qpoints_mesh(value["parent_ph_folder"])
            source = "the ph.x run of `parent_ph_folder`"
        else:
            qpoints = value["ph"].get("qpoints")
            if qpoints is None or "mesh" not in qpoints.base.attributes.keys():
                return "`dynamical_matrices` without `parent_ph_folder` need `ph.qpoints` as a mesh"
            elph = [int(n) for n in qpoints.get_kpoints_mesh()[0]]
            source = "`ph.qpoints`"
    except ValueError as exc:
        return f"`dynamical_matrices`: {exc}"
    if given != elph:
        return (
            f"`dynamical_matrices` are on the q-mesh {given}, the electron-phonon q-mesh of {source} "
            f"is {elph}: matdyn.x needs the force constants and the gamma matrices on the same "
            "grid (it stops with 'inconsistent nr1, nr2, nr3 read'); give matrices on the "
            "electron-phonon q-mesh"
        )
    return None


class ElectronPhononWorkChain(ProtocolMixin, WorkChain):
    """alpha^2F(omega) per broadening, lambda, omega_log, N(Ef) and Eliashberg Tc for a metal."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("structure", valid_type=orm.StructureData, help="The (relaxed) structure.")
        spec.input(
            "mustar",
            valid_type=orm.List,
            default=lambda: orm.List([0.10, 0.13, 0.15]),
            help="Coulomb pseudopotentials for the Eliashberg equations.",
        )
        spec.input(
            "eliashberg_settings",
            valid_type=orm.Dict,
            default=lambda: orm.Dict({}),
            help="Fields of aiida_clathrate.eliashberg.EliashbergSettings.",
        )
        spec.input(
            "plateau_tolerance",
            valid_type=orm.Float,
            default=lambda: orm.Float(0.05),
            help="Broadening rule: the first broadening whose lambda changes by less than this "
            "(relative) to the next one.",
        )
        spec.input(
            "broadening_index",
            valid_type=orm.Int,
            required=False,
            validator=lambda value, _ctx=None: (
                None
                if value is None or value.value >= 1
                else f"broadening_index is 1-based, got {value.value}"
            ),
            help="Use this broadening (1-based) instead of the plateau rule, e.g. the harmonic "
            "branch's for the anharmonic one, so both are compared at the same broadening.",
        )
        spec.input(
            "dynamical_matrices",
            valid_type=orm.FolderData,
            required=False,
            help="Dynamical matrices dyn0..dynN (HarmonicPhononWorkChain convention: attributes "
            "prefix, nqirr, qpoints_mesh) on the electron-phonon q-mesh: their phonons replace "
            "ph.x's own in q2r.x/matdyn.x; the linewidth matrices stay ph.x's.",
        )
        spec.input(
            "parent_ph_folder",
            valid_type=orm.RemoteData,
            required=False,
            help="ph_remote_folder of an earlier electron-phonon run: skip scf and DFPT, use its "
            "DYN_MAT/ and elph_dir/ gamma matrices (needs dynamical_matrices).",
        )
        spec.input(
            "compute_linewidths",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="Also run matdyn.x (la2F, dos=.false.) on the band path: outputs phonon_bands and "
            "phonon_linewidths. Its failure is reported and leaves them out; Tc is unaffected.",
        )
        spec.input(
            "bands_npoints",
            valid_type=orm.Int,
            default=lambda: orm.Int(120),
            help="Number of q-points of the band path of the linewidth run.",
        )
        spec.input("clean_workdir", valid_type=orm.Bool, default=lambda: orm.Bool(False))
        spec.expose_inputs(
            PwBaseWorkChain,
            namespace="scf_dense",
            exclude=("pw.structure", "clean_workdir"),
            namespace_options={"required": False, "populate_defaults": False},
        )
        spec.expose_inputs(
            PwBaseWorkChain,
            namespace="scf",
            exclude=("pw.structure", "pw.parent_folder", "clean_workdir"),
            namespace_options={"required": False, "populate_defaults": False},
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
            exclude=("matdyn.force_constants", "matdyn.parent_folder", "clean_workdir"),
        )
        spec.inputs.validator = cls.validate_inputs
        spec.outline(
            cls.setup,
            if_(cls.should_run_dfpt)(
                cls.run_scf_dense,
                cls.inspect_scf_dense,
                cls.run_scf,
                cls.inspect_scf,
                cls.run_ph,
                cls.inspect_ph,
            ),
            cls.run_q2r,
            cls.inspect_q2r,
            cls.run_matdyn,
            cls.inspect_matdyn,
            cls.parse,
            cls.run_eliashberg,
            cls.results,
        )
        spec.output(
            "alpha2f",
            valid_type=orm.XyData,
            help="alpha^2F of the chosen broadening (omega in meV; total and per mode).",
        )
        spec.output_namespace(
            "alpha2f_broadenings",
            valid_type=orm.XyData,
            dynamic=True,
            help="alpha^2F for every broadening, labelled broadening_NN (N as in a2F.dosN).",
        )
        spec.output(
            "epc_summary",
            valid_type=orm.Dict,
            help="Per broadening: lambda, omega_log and N(Ef) from QE and from alpha^2F; the choice.",
        )
        spec.output("eliashberg", valid_type=orm.Dict, help="Eliashberg result (Tc per mu*).")
        spec.output("gap_curve", valid_type=orm.XyData, help="Delta(T) per mu* (meV).")
        spec.output("phonon_dos", valid_type=orm.XyData, required=False)
        spec.output(
            "phonon_bands",
            valid_type=orm.BandsData,
            required=False,
            help="matdyn.x frequencies (THz) on the band path (labelled), from the same force "
            "constants as the DOS run: the q-points and modes of phonon_linewidths.",
        )
        spec.output(
            "phonon_linewidths",
            valid_type=orm.ArrayData,
            required=False,
            help="Electron-phonon linewidths on the band path, rows = q-points of phonon_bands, "
            "columns = modes: linewidths_ghz and lambda_qnu at the chosen broadening, "
            "frequencies_cm1, linewidths_all_broadenings_ghz (nsigma, nq, nmodes), broadenings_ry.",
        )
        spec.output(
            "dynamical_matrices",
            valid_type=orm.FolderData,
            required=False,
            help="ph.x's own dynamical matrices (dyn0..dynN), when DFPT ran here.",
        )
        spec.output(
            "ph_remote_folder",
            valid_type=orm.RemoteData,
            help="ph.x working folder (DYN_MAT/, elph_dir/ gamma matrices) for a later run with "
            "given dynamical_matrices.",
        )
        spec.exit_code(
            401, "ERROR_SUB_PROCESS_FAILED_SCF_DENSE", message="The dense-k (la2F) scf failed."
        )
        spec.exit_code(
            402, "ERROR_SUB_PROCESS_FAILED_SCF", message="The scf on the phonon k-mesh failed."
        )
        spec.exit_code(
            403, "ERROR_SUB_PROCESS_FAILED_PH", message="The electron-phonon ph.x run failed."
        )
        spec.exit_code(405, "ERROR_SUB_PROCESS_FAILED_Q2R", message="q2r.x (la2F) failed.")
        spec.exit_code(406, "ERROR_SUB_PROCESS_FAILED_MATDYN", message="matdyn.x (la2F) failed.")
        spec.exit_code(
            407,
            "ERROR_PARSING_EPC",
            message="The a2F.dosN / lambda files of matdyn.x could not be read: {message}",
        )
        spec.exit_code(
            408,
            "ERROR_ELIASHBERG",
            message="The Eliashberg calcfunction failed: {message}",
        )
        spec.exit_code(
            409,
            "ERROR_SUB_PROCESS_FAILED_Q2R_GIVEN",
            message="q2r.x on the given dynamical matrices failed.",
        )

    @staticmethod
    def validate_inputs(value, _):
        """Either the scf namespaces (DFPT here) or parent_ph_folder with dynamical_matrices; given
        matrices must lie on the electron-phonon q-mesh."""
        if "parent_ph_folder" in value:
            if "dynamical_matrices" not in value:
                return "`parent_ph_folder` is only used with `dynamical_matrices`"
            error = _validate_parent_ph_folder(value["parent_ph_folder"])
            if error:
                return error
        else:
            for namespace in ("scf_dense", "scf"):
                if "parameters" not in value.get(namespace, {}).get("pw", {}):
                    return f"`{namespace}` inputs are required unless `parent_ph_folder` is given"
        ph_parameters = value["ph"]["ph"]["parameters"].get_dict().get("INPUTPH", {})
        if ph_parameters.get("electron_phonon") != "interpolated":
            return "ph.parameters.INPUTPH.electron_phonon must be 'interpolated'"
        if not ph_parameters.get("fildvscf"):
            return (
                "ph.parameters.INPUTPH.fildvscf must be set (ph.x: 'El-ph needs a DeltaVscf file')"
            )
        nsigma = int(ph_parameters.get("el_ph_nsigma", 10))
        if not 2 <= nsigma <= MAX_EL_PH_NSIGMA:
            return f"el_ph_nsigma must lie in 2..{MAX_EL_PH_NSIGMA}, got {nsigma}"
        matdyn = value["matdyn"]["matdyn"].get("parameters")
        flags = matdyn.get_dict().get("INPUT", {}) if matdyn is not None else {}
        if not (flags.get("la2f") and flags.get("dos")):
            return "matdyn.parameters.INPUT needs la2f and dos set to True"
        q2r = value["q2r"]["q2r"].get("parameters")
        if q2r is None or not q2r.get_dict().get("INPUT", {}).get("la2f"):
            return "q2r.parameters.INPUT needs la2f set to True"
        if "dynamical_matrices" in value:
            return _validate_given_mesh(value)

    @classmethod
    def get_protocol_filepath(cls) -> pathlib.Path:
        return pathlib.Path(__file__).parent / "protocols" / "epc.yaml"

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict[str, orm.AbstractCode | str],
        structure: orm.StructureData,
        protocol: str | None = None,
        overrides: dict | None = None,
        pseudo_family: str = SHIPPED_FAMILY_LABEL,
        num_mpiprocs: int = 1,
        dynamical_matrices: orm.FolderData | None = None,
        parent_ph_folder: orm.RemoteData | None = None,
    ):
        """A builder filled from the ``fast``/``balanced``/``stringent`` protocol.

        :param codes: codes for ``pw``, ``ph``, ``q2r`` and ``matdyn`` (nodes or labels).
        :param overrides: nested overrides of this protocol's keys (``kpoints_mesh``,
            ``dense_kpoints_mesh``, ``qpoints_mesh``, ``dos_qpoints_mesh``, ``el_ph_sigma_ry``,
            ``el_ph_nsigma``, ``mustar``, ``compute_linewidths``, ``bands_npoints``, ...) and of the sub-builders (``scf_dense``, ``scf``,
            ``ph``, ``q2r``, ``matdyn`` as in aiida-quantumespresso).
        :param dynamical_matrices: use these matrices' phonons (e.g. anharmonic ones) with the
            electron-phonon gamma matrices of ph.x; on the electron-phonon q-mesh.
        :param parent_ph_folder: reuse an earlier run's ph.x folder instead of running DFPT here.
        """
        missing = {"pw", "ph", "q2r", "matdyn"} - set(codes)
        if missing:
            raise ValueError(f"codes missing for: {sorted(missing)}")
        if parent_ph_folder is not None and dynamical_matrices is None:
            raise ValueError("parent_ph_folder needs dynamical_matrices")
        codes = {
            key: orm.load_code(code) if isinstance(code, str) else code
            for key, code in codes.items()
        }
        protocol = protocol or cls.get_default_protocol()
        inputs = cls.get_protocol_inputs(protocol, overrides)
        validate_meshes(
            inputs["kpoints_mesh"], inputs["dense_kpoints_mesh"], inputs["qpoints_mesh"]
        )
        nsigma = int(inputs["el_ph_nsigma"])
        if not 2 <= nsigma <= MAX_EL_PH_NSIGMA:
            raise ValueError(f"el_ph_nsigma must lie in 2..{MAX_EL_PH_NSIGMA}, got {nsigma}")
        if dynamical_matrices is not None:
            given = dynamical_matrices.base.attributes.get("qpoints_mesh", None)
            if given is not None and list(given) != list(inputs["qpoints_mesh"]):
                raise ValueError(
                    f"dynamical_matrices are on the q-mesh {given}, not {inputs['qpoints_mesh']}"
                )
        options = calcjob_options(num_mpiprocs)

        builder = cls.get_builder()
        builder.structure = structure
        builder.mustar = orm.List([float(m) for m in inputs["mustar"]])
        builder.plateau_tolerance = orm.Float(inputs["plateau_tolerance"])
        builder.compute_linewidths = orm.Bool(inputs["compute_linewidths"])
        builder.bands_npoints = orm.Int(inputs["bands_npoints"])
        if "eliashberg_settings" in inputs:
            builder.eliashberg_settings = orm.Dict(inputs["eliashberg_settings"])

        if parent_ph_folder is None:
            family = load_family(pseudo_family)
            ecutwfc, ecutrho = recommended_cutoffs_ry(family, structure, protocol)
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
            for namespace, mesh, extra in (
                ("scf_dense", inputs["dense_kpoints_mesh"], {"SYSTEM": {"la2f": True}}),
                ("scf", inputs["kpoints_mesh"], {"ELECTRONS": {"startingpot": "file"}}),
            ):
                scf_overrides = recursive_merge(pw_overrides, {"pw": {"parameters": extra}})
                scf_builder = PwBaseWorkChain.get_builder_from_protocol(
                    codes["pw"],
                    structure,
                    protocol,
                    overrides=recursive_merge(scf_overrides, inputs.get(namespace, {})),
                    options=options,
                    electronic_type=ElectronicType.METAL,
                )
                scf_builder.pop("kpoints_distance", None)
                scf_builder.kpoints = kpoints_mesh(mesh)
                scf_builder.pw.pop("structure", None)
                scf_builder.pop("clean_workdir", None)
                builder[namespace] = scf_builder

        ph_overrides = recursive_merge(
            {
                "ph": {
                    "parameters": {
                        "INPUTPH": {
                            "tr2_ph": inputs["tr2_ph"],
                            "nmix_ph": inputs["nmix_ph"],
                            "electron_phonon": "interpolated",
                            "fildvscf": "dvscf",
                            "el_ph_sigma": inputs["el_ph_sigma_ry"],
                            "el_ph_nsigma": nsigma,
                        }
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
        builder.q2r.q2r.parameters = orm.Dict(
            {"INPUT": {"zasr": "crystal", "la2f": True, "el_ph_nsigma": nsigma}}
        )
        builder.q2r.q2r.metadata.options = options
        builder.matdyn.matdyn.code = codes["matdyn"]
        builder.matdyn.matdyn.parameters = orm.Dict(
            {
                "INPUT": {
                    "asr": "crystal",
                    "la2f": True,
                    "dos": True,
                    "ndos": int(inputs["ndos"]),
                    "el_ph_nsigma": nsigma,
                }
            }
        )
        builder.matdyn.matdyn.kpoints = kpoints_mesh(inputs["dos_qpoints_mesh"])
        builder.matdyn.matdyn.metadata.options = options
        if dynamical_matrices is not None:
            builder.dynamical_matrices = dynamical_matrices
        if parent_ph_folder is not None:
            builder.parent_ph_folder = parent_ph_folder
        kind = "given matrices" if dynamical_matrices is not None else "harmonic"
        builder.metadata.label = f"epc {structure.get_formula()} ({kind})"
        builder.metadata.description = f"protocol={protocol}, {len(structure.sites)} atoms"
        return builder

    def setup(self):
        self.ctx.ph_folder = self.inputs.get("parent_ph_folder")
        if not self.should_use_given_matrices():
            self.report("branch: harmonic (phonons and gamma matrices from the ph.x run here)")
            return
        matrices = self.inputs.dynamical_matrices
        mesh = "x".join(str(n) for n in given_matrices_qpoints_mesh(matrices))
        if self.ctx.ph_folder is None:
            source = "the ph.x run here"
        else:
            source = (
                f"PhCalculation<{self.ctx.ph_folder.creator.pk}> (parent_ph_folder "
                f"RemoteData<{self.ctx.ph_folder.pk}>); scf and DFPT skipped"
            )
        self.report(
            f"branch: GIVEN dynamical matrices FolderData<{matrices.pk}> (q-mesh {mesh}): phonons "
            f"from them, electron-phonon gamma matrices from {source}"
        )

    def should_run_dfpt(self) -> bool:
        return "parent_ph_folder" not in self.inputs

    def should_use_given_matrices(self) -> bool:
        return "dynamical_matrices" in self.inputs

    def run_scf_dense(self):
        inputs = AttributeDict(self.exposed_inputs(PwBaseWorkChain, namespace="scf_dense"))
        inputs.pw.structure = self.inputs.structure
        inputs.metadata.call_link_label = "scf_dense"
        node = self.submit(PwBaseWorkChain, **inputs)
        self.report(f"step 1/6 scf (dense k, la2F): launched PwBaseWorkChain<{node.pk}>")
        return ToContext(scf_dense=node)

    def inspect_scf_dense(self):
        node = self.ctx.scf_dense
        if not node.is_finished_ok:
            self.report(f"dense scf PwBaseWorkChain<{node.pk}> failed: {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_SCF_DENSE

    def run_scf(self):
        inputs = AttributeDict(self.exposed_inputs(PwBaseWorkChain, namespace="scf"))
        inputs.pw.structure = self.inputs.structure
        inputs.pw.parent_folder = self.ctx.scf_dense.outputs.remote_folder
        # ph.x checks that a2Fsave has as many bands as the scf it reads: use the dense run's.
        nbnd = self.ctx.scf_dense.outputs.output_parameters.get("number_of_bands")
        parameters = inputs.pw.parameters.get_dict()
        parameters.setdefault("SYSTEM", {})["nbnd"] = int(nbnd)
        inputs.pw.parameters = orm.Dict(parameters)
        inputs.metadata.call_link_label = "scf"
        node = self.submit(PwBaseWorkChain, **inputs)
        self.report(
            f"step 2/6 scf (phonon k-mesh, from the dense run's folder, nbnd={nbnd}): "
            f"launched PwBaseWorkChain<{node.pk}>"
        )
        return ToContext(scf=node)

    def inspect_scf(self):
        node = self.ctx.scf
        if not node.is_finished_ok:
            self.report(f"scf PwBaseWorkChain<{node.pk}> failed: {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_SCF

    def run_ph(self):
        inputs = AttributeDict(self.exposed_inputs(PhBaseWorkChain, namespace="ph"))
        inputs.ph.parent_folder = self.ctx.scf.outputs.remote_folder
        inputs.metadata.call_link_label = "ph"
        node = self.submit(PhBaseWorkChain, **inputs)
        self.report(f"step 3/6 ph.x (electron_phonon='interpolated'): launched <{node.pk}>")
        return ToContext(ph=node)

    def inspect_ph(self):
        node = self.ctx.ph
        if not node.is_finished_ok:
            self.report(f"PhBaseWorkChain<{node.pk}> failed with exit status {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_PH
        self.ctx.ph_folder = node.outputs.remote_folder

    def run_q2r(self):
        inputs = AttributeDict(self.exposed_inputs(Q2rBaseWorkChain, namespace="q2r"))
        inputs.q2r.parent_folder = self.ctx.ph_folder
        inputs.metadata.call_link_label = "q2r"
        node = self.submit(Q2rBaseWorkChain, **inputs)
        self.report(
            f"step 4/6 q2r.x (la2F) on ph.x's matrices, gamma matrices to real space "
            f"(elph_dir/a2Fmatdyn.*): launched Q2rBaseWorkChain<{node.pk}>"
        )
        if not self.should_use_given_matrices():
            return ToContext(q2r=node)
        parent = dynamical_matrices_for_q2r(
            self.inputs.dynamical_matrices, metadata={"call_link_label": "given_dyn_for_q2r"}
        )
        given = AttributeDict(self.exposed_inputs(Q2rBaseWorkChain, namespace="q2r"))
        parameters = given.q2r.parameters.get_dict()
        parameters["INPUT"]["la2f"] = False
        given.q2r.parameters = orm.Dict(parameters)
        given.q2r.parent_folder = parent
        given.metadata.call_link_label = "q2r_given"
        given_node = self.submit(Q2rBaseWorkChain, **given)
        self.report(
            f"step 4/6 q2r.x on the GIVEN dynamical matrices (force constants for matdyn.x): "
            f"launched Q2rBaseWorkChain<{given_node.pk}>"
        )
        return ToContext(q2r=node, q2r_given=given_node)

    def inspect_q2r(self):
        node = self.ctx.q2r
        if not node.is_finished_ok:
            self.report(f"Q2rBaseWorkChain<{node.pk}> failed with exit status {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_Q2R
        if self.should_use_given_matrices():
            given = self.ctx.q2r_given
            if not given.is_finished_ok:
                self.report(
                    f"q2r.x on the given matrices, Q2rBaseWorkChain<{given.pk}>, failed with exit "
                    f"status {given.exit_status}"
                )
                return self.exit_codes.ERROR_SUB_PROCESS_FAILED_Q2R_GIVEN

    def run_matdyn(self):
        inputs = AttributeDict(self.exposed_inputs(MatdynBaseWorkChain, namespace="matdyn"))
        phonons = self.ctx.q2r_given if self.should_use_given_matrices() else self.ctx.q2r
        inputs.matdyn.force_constants = phonons.outputs.force_constants
        inputs.matdyn.parent_folder = self.ctx.q2r.outputs.remote_folder
        inputs.metadata.call_link_label = "matdyn"
        node = self.submit(MatdynBaseWorkChain, **inputs)
        kind = "GIVEN" if self.should_use_given_matrices() else "ph.x's"
        self.report(
            f"step 5/6 matdyn.x (la2F, dos): force constants of {kind} matrices "
            f"(Q2rBaseWorkChain<{phonons.pk}>), gamma matrices of Q2rBaseWorkChain<"
            f"{self.ctx.q2r.pk}>: launched MatdynBaseWorkChain<{node.pk}>"
        )
        launched = {"matdyn": node}
        if self.inputs.compute_linewidths.value:
            path = self._run_matdyn_linewidths(AttributeDict(inputs))
            launched["matdyn_linewidths"] = path
            self.report(
                f"step 5/6 matdyn.x (la2F, dos=.false.) on the band path "
                f"({self.inputs.bands_npoints.value} q-points), same force constants and gamma "
                f"matrices: launched MatdynBaseWorkChain<{path.pk}> (linewidths)"
            )
        return ToContext(**launched)

    def _run_matdyn_linewidths(self, inputs: AttributeDict):
        """matdyn.x with la2F on the band path: gam.lines and elph.gamma.N retrieved."""
        parameters = inputs.matdyn.parameters.get_dict()
        flags = parameters["INPUT"]
        flags["dos"] = False
        flags.pop("ndos", None)
        inputs.matdyn.parameters = orm.Dict(parameters)
        inputs.matdyn.kpoints = phonon_band_path(
            self.inputs.structure,
            self.inputs.bands_npoints,
            metadata={"call_link_label": "linewidths_band_path"},
        )
        options = dict(inputs.matdyn.metadata.get("options", {}))
        extra = list(options.get("additional_retrieve_list", []))
        options["additional_retrieve_list"] = extra + retrieve_names(
            int(flags.get("el_ph_nsigma", 10))
        )
        inputs.matdyn.metadata = {**inputs.matdyn.metadata, "options": options}
        inputs.metadata = {**inputs.get("metadata", {}), "call_link_label": "matdyn_linewidths"}
        return self.submit(MatdynBaseWorkChain, **inputs)

    def inspect_matdyn(self):
        node = self.ctx.matdyn
        if not node.is_finished_ok:
            self.report(f"MatdynBaseWorkChain<{node.pk}> failed: {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_MATDYN
        path = self.ctx.get("matdyn_linewidths")
        if path is not None and not path.is_finished_ok:
            self.report(
                f"linewidths on the band path: MatdynBaseWorkChain<{path.pk}> failed "
                f"({path.exit_status}); no phonon_bands/phonon_linewidths outputs, Tc unaffected"
            )
            self.ctx.matdyn_linewidths = None

    def parse(self):
        given = (
            {"broadening_index": self.inputs.broadening_index}
            if "broadening_index" in self.inputs
            else {}
        )
        results, node = parse_epc_outputs.run_get_node(
            self.ctx.matdyn.outputs.retrieved,
            self.inputs.plateau_tolerance,
            **given,
            metadata={"call_link_label": "parse_epc"},
        )
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_PARSING_EPC.format(message=node.exit_message)
        summary = results["summary"]
        self.ctx.epc = results
        rows = "; ".join(
            f"{row['broadening_ry']:.3f} Ry: {row['lambda_qe']:.4f}"
            for row in summary["broadenings"]
        )
        chosen = summary["broadenings"][summary["chosen_index"] - 1]
        if chosen.get("negative_lambda_removed", 0.0) < 0.0:
            self.report(
                "WARNING: matdyn.x's alpha^2F had negative parts (interpolated linewidths on a "
                f"coarse q-mesh); set to zero, removing {chosen['negative_lambda_removed']:.4f} "
                "from lambda at the chosen broadening: converge the q-mesh before trusting Tc"
            )
        plateau = "plateau" if summary["plateau_found"] else "NO plateau, smallest change"
        if summary.get("broadening_given"):
            plateau = (
                f"given; the plateau rule would take broadening {summary['plateau_rule_index']}"
            )
        self.report(f"lambda per broadening: {rows}")
        self.report(
            f"chosen broadening {summary['broadening_ry']:.3f} Ry ({plateau}): lambda = "
            f"{summary['lambda']:.4f} (QE), {summary['lambda_from_a2f']:.4f} (from alpha^2F)"
        )
        self._parse_linewidths(node.outputs.summary)

    def _parse_linewidths(self, summary: orm.Dict) -> None:
        """Linewidths of the band-path run at the chosen broadening; a failure is reported only."""
        path = self.ctx.get("matdyn_linewidths")
        if path is None:
            return
        bands = path.outputs.output_phonon_bands
        linewidths, node = parse_epc_linewidths.run_get_node(
            path.outputs.retrieved,
            bands,
            summary,
            metadata={"call_link_label": "parse_linewidths"},
        )
        if not node.is_finished_ok:
            self.report(
                f"linewidths on the band path not parsed ({node.exit_message}); no "
                "phonon_bands/phonon_linewidths outputs, Tc unaffected"
            )
            return
        self.ctx.linewidths = {"phonon_bands": bands, "phonon_linewidths": linewidths}
        widths = linewidths.get_array("linewidths_ghz")
        self.report(
            f"linewidths on the band path ({widths.shape[0]} q-points x {widths.shape[1]} modes) "
            f"at {linewidths.base.attributes.get('broadening_ry'):.3f} Ry: "
            f"{widths.min():.3f} .. {widths.max():.3f} GHz"
        )

    def run_eliashberg(self):
        label = self.ctx.epc["summary"]["chosen_label"]
        results, node = eliashberg.run_get_node(
            self.ctx.epc[label],
            self.inputs.mustar,
            self.inputs.eliashberg_settings,
            metadata={"call_link_label": "eliashberg"},
        )
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ELIASHBERG.format(message=node.exit_message)
        self.ctx.eliashberg = results
        tcs = ", ".join(
            f"mu*={m:.2f}: {t:.2f} K"
            for m, t in zip(
                results["result"]["mustar"], results["result"]["tc_eliashberg_kelvin"], strict=True
            )
        )
        self.report(f"step 6/6 Eliashberg: Tc {tcs}")

    def results(self):
        summary = self.ctx.epc["summary"]
        label = summary["chosen_label"]
        self.out("alpha2f", self.ctx.epc[label])
        for key, node in self.ctx.epc.items():
            if key.startswith("broadening_"):
                self.out(f"alpha2f_broadenings.{key}", node)
        self.out("epc_summary", summary)
        self.out("eliashberg", self.ctx.eliashberg["result"])
        self.out("gap_curve", self.ctx.eliashberg["gap_curve"])
        if "output_phonon_dos" in self.ctx.matdyn.outputs:
            self.out("phonon_dos", self.ctx.matdyn.outputs.output_phonon_dos)
        for name, output in self.ctx.get("linewidths", {}).items():
            self.out(name, output)
        if "ph" in self.ctx:
            self.out(
                "dynamical_matrices", extract_dynamical_matrices(self.ctx.ph.outputs.retrieved)
            )
        self.out("ph_remote_folder", self.ctx.ph_folder)

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
