"""``ElectronPhononWorkChain``: alpha^2F, lambda and Tc with Quantum ESPRESSO's interpolation method.

``DfptWorkChain`` with ``electron_phonon``: pw.x scf on a dense k-mesh with ``la2F`` -> pw.x scf on
the phonon k-mesh from the dense run's folder -> ph.x with ``electron_phonon='interpolated'``, the
irreducible q-points as separate jobs -> q2r.x with ``la2F`` -> matdyn.x with ``la2F`` and ``dos``
(a2F.dosN, lambda) and, on the band path (``compute_linewidths``), with ``dos=.false.`` (the
linewidth of every mode at every q: ``gam.lines``, ``elph.gamma.N``) -> parse every broadening ->
Eliashberg on the broadening chosen by the plateau rule.

Given-matrices branch (``dynamical_matrices``, e.g. the SSCHA anharmonic matrices, on the q-mesh of
the electron-phonon ph.x run, with ``parent_elph_folder``, the ``elph_folder`` of an earlier
electron-phonon DFPT): the gamma matrices do not depend on the phonons, so no scf or ph.x runs; q2r.x
turns the given matrices into force constants and matdyn.x projects the earlier run's real-space
gamma matrices on their eigenvectors: gamma_nu = (pi/2) z_nu^+ G z_nu, lambda_nu = gamma_nu /
(pi N(Ef) omega_nu^2). Unchanged harmonic matrices give the harmonic result exactly.
"""

from __future__ import annotations

import pathlib

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin

from ..calculations.eliashberg import eliashberg
from ..calculations.epc_functions import (
    dyn_grid_header,
    given_matrices_qpoints_mesh,
    parse_epc_linewidths,
    parse_epc_outputs,
)
from ..eliashberg.mustar import DEFAULT_MUSTAR, check_mustar
from ..pseudo_family import SHIPPED_FAMILY_LABEL
from ..validators import mustar_port
from .common import (
    DFPT_OVERRIDE_NAMESPACES,
    check_protocol_overrides,
    clean_called_workdirs,
    failure,
    load_codes,
)
from .dfpt import (
    MAX_EL_PH_NSIGMA,
    DfptWorkChain,
    dfpt_inputs,
    electron_phonon_inputph_error,
    validate_parent_elph_folder,
)


def validate_meshes(kpoints_mesh, dense_kpoints_mesh, qpoints_mesh) -> None:
    """Raise ``ValueError`` unless the dense (la2F) k-mesh and the scf k-mesh are multiples of the q-mesh."""
    for name, mesh in (("kpoints_mesh", kpoints_mesh), ("dense_kpoints_mesh", dense_kpoints_mesh)):
        for n, nq in zip(mesh, qpoints_mesh, strict=True):
            if int(nq) < 1 or int(n) % int(nq):
                raise ValueError(
                    f"{name} {list(mesh)} is not a multiple of qpoints_mesh {list(qpoints_mesh)}: "
                    "ph.x needs every k+q on the grid"
                )


def elph_folder_qpoints_mesh(folder: orm.RemoteData) -> list[int]:
    """q-mesh of the gamma matrices in an ``elph_folder`` (the q2r.x run's ``dynamical-matrix-0``)."""
    creator = folder.creator
    parent = creator.inputs.parent_folder if creator is not None else None
    if not isinstance(parent, orm.FolderData):
        raise ValueError(f"RemoteData<{folder.pk}> was not made by q2r.x on gathered ph.x outputs")
    text = parent.base.repository.get_object_content("DYN_MAT/dynamical-matrix-0")
    return dyn_grid_header(text)[0]


