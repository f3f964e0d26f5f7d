"""``DfptWorkChain`` (``clathrate.dfpt``): the one density-functional perturbation theory layer.

[pw.x scf on a dense k-mesh with ``la2F``, for electron-phonon coupling] -> pw.x scf on the phonon
k-mesh -> ph.x on the q-mesh, each irreducible q-point as its own ``PhBaseWorkChain``
(``start_q = last_q``, at most ``max_concurrent_qpoints`` at a time, on the shared scf) -> the
q-points' dynamical matrices (and gamma matrices) gathered into one folder -> q2r.x -> matdyn.x
on the band path and on the DOS mesh.

``HarmonicPhononWorkChain`` runs it for phonons, ``ElectronPhononWorkChain`` with
``electron_phonon`` for alpha^2F and linewidths, and a compound runs it once for both. Given
dynamical matrices (``dynamical_matrices``, e.g. the SSCHA's) with the real-space gamma matrices of
an earlier electron-phonon run (``parent_elph_folder``) skip the scf and ph.x steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_, while_
from aiida_quantumespresso.workflows.matdyn.base import MatdynBaseWorkChain
from aiida_quantumespresso.workflows.ph.base import PhBaseWorkChain
from aiida_quantumespresso.workflows.pw.base import PwBaseWorkChain

from ..calculations.epc_functions import dynamical_matrices_for_q2r
from ..calculations.epc_linewidths import retrieve_names
from ..calculations.phonon_functions import (
    extract_dynamical_matrices,
    gather_qpoint_outputs,
    phonon_band_path,
)
from ..calculations.q2r import ELPH_FOLDER, GatheredQ2rBaseWorkChain
from ..limits import mesh_error
from ..validators import set_code_plugins
from .common import (
    PARALLEL_FLAGS,
    apply_shared_cores,
    calcjob_options,
    clean_called_workdirs,
    failure,
    kpoint_pools,
    kpoints_mesh,
    parallelisation,
)
from .pw_inputs import merged, pw_base_inputs, pw_overrides

#: INPUTPH keys that switch on QE's interpolated electron-phonon coupling (the Wierzbowska method).
ELPH_INPUTPH_KEYS = ("electron_phonon", "fildvscf", "el_ph_sigma", "el_ph_nsigma")
#: aiida-quantumespresso's MatdynCalculation retrieves a2F.dos1..a2F.dos10 only.
MAX_EL_PH_NSIGMA = 10


def _namespace_given(value: dict, namespace: str, leaf: tuple[str, ...]) -> bool:
    node = value.get(namespace, {})
    for key in leaf:
        node = node.get(key, {}) if hasattr(node, "get") else {}
    return bool(node)


def electron_phonon_inputph_error(inputph: dict[str, Any], where: str = "ph") -> str | None:
    """Why ph.x's INPUTPH cannot give the interpolated electron-phonon gamma matrices, or None;
    ``where`` names the ph namespace in the message."""
    if inputph.get("electron_phonon") != "interpolated":
        return f"{where}.parameters.INPUTPH.electron_phonon must be 'interpolated'"
    if not inputph.get("fildvscf"):
        return f"{where}.parameters.INPUTPH.fildvscf must be set (ph.x: 'El-ph needs a DeltaVscf file')"
    nsigma = int(inputph.get("el_ph_nsigma", 10))
    if not 2 <= nsigma <= MAX_EL_PH_NSIGMA:
        return f"el_ph_nsigma must lie in 2..{MAX_EL_PH_NSIGMA}, got {nsigma}"
    return None


def with_retrieved(metadata: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """CalcJob ``metadata`` with ``names`` added to ``options.additional_retrieve_list``."""
    options = dict(metadata.get("options", {}))
    options["additional_retrieve_list"] = list(options.get("additional_retrieve_list", [])) + names
    return {**metadata, "options": options}


def validate_parent_elph_folder(folder: orm.RemoteData) -> str | None:
    """An error unless ``folder`` is the working folder of a q2r.x run with ``la2F``."""
    creator = folder.creator
    if creator is None or "q2r" not in (creator.process_type or ""):
        return f"`parent_elph_folder` RemoteData<{folder.pk}> is not the folder of a q2r.x run"
    if not creator.inputs.parameters.get_dict().get("INPUT", {}).get("la2f"):
        return (
            f"`parent_elph_folder`: q2r.x calculation<{creator.pk}> ran without la2F, so it wrote "
            "no elph_dir/a2Fmatdyn.* gamma matrices"
        )
    return None


#: The k- and q-meshes of the DFPT inputs, as (port path, name in messages).
MESH_PORTS = (
    (("scf_dense", "kpoints"), "scf_dense.kpoints"),
    (("scf", "kpoints"), "scf.kpoints"),
    (("ph", "qpoints"), "ph.qpoints"),
    (("dos_qpoints",), "dos_qpoints"),
)


def meshes_error(inputs) -> str | None:
    """Why a k- or q-mesh among the inputs is not three positive integers (a mesh set by hand,
    e.g. ``set_kpoints_mesh([0, 0, 0])``, passes aiida-core), or None."""
    for path, name in MESH_PORTS:
        node = inputs
        for key in path:
            node = node.get(key) if hasattr(node, "get") else None
            if node is None:
                break
        if node is None or "mesh" not in node.base.attributes.keys():
            continue
        mesh, _ = node.get_kpoints_mesh()
        error = mesh_error(name, list(mesh))
        if error:
            return error
    return None


class DfptWorkChain(WorkChain):
    """Phonons (and electron-phonon gamma matrices) on a q-mesh, q-points as parallel ph.x jobs."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("structure", valid_type=orm.StructureData)
        spec.input(
            "electron_phonon",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(False),
            help="Also compute the electron-phonon gamma matrices (needs `scf_dense` with la2F "
            "and ph.x's electron_phonon='interpolated'); q2r.x then runs with la2F and the "
            "`elph_folder` output holds them in real space.",
        )
        spec.input(
            "split_qpoints",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="Run each irreducible q-point as its own ph.x job (False: one ph.x for all).",
        )
        spec.input(
            "max_concurrent_qpoints",
            valid_type=orm.Int,
            default=lambda: orm.Int(4),
            validator=lambda value, _ctx=None: (
                None if value.value >= 1 else "max_concurrent_qpoints must be at least 1"
            ),
            help="At most this many q-point ph.x jobs run at the same time.",
        )
        spec.input(
            "compute_bands",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="Run matdyn.x on the band path (phonon_bands; with la2F also the linewidths).",
        )
        spec.input(
            "bands_optional",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(False),
            help="A failed band-path matdyn.x is reported and its outputs left out, not an error.",
        )
        spec.input("bands_npoints", valid_type=orm.Int, default=lambda: orm.Int(120))
        spec.input("dos_qpoints", valid_type=orm.KpointsData, help="matdyn.x DOS mesh.")
        spec.input(
            "dynamical_matrices",
            valid_type=orm.FolderData,
            required=False,
            help="Given dynamical matrices (dyn0..dynN with attributes prefix, nqirr, "
            "qpoints_mesh): no scf or ph.x here, q2r.x and matdyn.x run on them.",
        )
        spec.input(
            "parent_elph_folder",
            valid_type=orm.RemoteData,
            required=False,
            help="`elph_folder` of an earlier electron-phonon run (q2r.x with la2F): matdyn.x "
            "with la2F projects its gamma matrices on the phonons of `dynamical_matrices`.",
        )
        spec.input("clean_workdir", valid_type=orm.Bool, default=lambda: orm.Bool(False))
        optional = {"required": False, "populate_defaults": False}
        spec.expose_inputs(
            PwBaseWorkChain,
            namespace="scf_dense",
            exclude=("pw.structure", "clean_workdir"),
            namespace_options={**optional, "help": "Dense-k scf with la2F (electron_phonon)."},
        )
        spec.expose_inputs(
            PwBaseWorkChain,
            namespace="scf",
            exclude=("pw.structure", "pw.parent_folder", "clean_workdir"),
            namespace_options={**optional, "help": "scf on the phonon k-mesh."},
        )
        spec.expose_inputs(
            PhBaseWorkChain,
            namespace="ph",
            exclude=("ph.parent_folder", "clean_workdir"),
            namespace_options={**optional, "help": "ph.x on `qpoints` (a mesh)."},
        )
        spec.expose_inputs(
            GatheredQ2rBaseWorkChain,
            namespace="q2r",
            exclude=("q2r.parent_folder", "clean_workdir"),
        )
        spec.expose_inputs(
            MatdynBaseWorkChain,
            namespace="matdyn",
            exclude=(
                "matdyn.force_constants",
                "matdyn.kpoints",
                "matdyn.parent_folder",
                "clean_workdir",
            ),
        )
        for path, plugins in (
            ("scf_dense.pw.code", ("quantumespresso.pw",)),
            ("scf.pw.code", ("quantumespresso.pw",)),
            ("ph.ph.code", ("quantumespresso.ph",)),
            ("q2r.q2r.code", ("quantumespresso.q2r", "clathrate.q2r")),
            ("matdyn.matdyn.code", ("quantumespresso.matdyn",)),
        ):
            set_code_plugins(spec.inputs, path, *plugins)
        spec.inputs.validator = cls.validate_inputs
        spec.outline(
            cls.setup,
            if_(cls.should_run_dfpt)(
                if_(cls.should_run_scf_dense)(cls.run_scf_dense, cls.inspect_scf_dense),
                cls.run_scf,
                cls.inspect_scf,
                if_(cls.should_split_qpoints)(cls.run_ph_init, cls.inspect_ph_init),
                while_(cls.has_pending_qpoints)(cls.run_ph_batch, cls.inspect_ph_batch),
                cls.gather,
            ),
            cls.run_q2r,
            cls.inspect_q2r,
            cls.run_matdyn,
            cls.inspect_matdyn,
            if_(cls.should_rerun_dos)(cls.rerun_matdyn_dos, cls.inspect_matdyn),
            cls.results,
        )
        spec.output(
            "dynamical_matrices",
            valid_type=orm.FolderData,
            help="dyn0..dynN (python-sscha's `Phonons(prefix, nqirr)` layout): ph.x's or the given.",
        )
        spec.output("force_constants", valid_type=orm.SinglefileData)
        spec.output(
            "phonon_bands",
            valid_type=orm.BandsData,
            required=False,
            help="matdyn.x frequencies (THz) on the labelled band path.",
        )
        spec.output("phonon_dos", valid_type=orm.XyData, required=False)
        spec.output(
            "alpha2f_files",
            valid_type=orm.FolderData,
            required=False,
            help="matdyn.x (la2F, dos) files on the DOS mesh: a2F.dosN, lambda.",
        )
        spec.output(
            "linewidth_files",
            valid_type=orm.FolderData,
            required=False,
            help="matdyn.x (la2F) files on the band path: gam.lines, elph.gamma.N.",
        )
        spec.output(
            "elph_folder",
            valid_type=orm.RemoteData,
            required=False,
            help="Working folder of q2r.x with la2F (elph_dir/a2Fmatdyn.*): the gamma matrices "
            "in real space, for a later run with given dynamical matrices.",
        )
        spec.exit_code(401, "ERROR_SUB_PROCESS_FAILED_SCF_DENSE", message="The la2F scf failed.")
        spec.exit_code(402, "ERROR_SUB_PROCESS_FAILED_SCF", message="The scf failed.")
        spec.exit_code(403, "ERROR_SUB_PROCESS_FAILED_PH", message="A ph.x job failed: {message}")
        spec.exit_code(404, "ERROR_SUB_PROCESS_FAILED_Q2R", message="q2r.x failed.")
        spec.exit_code(
            405,
            "ERROR_SUB_PROCESS_FAILED_MATDYN_BANDS",
            message="matdyn.x on the band path failed.",
        )
        spec.exit_code(
            406, "ERROR_SUB_PROCESS_FAILED_MATDYN_DOS", message="matdyn.x on the DOS mesh failed."
        )
        spec.exit_code(300, "ERROR_INVALID_INPUTS", message="Invalid inputs: {message}")
        spec.exit_code(
            407, "ERROR_GATHERING_QPOINTS", message="Gathering the q-point jobs failed: {message}"
        )

    @staticmethod
    def validate_inputs(value, _ctx=None) -> str | None:
        """DFPT inputs (scf, ph) or given matrices; electron-phonon inputs that fit together."""
        given = "dynamical_matrices" in value
        error = meshes_error(value)
        if error:
            return error
        if "parent_elph_folder" in value:
            if not given:
                return "`parent_elph_folder` is only used with `dynamical_matrices`"
            error = validate_parent_elph_folder(value["parent_elph_folder"])
            if error:
                return error
        if _namespace_given(value, "ph", ("ph", "parameters")):
            qpoints = value["ph"].get("qpoints")
            if qpoints is None or "mesh" not in qpoints.base.attributes.keys():
                return "`ph.qpoints` must be a q-mesh"
        electron_phonon = value.get("electron_phonon")
        if electron_phonon is not None and electron_phonon.value and not given:
            if not _namespace_given(value, "scf_dense", ("pw", "parameters")):
                return "`electron_phonon` needs the `scf_dense` inputs (pw.x with la2F)"
            if not _namespace_given(value, "ph", ("ph", "parameters")):
                return "`electron_phonon` needs the `ph` inputs"
            system = value["scf_dense"]["pw"]["parameters"].get_dict().get("SYSTEM", {})
            if not system.get("la2f"):
                return "`scf_dense.pw.parameters.SYSTEM.la2f` must be True"
            inputph = value["ph"]["ph"]["parameters"].get_dict().get("INPUTPH", {})
            return electron_phonon_inputph_error(inputph)
        return None

    def _inputs_error(self) -> str | None:
        """What the port validator cannot check when these inputs are exposed in another work
        chain's namespace, where some ports are set only at run time."""
        if self.should_run_dfpt():
            for namespace, port in (("scf", "pw"), ("ph", "ph")):
                if "parameters" not in self.inputs.get(namespace, {}).get(port, {}):
                    return (
                        f"`{namespace}` inputs are required unless `dynamical_matrices` are given"
                    )
        matdyn = self.inputs.matdyn.matdyn.get("parameters")
        if matdyn is not None and matdyn.get_dict().get("INPUT", {}).get("la2f"):
            elph = self.inputs.electron_phonon.value and self.should_run_dfpt()
            if not elph and "parent_elph_folder" not in self.inputs:
                return (
                    "matdyn.x with la2F needs gamma matrices: `electron_phonon` (DFPT here) or "
                    "`dynamical_matrices` with `parent_elph_folder`"
                )
        return None

    # ---- steps ------------------------------------------------------------------------
    def setup(self):
        error = self._inputs_error()
        if error:
            return self._fail(self.exit_codes.ERROR_INVALID_INPUTS, message=error)
        self.ctx.qpoint_jobs = []  # context keys ``ph_job_<key>`` of the ph.x work chains
        if self.should_run_dfpt():
            mesh = [int(n) for n in self.inputs.ph.qpoints.get_kpoints_mesh()[0]]
            split = self.inputs.split_qpoints.value and mesh != [1, 1, 1]
            # one ph.x run over the whole mesh, or the q-point list first (inspect_ph_init)
            self.ctx.pending_qpoints = [] if split else [None]
            kind = "phonons and electron-phonon" if self.inputs.electron_phonon.value else "phonons"
            self.report(f"DFPT ({kind}) on the {'x'.join(map(str, mesh))} q-mesh")
        else:
            self.report(
                f"given dynamical matrices FolderData<{self.inputs.dynamical_matrices.pk}>: no "
                "scf or ph.x, q2r.x and matdyn.x on them"
            )
        return None

    def should_run_dfpt(self) -> bool:
        return "dynamical_matrices" not in self.inputs

    def should_run_scf_dense(self) -> bool:
        return self.inputs.electron_phonon.value

    def should_split_qpoints(self) -> bool:
        """Split unless asked not to or the mesh is Gamma only (one q-point, one job anyway)."""
        return self.ctx.pending_qpoints != [None]

    def run_scf_dense(self):
        inputs = AttributeDict(self.exposed_inputs(PwBaseWorkChain, namespace="scf_dense"))
        inputs.pw.structure = self.inputs.structure
        inputs.metadata.call_link_label = "scf_dense"
        node = self.submit(PwBaseWorkChain, **inputs)
        self.report(f"scf on the dense k-mesh (la2F): launched PwBaseWorkChain<{node.pk}>")
        return ToContext(scf_dense=node)

    def inspect_scf_dense(self):
        node = self.ctx.scf_dense
        if not node.is_finished_ok:
            self.report(f"la2F scf PwBaseWorkChain<{node.pk}> failed: {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_SCF_DENSE
        return None

    def run_scf(self):
        inputs = AttributeDict(self.exposed_inputs(PwBaseWorkChain, namespace="scf"))
        inputs.pw.structure = self.inputs.structure
        detail = ""
        if self.inputs.electron_phonon.value:
            # ph.x reads aiida.a2Fsave from the scf's out/ and needs as many bands as it holds.
            inputs.pw.parent_folder = self.ctx.scf_dense.outputs.remote_folder
            nbnd = int(self.ctx.scf_dense.outputs.output_parameters.get("number_of_bands"))
            parameters = inputs.pw.parameters.get_dict()
            parameters.setdefault("SYSTEM", {})["nbnd"] = nbnd
            parameters.setdefault("ELECTRONS", {})["startingpot"] = "file"
            inputs.pw.parameters = orm.Dict(parameters)
            detail = f" from the la2F run's folder, nbnd={nbnd}"
        inputs.metadata.call_link_label = "scf"
        node = self.submit(PwBaseWorkChain, **inputs)
        self.report(f"scf on the phonon k-mesh{detail}: launched PwBaseWorkChain<{node.pk}>")
        return ToContext(scf=node)

    def inspect_scf(self):
        node = self.ctx.scf
        if not node.is_finished_ok:
            self.report(f"scf PwBaseWorkChain<{node.pk}> failed: {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_SCF
        return None

    def _ph_inputs(
        self, label: str, extra_inputph: dict[str, Any], n_concurrent: int = 1
    ) -> AttributeDict:
        inputs = AttributeDict(self.exposed_inputs(PhBaseWorkChain, namespace="ph"))
        inputs.ph.parent_folder = self.ctx.scf.outputs.remote_folder
        self._parallelise_ph(inputs, n_concurrent)
        parameters = inputs.ph.parameters.get_dict()
        inputph = parameters.setdefault("INPUTPH", {})
        inputph.update(extra_inputph)
        if extra_inputph.get("last_irr") == 0:
            for key in ELPH_INPUTPH_KEYS:  # the q-point list needs no electron-phonon set-up
                inputph.pop(key, None)
        elif self.inputs.electron_phonon.value:
            inputs.ph.metadata = with_retrieved(inputs.ph.metadata, [ELPH_FOLDER])
        inputs.ph.parameters = orm.Dict(parameters)
        inputs.metadata = {**inputs.get("metadata", {}), "call_link_label": label}
        return inputs

    def _parallelise_ph(self, inputs: AttributeDict, n_concurrent: int) -> None:
        """Share the cores between jobs launched together on one machine (``share_cores``) and
        give ph.x k-point pools (``-nk``, :func:`kpoint_pools` of the scf's k-points) unless the
        ``ph.settings`` CMDLINE sets its own parallelisation."""
        nproc = apply_shared_cores(inputs.ph, n_concurrent)
        settings = inputs.ph.settings.get_dict() if "settings" in inputs.ph else {}
        cmdline = list(settings.get("CMDLINE", []))
        if nproc <= 1 or set(cmdline) & set(PARALLEL_FLAGS):
            return
        n_kpoints = int(self.ctx.scf.outputs.output_parameters.get("number_of_k_points", 1))
        pools = kpoint_pools(nproc, n_kpoints)
        if pools > 1:
            settings["CMDLINE"] = [*cmdline, "-nk", str(pools)]
            inputs.ph.settings = orm.Dict(settings)

    def run_ph_init(self):
        inputs = self._ph_inputs("ph_init", {"start_irr": 0, "last_irr": 0})
        node = self.submit(PhBaseWorkChain, **inputs)
        self.report(f"ph.x q-point list (start_irr = last_irr = 0): launched <{node.pk}>")
        return ToContext(ph_init=node)

    def inspect_ph_init(self):
        node = self.ctx.ph_init
        if not node.is_finished_ok:
            return self._fail(
                self.exit_codes.ERROR_SUB_PROCESS_FAILED_PH,
                message=f"the q-point list run {failure(node)}",
            )
        count = int(node.outputs.output_parameters["number_of_qpoints"])
        self.ctx.pending_qpoints = list(range(1, count + 1))
        self.report(
            f"{count} irreducible q-points: one ph.x job each, at most "
            f"{self.inputs.max_concurrent_qpoints.value} at a time"
        )
        return None

    def has_pending_qpoints(self) -> bool:
        return bool(self.ctx.pending_qpoints)

    def run_ph_batch(self):
        size = self.inputs.max_concurrent_qpoints.value
        batch, self.ctx.pending_qpoints = (
            self.ctx.pending_qpoints[:size],
            self.ctx.pending_qpoints[size:],
        )
        launched = {}
        for iq in batch:
            if iq is None:
                inputs = self._ph_inputs("ph", {})
                key = "ph"
            else:
                extra = {"start_q": iq, "last_q": iq}
                inputs = self._ph_inputs(f"ph_q_{iq}", extra, n_concurrent=len(batch))
                key = f"q_{iq}"
            launched[key] = self.submit(PhBaseWorkChain, **inputs)
        self.ctx.qpoint_jobs.extend(launched)
        names = ", ".join(f"{key}<{node.pk}>" for key, node in launched.items())
        self.report(f"ph.x: launched {names} ({parallelisation(inputs.ph)} each)")
        return ToContext(**{f"ph_job_{key}": node for key, node in launched.items()})

    def inspect_ph_batch(self):
        jobs = {key: self.ctx[f"ph_job_{key}"] for key in self.ctx.qpoint_jobs}
        failed = [
            f"{key}: {failure(node)}" for key, node in jobs.items() if not node.is_finished_ok
        ]
        if failed:
            return self._fail(
                self.exit_codes.ERROR_SUB_PROCESS_FAILED_PH,
                message=f"{len(failed)} of {len(jobs)} ph.x jobs failed ({'; '.join(failed)})",
            )
        return None

    def _fail(self, exit_code, **message):
        """Report the formatted exit message, then return the exit code."""
        exit_code = exit_code.format(**message)
        self.report(exit_code.message)
        return exit_code

    def gather(self):
        jobs = {key: self.ctx[f"ph_job_{key}"] for key in self.ctx.qpoint_jobs}
        if list(jobs) == ["ph"]:
            self.ctx.ph_files = jobs["ph"].outputs.retrieved
            return None
        try:
            self.ctx.ph_files = gather_qpoint_outputs(
                **{key: node.outputs.retrieved for key, node in jobs.items()},
                metadata={"call_link_label": "gather_qpoints"},
            )
        except Exception as exc:  # the calcfunction node is marked excepted with the traceback
            return self._fail(self.exit_codes.ERROR_GATHERING_QPOINTS, message=str(exc))
        self.report(
            f"gathered the dynamical matrices of {len(jobs)} q-point jobs into "
            f"FolderData<{self.ctx.ph_files.pk}>"
        )
        return None

    def run_q2r(self):
        inputs = AttributeDict(self.exposed_inputs(GatheredQ2rBaseWorkChain, namespace="q2r"))
        parameters = inputs.q2r.parameters.get_dict() if "parameters" in inputs.q2r else {}
        flags = parameters.setdefault("INPUT", {})
        if self.should_run_dfpt():
            inputs.q2r.parent_folder = self.ctx.ph_files
            flags["la2f"] = self.inputs.electron_phonon.value
            source = f"ph.x's matrices FolderData<{self.ctx.ph_files.pk}>"
        else:
            inputs.q2r.parent_folder = dynamical_matrices_for_q2r(
                self.inputs.dynamical_matrices, metadata={"call_link_label": "given_dyn_for_q2r"}
            )
            flags["la2f"] = False
            source = f"the given matrices FolderData<{self.inputs.dynamical_matrices.pk}>"
        if not flags["la2f"]:
            flags.pop("el_ph_nsigma", None)
        inputs.q2r.parameters = orm.Dict(parameters)
        inputs.metadata = {**inputs.get("metadata", {}), "call_link_label": "q2r"}
        node = self.submit(GatheredQ2rBaseWorkChain, **inputs)
        la2f = " with la2F (gamma matrices to real space)" if flags["la2f"] else ""
        self.report(f"q2r.x{la2f} on {source}: launched <{node.pk}>")
        return ToContext(q2r=node)

    def inspect_q2r(self):
        node = self.ctx.q2r
        if not node.is_finished_ok:
            self.report(f"Q2rBaseWorkChain<{node.pk}> failed: {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_Q2R
        if self.should_run_dfpt() and self.inputs.electron_phonon.value:
            self.ctx.elph_folder = node.outputs.remote_folder
        else:
            self.ctx.elph_folder = self.inputs.get("parent_elph_folder")
        return None

    def _matdyn_inputs(self, label: str, kpoints: orm.KpointsData, dos: bool) -> AttributeDict:
        inputs = AttributeDict(self.exposed_inputs(MatdynBaseWorkChain, namespace="matdyn"))
        inputs.matdyn.force_constants = self.ctx.q2r.outputs.force_constants
        inputs.matdyn.kpoints = kpoints
        parameters = inputs.matdyn.parameters.get_dict() if "parameters" in inputs.matdyn else {}
        flags = parameters.setdefault("INPUT", {})
        flags["dos"] = dos
        if not dos:
            flags.pop("ndos", None)
        if flags.get("la2f"):
            inputs.matdyn.parent_folder = self.ctx.elph_folder
            if not dos:
                names = retrieve_names(int(flags.get("el_ph_nsigma", 10)))
                inputs.matdyn.metadata = with_retrieved(inputs.matdyn.metadata, names)
        inputs.matdyn.parameters = orm.Dict(parameters)
        inputs.metadata = {**inputs.get("metadata", {}), "call_link_label": label}
        return inputs

    def run_matdyn(self):
        launched = {
            "matdyn_dos": self.submit(
                MatdynBaseWorkChain,
                **self._matdyn_inputs("matdyn_dos", self.inputs.dos_qpoints, dos=True),
            )
        }
        if self.inputs.compute_bands.value:
            path = phonon_band_path(
                self.inputs.structure,
                self.inputs.bands_npoints,
                metadata={"call_link_label": "band_path"},
            )
            launched["matdyn_bands"] = self.submit(
                MatdynBaseWorkChain, **self._matdyn_inputs("matdyn_bands", path, dos=False)
            )
        names = ", ".join(f"{key}<{node.pk}>" for key, node in launched.items())
        self.report(f"matdyn.x: launched {names}")
        return ToContext(**launched)

    def inspect_matdyn(self):
        node = self.ctx.matdyn_dos
        if not node.is_finished_ok:
            self.report(f"matdyn.x on the DOS mesh <{node.pk}> failed: {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_MATDYN_DOS
        bands = self.ctx.get("matdyn_bands")
        if bands is not None and not bands.is_finished_ok:
            self.report(f"matdyn.x on the band path <{bands.pk}> failed: {bands.exit_status}")
            if not self.inputs.bands_optional.value:
                return self.exit_codes.ERROR_SUB_PROCESS_FAILED_MATDYN_BANDS
            self.report("band-path outputs left out (bands_optional)")
            self.ctx.matdyn_bands = None
        return None

    def should_rerun_dos(self) -> bool:
        """QE 6.7's tetrahedron DOS is NaN everywhere when the acoustic frequencies at Gamma come
        out exactly zero (asr='crystal' on very symmetric force constants): rerun that matdyn.x
        once with asr='simple' (the DOS only; bands and alpha^2F keep the protocol's ASR)."""
        outputs = self.ctx.matdyn_dos.outputs
        if "output_phonon_dos" not in outputs or self.ctx.get("dos_rerun"):
            return False
        dos = outputs.output_phonon_dos
        if np.all(np.isfinite(dos.get_y()[0][1])):
            return False
        parameters = self.inputs.matdyn.matdyn.parameters.get_dict().get("INPUT", {})
        if parameters.get("la2f"):
            self.report("WARNING: matdyn.x's phonon DOS is NaN (alpha^2F run: left as it is)")
            return False
        return True

    def rerun_matdyn_dos(self):
        self.ctx.dos_rerun = True
        inputs = self._matdyn_inputs("matdyn_dos_asr_simple", self.inputs.dos_qpoints, dos=True)
        parameters = inputs.matdyn.parameters.get_dict()
        parameters["INPUT"]["asr"] = "simple"
        inputs.matdyn.parameters = orm.Dict(parameters)
        node = self.submit(MatdynBaseWorkChain, **inputs)
        self.report(
            "matdyn.x's tetrahedron DOS came out NaN (acoustic frequencies exactly zero at Gamma, "
            f"a QE 6.7 edge case): DOS rerun with asr='simple', <{node.pk}>"
        )
        return ToContext(matdyn_dos=node)

    def results(self):
        if self.should_run_dfpt():
            matrices = extract_dynamical_matrices(
                self.ctx.ph_files, metadata={"call_link_label": "dynamical_matrices"}
            )
        else:
            matrices = self.inputs.dynamical_matrices
        self.out("dynamical_matrices", matrices)
        self.out("force_constants", self.ctx.q2r.outputs.force_constants)
        dos = self.ctx.matdyn_dos
        if "output_phonon_dos" in dos.outputs:
            self.out("phonon_dos", dos.outputs.output_phonon_dos)
        la2f = self.inputs.matdyn.matdyn.parameters.get_dict().get("INPUT", {}).get("la2f")
        if la2f:
            self.out("alpha2f_files", dos.outputs.retrieved)
        bands = self.ctx.get("matdyn_bands")
        if bands is not None:
            self.out("phonon_bands", bands.outputs.output_phonon_bands)
            if la2f:
                self.out("linewidth_files", bands.outputs.retrieved)
        if self.ctx.get("elph_folder") is not None and self.should_run_dfpt():
            self.out("elph_folder", self.ctx.elph_folder)
        self.report(f"done: {matrices.base.attributes.get('nqirr')} irreducible q-points")

    def on_terminated(self):
        super().on_terminated()
        clean_called_workdirs(self)


# ---- inputs from the protocol files -------------------------------------------------------------
def dfpt_inputs(
    codes: dict[str, orm.AbstractCode],
    structure: orm.StructureData,
    protocol: str,
    settings: dict[str, Any],
    pseudo_family: str,
    num_mpiprocs: int = 1,
    electron_phonon: bool = False,
    matdyn_la2f: bool = False,
) -> dict[str, Any]:
    """``DfptWorkChain`` inputs (no structure) from a protocol's settings.

    ``settings`` holds the keys of ``harmonic.yaml``/``epc.yaml``: ``kpoints_mesh``,
    ``qpoints_mesh``, ``dos_qpoints_mesh``, ``smearing``, ``degauss_ry``, ``conv_thr_per_atom``,
    ``tr2_ph``, ``nmix_ph``, ``bands_npoints``, ``max_concurrent_qpoints``; with
    ``electron_phonon`` also ``dense_kpoints_mesh``, ``el_ph_sigma_ry``, ``el_ph_nsigma``;
    ``ndos`` (the DOS grid's points; required with ``matdyn_la2f``); and overrides of the sub-namespaces (``scf``, ``scf_dense``,
    ``ph``, ``q2r``, ``matdyn``) as in aiida-quantumespresso.
    """
    options = calcjob_options(num_mpiprocs)
    base = pw_overrides(
        structure,
        protocol,
        pseudo_family,
        settings["smearing"],
        settings["degauss_ry"],
        settings["conv_thr_per_atom"],
    )
    nsigma = int(settings.get("el_ph_nsigma", 10))
    inputs: dict[str, Any] = {
        "electron_phonon": orm.Bool(electron_phonon),
        "max_concurrent_qpoints": orm.Int(int(settings.get("max_concurrent_qpoints", 4))),
        "bands_npoints": orm.Int(int(settings["bands_npoints"])),
        "dos_qpoints": kpoints_mesh(settings["dos_qpoints_mesh"]),
        "scf": pw_base_inputs(
            codes["pw"],
            structure,
            protocol,
            merged(base, settings.get("scf")),
            settings["kpoints_mesh"],
            num_mpiprocs,
        ),
    }
    inputph: dict[str, Any] = {"tr2_ph": settings["tr2_ph"], "nmix_ph": settings["nmix_ph"]}
    if electron_phonon:
        inputs["scf_dense"] = pw_base_inputs(
            codes["pw"],
            structure,
            protocol,
            merged(
                merged(base, {"pw": {"parameters": {"SYSTEM": {"la2f": True}}}}),
                settings.get("scf_dense"),
            ),
            settings["dense_kpoints_mesh"],
            num_mpiprocs,
        )
        inputph.update(
            {
                "electron_phonon": "interpolated",
                "fildvscf": "dvscf",
                "el_ph_sigma": settings["el_ph_sigma_ry"],
                "el_ph_nsigma": nsigma,
            }
        )
    ph_builder = PhBaseWorkChain.get_builder_from_protocol(
        codes["ph"],
        protocol=protocol,
        overrides=merged({"ph": {"parameters": {"INPUTPH": inputph}}}, settings.get("ph")),
        options=options,
    )
    ph_builder.pop("qpoints_distance", None)
    ph_builder.pop("clean_workdir", None)
    ph_builder.qpoints = kpoints_mesh(settings["qpoints_mesh"])
    ph_builder.ph.metadata.options = options
    inputs["ph"] = ph_builder._inputs(prune=True)

    q2r_flags: dict[str, Any] = {"zasr": "crystal"}
    if electron_phonon:
        q2r_flags.update({"la2f": True, "el_ph_nsigma": nsigma})
    inputs["q2r"] = {
        "q2r": {
            "code": codes["q2r"],
            "parameters": orm.Dict(merged({"INPUT": q2r_flags}, settings.get("q2r"))),
            "metadata": {"options": options},
        }
    }
    matdyn_flags: dict[str, Any] = {"asr": "crystal"}
    if "ndos" in settings or matdyn_la2f:
        matdyn_flags["ndos"] = int(settings["ndos"])
    if matdyn_la2f:
        matdyn_flags.update({"la2f": True, "el_ph_nsigma": nsigma})
    inputs["matdyn"] = {
        "matdyn": {
            "code": codes["matdyn"],
            "parameters": orm.Dict(merged({"INPUT": matdyn_flags}, settings.get("matdyn"))),
            "metadata": {"options": options},
        }
    }
    return inputs