def _validate_given_mesh(value) -> str | None:
    """An error unless the given matrices lie on the q-mesh of the electron-phonon ph.x run."""
    try:
        given = given_matrices_qpoints_mesh(value["dynamical_matrices"])
        if "parent_elph_folder" in value:
            elph = elph_folder_qpoints_mesh(value["parent_elph_folder"])
            source = "the electron-phonon run of `parent_elph_folder`"
        else:
            qpoints = value.get("dfpt", {}).get("ph", {}).get("qpoints")
            if qpoints is None or "mesh" not in qpoints.base.attributes.keys():
                return "`dynamical_matrices` need `parent_elph_folder`"
            elph = [int(n) for n in qpoints.get_kpoints_mesh()[0]]
            source = "`dfpt.ph.qpoints`"
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
        spec.input("mustar", **mustar_port())
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
            "prefix, nqirr, qpoints_mesh) on the electron-phonon q-mesh: their phonons with the "
            "gamma matrices of `parent_elph_folder`.",
        )
        spec.input(
            "parent_elph_folder",
            valid_type=orm.RemoteData,
            required=False,
            help="`elph_folder` of an earlier electron-phonon DFPT (HarmonicPhononWorkChain with "
            "electron-phonon settings, or this work chain): no scf or ph.x here.",
        )
        spec.input(
            "compute_linewidths",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="Also run matdyn.x (la2F, dos=.false.) on the band path: outputs phonon_bands and "
            "phonon_linewidths. Its failure is reported and leaves them out; Tc is unaffected.",
        )
        spec.input("clean_workdir", valid_type=orm.Bool, default=lambda: orm.Bool(False))
        spec.expose_inputs(
            DfptWorkChain,
            namespace="dfpt",
            exclude=(
                "structure",
                "electron_phonon",
                "dynamical_matrices",
                "parent_elph_folder",
                "compute_bands",
                "bands_optional",
                "clean_workdir",
            ),
        )
        spec.inputs.validator = cls.validate_inputs
        spec.outline(
            cls.setup,
            cls.run_dfpt,
            cls.inspect_dfpt,
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
            "elph_folder",
            valid_type=orm.RemoteData,
            help="Real-space gamma matrices (q2r.x with la2F) for a later run with given "
            "dynamical_matrices (`parent_elph_folder`).",
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
    def validate_inputs(value, _ctx=None):
        """Either DFPT inputs or given matrices with ``parent_elph_folder``; la2F everywhere; given
        matrices on the electron-phonon q-mesh."""
        if ("parent_elph_folder" in value) != ("dynamical_matrices" in value):
            return "`dynamical_matrices` and `parent_elph_folder` go together"
        if "parent_elph_folder" in value:
            error = validate_parent_elph_folder(value["parent_elph_folder"])
            if error:
                return error
        dfpt = value.get("dfpt", {})
        if "parent_elph_folder" not in value:
            ph = dfpt.get("ph", {}).get("ph", {}).get("parameters")
            if ph is None:
                return "`dfpt.ph` inputs are required unless `parent_elph_folder` is given"
            error = electron_phonon_inputph_error(ph.get_dict().get("INPUTPH", {}), where="dfpt.ph")
            if error:
                return error
            q2r = dfpt.get("q2r", {}).get("q2r", {}).get("parameters")
            if q2r is None or not q2r.get_dict().get("INPUT", {}).get("la2f"):
                return "dfpt.q2r.parameters.INPUT needs la2f set to True"
        matdyn = dfpt.get("matdyn", {}).get("matdyn", {}).get("parameters")
        flags = matdyn.get_dict().get("INPUT", {}) if matdyn is not None else {}
        if not flags.get("la2f"):
            return "dfpt.matdyn.parameters.INPUT needs la2f set to True"
        if "dynamical_matrices" in value:
            return _validate_given_mesh(value)
        return None

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
        parent_elph_folder: orm.RemoteData | None = None,
    ):
        """A builder filled from the ``fast``/``balanced``/``stringent`` protocol.

        :param codes: codes for ``pw``, ``ph``, ``q2r`` and ``matdyn`` (nodes or labels).
        :param overrides: nested overrides of this protocol's keys (``kpoints_mesh``,
            ``dense_kpoints_mesh``, ``qpoints_mesh``, ``dos_qpoints_mesh``, ``el_ph_sigma_ry``,
            ``el_ph_nsigma``, ``mustar``, ``compute_linewidths``, ``bands_npoints``,
            ``max_concurrent_qpoints``, ...) and of the sub-builders (``scf_dense``, ``scf``,
            ``ph``, ``q2r``, ``matdyn`` as in aiida-quantumespresso).
        :param dynamical_matrices: use these matrices' phonons (e.g. anharmonic ones) with the
            gamma matrices of ``parent_elph_folder``; on the electron-phonon q-mesh.
        :param parent_elph_folder: the ``elph_folder`` of an earlier electron-phonon DFPT.
        """
        codes = load_codes(codes, {"pw", "ph", "q2r", "matdyn"})
        check_protocol_overrides(
            cls, overrides, ("mustar", "eliashberg_settings", *DFPT_OVERRIDE_NAMESPACES)
        )
        if (parent_elph_folder is None) != (dynamical_matrices is None):
            raise ValueError("dynamical_matrices and parent_elph_folder go together")
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
        builder = cls.get_builder()
        builder.structure = structure
        builder.mustar = orm.List(check_mustar(inputs.get("mustar", DEFAULT_MUSTAR)))
        builder.plateau_tolerance = orm.Float(inputs["plateau_tolerance"])
        builder.compute_linewidths = orm.Bool(inputs["compute_linewidths"])
        if "eliashberg_settings" in inputs:
            builder.eliashberg_settings = orm.Dict(inputs["eliashberg_settings"])
        dfpt = dfpt_inputs(
            codes,
            structure,
            protocol,
            inputs,
            pseudo_family,
            num_mpiprocs,
            electron_phonon=True,
            matdyn_la2f=True,
        )
        if dynamical_matrices is not None:
            for namespace in ("scf", "scf_dense", "ph"):
                dfpt.pop(namespace, None)
            builder.dynamical_matrices = dynamical_matrices
            builder.parent_elph_folder = parent_elph_folder
        dfpt.pop("electron_phonon", None)
        builder.dfpt = dfpt
        kind = "given matrices" if dynamical_matrices is not None else "harmonic"
        builder.metadata.label = f"epc {structure.get_formula()} ({kind})"
        builder.metadata.description = f"protocol={protocol}, {len(structure.sites)} atoms"
        return builder

    def should_use_given_matrices(self) -> bool:
        return "dynamical_matrices" in self.inputs

    def setup(self):
        if not self.should_use_given_matrices():
            self.report("branch: harmonic (phonons and gamma matrices from the DFPT run here)")
            return
        matrices = self.inputs.dynamical_matrices
        mesh = "x".join(str(n) for n in given_matrices_qpoints_mesh(matrices))
        folder = self.inputs.parent_elph_folder
        self.report(
            f"branch: GIVEN dynamical matrices FolderData<{matrices.pk}> (q-mesh {mesh}): phonons "
            f"from them, electron-phonon gamma matrices from q2r.x<{folder.creator.pk}> "
            f"(parent_elph_folder RemoteData<{folder.pk}>); no scf or ph.x"
        )

    def run_dfpt(self):
        inputs = AttributeDict(self.exposed_inputs(DfptWorkChain, namespace="dfpt"))
        inputs.structure = self.inputs.structure
        inputs.compute_bands = self.inputs.compute_linewidths
        inputs.bands_optional = orm.Bool(True)
        if self.should_use_given_matrices():
            inputs.dynamical_matrices = self.inputs.dynamical_matrices
            inputs.parent_elph_folder = self.inputs.parent_elph_folder
        else:
            inputs.electron_phonon = orm.Bool(True)
        inputs.metadata.call_link_label = "dfpt"
        node = self.submit(DfptWorkChain, **inputs)
        self.report(f"DFPT / q2r.x / matdyn.x with la2F: launched DfptWorkChain<{node.pk}>")
        return ToContext(dfpt=node)

    def inspect_dfpt(self):
        node = self.ctx.dfpt
        outputs = node.outputs
        if self.should_use_given_matrices():
            self.out("elph_folder", self.inputs.parent_elph_folder)
        elif "elph_folder" in outputs:
            self.out("elph_folder", outputs.elph_folder)
        if "dynamical_matrices" in outputs and not self.should_use_given_matrices():
            self.out("dynamical_matrices", outputs.dynamical_matrices)
        if node.is_finished_ok:
            return None
        self.report(failure(node))
        labels = {
            401: "ERROR_SUB_PROCESS_FAILED_SCF_DENSE",
            402: "ERROR_SUB_PROCESS_FAILED_SCF",
            403: "ERROR_SUB_PROCESS_FAILED_PH",
            404: "ERROR_SUB_PROCESS_FAILED_Q2R_GIVEN"
            if self.should_use_given_matrices()
            else "ERROR_SUB_PROCESS_FAILED_Q2R",
            406: "ERROR_SUB_PROCESS_FAILED_MATDYN",
            407: "ERROR_SUB_PROCESS_FAILED_PH",
        }
        return self.exit_codes[labels.get(node.exit_status, "ERROR_SUB_PROCESS_FAILED_MATDYN")]

    def parse(self):
        given = (
            {"broadening_index": self.inputs.broadening_index}
            if "broadening_index" in self.inputs
            else {}
        )
        results, node = parse_epc_outputs.run_get_node(
            self.ctx.dfpt.outputs.alpha2f_files,
            self.inputs.plateau_tolerance,
            **given,
            metadata={"call_link_label": "parse_epc"},
        )
        if not node.is_finished_ok:
            self.report(f"the a2F/lambda files could not be read: {failure(node)}")
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
        outputs = self.ctx.dfpt.outputs
        if "linewidth_files" not in outputs:
            if self.inputs.compute_linewidths.value:
                self.report("no linewidths on the band path (its matdyn.x failed); Tc unaffected")
            return
        bands = outputs.phonon_bands
        linewidths, node = parse_epc_linewidths.run_get_node(
            outputs.linewidth_files,
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
            self.report(f"no Tc: {failure(node)}")
            return self.exit_codes.ERROR_ELIASHBERG.format(message=node.exit_message)
        self.ctx.eliashberg = results
        tcs = ", ".join(
            f"mu*={m:.2f}: {t:.2f} K"
            for m, t in zip(
                results["result"]["mustar"], results["result"]["tc_eliashberg_kelvin"], strict=True
            )
        )
        self.report(f"Eliashberg: Tc {tcs}")

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
        if "phonon_dos" in self.ctx.dfpt.outputs:
            self.out("phonon_dos", self.ctx.dfpt.outputs.phonon_dos)
        for name, output in self.ctx.get("linewidths", {}).items():
            self.out(name, output)

    def on_terminated(self):
        super().on_terminated()
        clean_called_workdirs(self)
