"""``ClathrateSuperconductorWorkChain`` (``clathrate.compound``): one compound from structure to Tc.

harmonic phonons (``HarmonicPhononWorkChain``: relax at the pressure, DFPT, stability verdict) ->
[``run_sscha``] SSCHA on the relaxed structure from the harmonic dynamical matrices
(``SschaWorkChain``, with the free-energy Hessian and its verdict) -> harmonic electron-phonon
coupling and Eliashberg Tc (``ElectronPhononWorkChain`` on the relaxed structure; with one ph.x
pass and stable harmonic phonons it runs beside the SSCHA, needing nothing from it) -> anharmonic
electron-phonon coupling when the SSCHA verdict is ``stable``: the Hessian − harmonic difference
is interpolated onto the electron-phonon q-mesh and added to the harmonic matrices there
(calcfunction ``anharmonic_on_fine_grid``), and the same work chain is given those matrices and the
real-space gamma matrices of the harmonic ph.x runs: q2r.x/matdyn.x only, no second ph.x (exact by
construction, ``docs/epc.md``) -> a ``summary`` Dict and the searchable extras and groups of
:func:`aiida_clathrate.query.tag_compound`.

One ph.x pass: where the harmonic and electron-phonon protocols agree on every setting of the DFPT
(:data:`DFPT_SETTING_KEYS`), the harmonic step's ``DfptWorkChain`` also computes the gamma
matrices, and the harmonic electron-phonon step is q2r.x/matdyn.x on them. Otherwise (two passes)
the electron-phonon work chain runs its own DFPT on the relaxed structure, whenever the harmonic
phonons are stable or the anharmonic branch needs its matrices; with unstable harmonic phonons its
lambda and Tc are not results (not exposed, not in the summary).
"""

from __future__ import annotations

import pathlib

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, calcfunction, if_
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin

from ..calculations.anharmonic import anharmonic_on_fine_grid
from ..calculations.phonon_functions import structure_summary
from ..calculations.tc_uncertainty import tc_uncertainty
from ..eliashberg.mustar import DEFAULT_MUSTAR, check_mustar
from ..eliashberg.uncertainty import format_tc_uncertainty
from ..pseudo_family import SHIPPED_FAMILY_LABEL
from ..sscha.interpolation import lowest_frequency_cm1
from ..validators import mustar_port, pressure_port
from .common import apply_shared_cores, load_codes
from .epc import ElectronPhononWorkChain
from .harmonic import HarmonicPhononWorkChain
from .sscha import SschaWorkChain

#: How the anharmonic branch obtains lambda, stored in the summary next to its numbers.
ANHARMONIC_METHOD = (
    "SSCHA free-energy Hessian minus the harmonic matrices it started from, Fourier-interpolated "
    "onto the electron-phonon q-mesh and added to the harmonic electron-phonon run's own matrices "
    "(anharmonic_on_fine_grid); exact: q2r.x/matdyn.x on them with the gamma matrices of that "
    "run's ph.x (no second ph.x)"
)
SSCHA_ENGINES = ("dft", "mlp", "active")
NON_GUESTS = {"B", "C"}


#: The geometry reported for the harmonic (relaxed) and the anharmonic (SSCHA centroid) structure.
ANHARMONIC_GEOMETRY_KEYS = ("lattice_parameter_angstrom", "d_long_angstrom", "d_short_angstrom")


def guest_metals(structure: orm.StructureData) -> list[str]:
    """The metal guests of a structure: its elements other than B and C, in order of appearance."""
    metals: list[str] = []
    for site in structure.sites:
        symbol = structure.get_kind(site.kind_name).symbol
        if symbol not in NON_GUESTS and symbol not in metals:
            metals.append(symbol)
    return metals


def _qpoints_mesh(qpoints: orm.KpointsData | None) -> list[int] | None:
    if qpoints is None or "mesh" not in qpoints.base.attributes.keys():
        return None
    return [int(n) for n in qpoints.get_kpoints_mesh()[0]]


def sscha_epc_mesh_error(harmonic_qpoints, epc_qpoints) -> str | None:
    """An error unless the electron-phonon q-mesh is a multiple of the SSCHA q-mesh (the harmonic
    q-mesh, i.e. the SSCHA supercell), so the SSCHA correction can be interpolated onto it."""
    sscha, epc = _qpoints_mesh(harmonic_qpoints), _qpoints_mesh(epc_qpoints)
    if sscha is None or epc is None:
        return "with `run_sscha`, `harmonic.dfpt.ph.qpoints` and `epc.dfpt.ph.qpoints` must be q-meshes"
    if any(e % s for e, s in zip(epc, sscha, strict=True)):
        return (
            f"the electron-phonon q-mesh {epc} (`epc.dfpt.ph.qpoints`) is not a multiple of the SSCHA "
            f"q-mesh {sscha} (`harmonic.dfpt.ph.qpoints`, the SSCHA supercell): the SSCHA correction "
            "cannot be interpolated onto it; make each EPC q-mesh dimension a multiple of the "
            "harmonic one"
        )
    return None


#: Protocol settings that define the DFPT run: where the harmonic and the electron-phonon
#: protocols agree on all of them, one ph.x pass serves both steps.
DFPT_SETTING_KEYS = (
    "kpoints_mesh",
    "qpoints_mesh",
    "smearing",
    "degauss_ry",
    "conv_thr_per_atom",
    "tr2_ph",
    "nmix_ph",
    "scf",
    "ph",
)


def one_pass_mismatch(harmonic_settings: dict, epc_settings: dict) -> list[str]:
    """The DFPT settings on which the harmonic and electron-phonon protocol inputs differ."""
    return [key for key in DFPT_SETTING_KEYS if harmonic_settings.get(key) != epc_settings.get(key)]


def elph_outputs(epc_node: orm.WorkflowNode) -> dict[str, orm.Data] | None:
    """``elph_folder`` and ``dynamical_matrices`` of an ``ElectronPhononWorkChain`` whether or not
    it finished (e.g. its a2F/Eliashberg steps failed on imaginary modes): it attaches both as soon
    as its DFPT has run; ``None`` when they are not there."""
    outputs = epc_node.outputs
    if "elph_folder" in outputs and "dynamical_matrices" in outputs:
        return {
            "elph_folder": outputs.elph_folder,
            "dynamical_matrices": outputs.dynamical_matrices,
        }
    return None


@calcfunction
def collect_compound_results(**nodes) -> orm.Dict:
    """One Dict with the verdicts, lambda, omega_log, N(Ef), Tc per mu* and the lattice geometry.

    Inputs (by name): ``structure_parameters``, ``dynamically_stable``, ``min_frequency_cm1``
    (harmonic work chain), optionally ``sscha_verdict``, ``sscha_structure_parameters`` (the
    geometry of the SSCHA centroids and cell), ``anharmonic_frequencies`` (the
    SSCHA-corrected frequencies on the electron-phonon q-mesh), ``epc_summary_harmonic`` and
    ``eliashberg_harmonic``, ``epc_summary_anharmonic`` and ``eliashberg_anharmonic``,
    ``tc_uncertainty_<branch>`` (Tc ± its spread, :mod:`aiida_clathrate.eliashberg.uncertainty`).
    """
    geometry = nodes["structure_parameters"].get_dict()
    summary = {
        "harmonic_stable": bool(nodes["dynamically_stable"].value),
        "harmonic_min_frequency_cm1": float(nodes["min_frequency_cm1"].value),
        "sscha_category": None,
        "lattice_parameter_angstrom": geometry.get("lattice_parameter_angstrom"),
        "d_long_angstrom": geometry.get("d_long_angstrom"),
        "d_short_angstrom": geometry.get("d_short_angstrom"),
        "space_group_number": geometry.get("space_group_number"),
    }
    if "sscha_structure_parameters" in nodes:
        centroid = nodes["sscha_structure_parameters"].get_dict()
        for key in ANHARMONIC_GEOMETRY_KEYS:
            summary[f"sscha_{key}"] = centroid.get(key)
    if "sscha_verdict" in nodes:
        verdict = nodes["sscha_verdict"].get_dict()
        summary["sscha_category"] = verdict.get("category")
        summary["sscha_lowest_hessian_cm1"] = verdict.get("lowest_hessian_cm1")
        summary["sscha_lowest_auxiliary_cm1"] = verdict.get("lowest_auxiliary_cm1")
    if "anharmonic_frequencies" in nodes:
        arrays = nodes["anharmonic_frequencies"]
        summary["anharmonic_lowest_frequency_cm1"] = lowest_frequency_cm1(
            arrays.get_array("qpoints_crystal"), arrays.get_array("frequencies_cm1")
        )
    for branch in ("harmonic", "anharmonic"):
        if f"eliashberg_{branch}" not in nodes:
            continue
        epc = nodes[f"epc_summary_{branch}"].get_dict()
        result = nodes[f"eliashberg_{branch}"].get_dict()
        summary[f"lambda_{branch}"] = float(epc["lambda"])
        summary[f"lambda_from_a2f_{branch}"] = float(result["lambda"])
        summary[f"omega_log_{branch}_mev"] = float(result["omega_log_mev"])
        summary[f"dos_ef_{branch}_states_per_ev_spin"] = epc.get("dos_ef_states_per_ev_spin")
        summary[f"broadening_{branch}_ry"] = epc.get("broadening_ry")
        summary["mustar"] = [float(m) for m in result["mustar"]]
        summary[f"tc_{branch}_kelvin"] = [float(t) for t in result["tc_eliashberg_kelvin"]]
        if f"tc_uncertainty_{branch}" in nodes:
            uncertainty = nodes[f"tc_uncertainty_{branch}"].get_dict()
            summary[f"tc_{branch}_central_kelvin"] = uncertainty["tc_kelvin"]
            summary[f"tc_{branch}_uncertainty_kelvin"] = uncertainty["total_kelvin"]
            summary[f"tc_{branch}_uncertainty"] = {
                key: uncertainty[key]
                for key in (
                    "mustar",
                    "mustar_kelvin",
                    "broadening_kelvin",
                    "sscha_kelvin",
                    "bootstrap_unstable",
                    "plateau_broadening_indices",
                )
            }
    if "eliashberg_anharmonic" in nodes:
        summary["anharmonic_method"] = ANHARMONIC_METHOD
    return orm.Dict(summary)


def _validate_metal(value, _ctx=None):
    from ..structures import valence

    if value is not None:
        try:
            valence(value.value)
        except ValueError as exc:
            return str(exc)
    return None


def _pruned(builder, *drop: str) -> dict:
    """A sub-builder as a plain dict without the ports the parent sets itself."""
    inputs = builder._inputs(prune=True)
    for key in drop:
        inputs.pop(key, None)
    return inputs


class ClathrateSuperconductorWorkChain(ProtocolMixin, WorkChain):
    """Harmonic phonons, SSCHA, harmonic and anharmonic Eliashberg Tc of one compound; tags it."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("structure", valid_type=orm.StructureData, help="The starting structure.")
        spec.input(
            "metal_x",
            valid_type=orm.Str,
            required=False,
            validator=_validate_metal,
            help="Guest X (the extras' pair); default: the structure's first metal.",
        )
        spec.input(
            "metal_y",
            valid_type=orm.Str,
            required=False,
            validator=_validate_metal,
            help="Guest Y; omit for XB3C3.",
        )
        spec.input("pressure_gpa", **pressure_port("Target pressure (GPa) of every step."))
        spec.input(
            "run_sscha",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="Run the SSCHA (needs the `sscha` inputs) and, when stable, the anharmonic EPC.",
        )
        spec.input("mustar", **mustar_port())
        spec.input(
            "tag",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="Set the compound extras and groups (aiida_clathrate.query) on success.",
        )
        spec.expose_inputs(
            HarmonicPhononWorkChain,
            namespace="harmonic",
            exclude=("structure", "pressure_gpa"),
        )
        spec.expose_inputs(
            SschaWorkChain,
            namespace="sscha",
            exclude=("structure", "dynamical_matrices", "fine_dynamical_matrices"),
            namespace_options={"required": False, "populate_defaults": False},
        )
        spec.expose_inputs(
            ElectronPhononWorkChain,
            namespace="epc",
            exclude=("structure", "mustar", "dynamical_matrices", "parent_elph_folder"),
        )
        spec.inputs.validator = cls.validate_inputs
        spec.outline(
            cls.setup,
            cls.run_harmonic,
            cls.inspect_harmonic,
            cls.run_sscha_and_early_epc,
            if_(cls.sscha_launched)(cls.inspect_sscha),
            if_(cls.should_run_epc_harmonic)(cls.run_epc_harmonic),
            if_(cls.epc_harmonic_launched)(cls.inspect_epc_harmonic),
            if_(cls.should_run_epc_anharmonic)(
                cls.interpolate_anharmonic, cls.run_epc_anharmonic, cls.inspect_epc_anharmonic
            ),
            cls.results,
        )
        spec.expose_outputs(HarmonicPhononWorkChain, namespace="harmonic")
        spec.expose_outputs(
            SschaWorkChain, namespace="sscha", namespace_options={"required": False}
        )
        spec.expose_outputs(
            ElectronPhononWorkChain,
            namespace="epc_harmonic",
            namespace_options={"required": False},
        )
        spec.expose_outputs(
            ElectronPhononWorkChain,
            namespace="epc_anharmonic",
            namespace_options={
                "required": False,
                "help": "ANHARMONIC: the SSCHA-corrected matrices on the electron-phonon q-mesh "
                "(`anharmonic_dynamical_matrices`) with the gamma matrices of the harmonic run's "
                "ph.x (q2r.x/matdyn.x, no second ph.x; docs/epc.md).",
            },
        )
        spec.output(
            "anharmonic_dynamical_matrices",
            valid_type=orm.FolderData,
            required=False,
            help="The harmonic EPC run's matrices + the SSCHA Hessian - harmonic difference "
            "interpolated onto the electron-phonon q-mesh (dyn convention).",
        )
        spec.output(
            "anharmonic_frequencies_cm1",
            valid_type=orm.ArrayData,
            required=False,
            help="Frequencies (cm^-1, negative = imaginary) of `anharmonic_dynamical_matrices` per "
            "q-point of the electron-phonon q-mesh (arrays qpoints_crystal, frequencies_cm1).",
        )
        spec.output(
            "summary",
            valid_type=orm.Dict,
            help="harmonic_stable, sscha_category, lambda_<branch>, omega_log_<branch>_mev, "
            "tc_<branch>_kelvin per mu*, dos_ef_<branch>_states_per_ev_spin, lattice parameter, "
            "d_long/d_short.",
        )
        spec.exit_code(
            401, "ERROR_SUB_PROCESS_FAILED_HARMONIC", message="HarmonicPhononWorkChain failed."
        )
        spec.exit_code(402, "ERROR_SUB_PROCESS_FAILED_SSCHA", message="SschaWorkChain failed.")
        spec.exit_code(
            403,
            "ERROR_SUB_PROCESS_FAILED_EPC_HARMONIC",
            message="The harmonic ElectronPhononWorkChain failed.",
        )
        spec.exit_code(
            404,
            "ERROR_SUB_PROCESS_FAILED_EPC_ANHARMONIC",
            message="The anharmonic ElectronPhononWorkChain (q2r.x/matdyn.x on the SSCHA-corrected "
            "matrices) failed.",
        )
        spec.exit_code(
            405,
            "ERROR_ANHARMONIC_INTERPOLATION",
            message="anharmonic_on_fine_grid failed: {message}",
        )

    @staticmethod
    def validate_inputs(value, _ctx=None):
        """SSCHA inputs and an EPC q-mesh that is a multiple of the SSCHA one when ``run_sscha``;
        a valid guest pair for the extras."""
        run_sscha = value.get("run_sscha")
        if run_sscha is None or run_sscha.value:
            if "engine" not in value.get("sscha", {}):
                return "`run_sscha` is True but the `sscha` inputs (engine, ...) are missing"
            error = sscha_epc_mesh_error(
                value.get("harmonic", {}).get("dfpt", {}).get("ph", {}).get("qpoints"),
                value.get("epc", {}).get("dfpt", {}).get("ph", {}).get("qpoints"),
            )
            if error:
                return error
        if "metal_y" in value and "metal_x" not in value:
            return "`metal_y` given without `metal_x`"
        if "metal_x" not in value:
            metals = guest_metals(value["structure"])
            if not 1 <= len(metals) <= 2:
                return (
                    f"cannot infer the guest pair from the elements {metals}: give metal_x/metal_y"
                )
        return None

    @classmethod
    def get_protocol_filepath(cls) -> pathlib.Path:
        return pathlib.Path(__file__).parent / "protocols" / "compound.yaml"

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict[str, orm.AbstractCode | str],
        structure: orm.StructureData,
        protocol: str | None = None,
        overrides: dict | None = None,
        pressure_gpa: float = 0.0,
        run_sscha: bool = True,
        sscha_engine: str = "dft",
        mustar: list[float] | tuple[float, ...] = DEFAULT_MUSTAR,
        metals: tuple[str, ...] | list[str] | None = None,
        pseudo_family: str = SHIPPED_FAMILY_LABEL,
        num_mpiprocs: int = 1,
        relax: bool = True,
        mlp_model: orm.Data | None = None,
        one_pass: bool = True,
    ):
        """A builder from the ``fast``/``balanced``/``stringent`` protocols of every step.

        :param codes: ``pw``, ``ph``, ``q2r``, ``matdyn``; with ``run_sscha`` also ``sscha``
            (``clathrate-sscha@localhost``) and, for the ``mlp`` engine, ``mlp``.
        :param overrides: ``{"harmonic": {...}, "epc": {...}, "sscha": {...}}``: the harmonic and
            EPC protocols' overrides, and this protocol's SSCHA keys (``population_sizes``, ...).
        :param metals: the guest pair (X,) or (X, Y) for the extras; default: from the structure.
        :param mlp_model: the trained model (``MlpModelData``) for the ``mlp`` engine.
        :param one_pass: where the harmonic and electron-phonon protocols agree on the DFPT
            settings, compute the phonons and the gamma matrices in the same ph.x runs (False:
            two ph.x passes, as before).
        """
        if sscha_engine not in SSCHA_ENGINES:
            raise ValueError(f"sscha_engine must be one of {SSCHA_ENGINES}, got {sscha_engine!r}")
        mustar = check_mustar(mustar)
        overrides = dict(overrides or {})
        unknown = set(overrides) - {"harmonic", "epc", "sscha"}
        if unknown:
            raise ValueError(f"unknown override namespaces {sorted(unknown)}")
        protocol = protocol or cls.get_default_protocol()
        codes = load_codes(codes, set())
        builder = cls.get_builder()
        builder.structure = structure
        builder.pressure_gpa = orm.Float(pressure_gpa)
        builder.run_sscha = orm.Bool(run_sscha)
        builder.mustar = orm.List([float(m) for m in mustar])
        if metals:
            if not 1 <= len(metals) <= 2:
                raise ValueError(f"metals must name one or two guests, got {list(metals)}")
            builder.metal_x = orm.Str(metals[0])
            if len(metals) == 2:
                builder.metal_y = orm.Str(metals[1])

        harmonic_overrides = overrides.get("harmonic")
        harmonic_inputs = HarmonicPhononWorkChain.get_protocol_inputs(protocol, harmonic_overrides)
        epc_settings = ElectronPhononWorkChain.get_protocol_inputs(protocol, overrides.get("epc"))
        mismatch = one_pass_mismatch(harmonic_inputs, epc_settings)
        harmonic = HarmonicPhononWorkChain.get_builder_from_protocol(
            codes,
            structure,
            protocol,
            overrides=harmonic_overrides,
            pressure_gpa=pressure_gpa,
            pseudo_family=pseudo_family,
            num_mpiprocs=num_mpiprocs,
            relax=relax,
            electron_phonon_settings=epc_settings if one_pass and not mismatch else None,
        )
        builder.harmonic = _pruned(harmonic, "structure", "pressure_gpa", "metadata")

        epc = ElectronPhononWorkChain.get_builder_from_protocol(
            codes,
            structure,
            protocol,
            overrides=overrides.get("epc"),
            pseudo_family=pseudo_family,
            num_mpiprocs=num_mpiprocs,
        )
        builder.epc = _pruned(epc, "structure", "mustar", "metadata")

        if run_sscha:
            error = sscha_epc_mesh_error(
                builder.harmonic.dfpt.ph.qpoints, builder.epc.dfpt.ph.qpoints
            )
            if error:
                raise ValueError(error)
            # The SSCHA correction is Hessian - harmonic: its forces need the harmonic scf's
            # cutoffs and smearing (including any override of it).
            harmonic_scf = harmonic.dfpt.scf
            builder.sscha = cls._sscha_inputs(
                codes,
                structure,
                protocol,
                overrides.get("sscha"),
                harmonic_scf.pw.parameters.get_dict()["SYSTEM"],
                harmonic_inputs["kpoints_mesh"],
                harmonic_inputs["qpoints_mesh"],
                sscha_engine,
                pseudo_family,
                num_mpiprocs,
                mlp_model,
            )
        formula = structure.get_formula()
        builder.metadata.label = f"compound {formula} {pressure_gpa:g} GPa"
        passes = "one ph.x pass" if one_pass and not mismatch else "two ph.x passes"
        if one_pass and mismatch:
            passes += f" (harmonic and electron-phonon settings differ in {', '.join(mismatch)})"
        builder.metadata.description = f"protocol={protocol}, run_sscha={run_sscha}, {passes}"
        return builder

    @staticmethod
    def _sscha_inputs(
        codes,
        structure,
        protocol,
        sscha_overrides,
        harmonic_system,
        kpoints_mesh,
        qpoints_mesh,
        engine,
        family,
        nproc,
        model,
    ) -> dict:
        """The ``sscha`` namespace: ``SschaWorkChain.get_builder_from_protocol`` (protocol of
        ``sscha.yaml``, ``overrides["sscha"]``) without the structure and matrices given at run
        time; the DFT engine on the energy surface of ``harmonic_system`` (the harmonic scf's
        ``SYSTEM`` namelist) and the harmonic k-mesh divided by the q-mesh."""
        sscha = SschaWorkChain.get_builder_from_protocol(
            codes,
            structure,
            None,
            protocol,
            overrides=sscha_overrides,
            engine=engine,
            energy_surface=harmonic_system,
            kpoints_mesh=kpoints_mesh,
            qpoints_mesh=qpoints_mesh,
            pseudo_family=family,
            num_mpiprocs=nproc,
            mlp_model=model,
        )
        return _pruned(sscha, "structure", "dynamical_matrices", "metadata")

    # ---- steps ------------------------------------------------------------------------
    def setup(self):
        if "metal_x" in self.inputs:
            pair = [self.inputs.metal_x.value]
            if "metal_y" in self.inputs:
                pair.append(self.inputs.metal_y.value)
        else:
            pair = guest_metals(self.inputs.structure)
        self.ctx.pair = pair
        self.ctx.summary_inputs = {}

    def run_harmonic(self):
        inputs = AttributeDict(self.exposed_inputs(HarmonicPhononWorkChain, namespace="harmonic"))
        inputs.structure = self.inputs.structure
        inputs.pressure_gpa = self.inputs.pressure_gpa
        inputs.metadata.call_link_label = "harmonic"
        node = self.submit(HarmonicPhononWorkChain, **inputs)
        self.report(
            f"step 1/4 harmonic: launched HarmonicPhononWorkChain<{node.pk}> for "
            f"{'-'.join(self.ctx.pair)} at {self.inputs.pressure_gpa.value:g} GPa"
        )
        return ToContext(harmonic=node)

    def inspect_harmonic(self):
        node = self.ctx.harmonic
        if not node.is_finished_ok:
            self.report(f"HarmonicPhononWorkChain<{node.pk}> failed: exit {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_HARMONIC
        self.out_many(self.exposed_outputs(node, HarmonicPhononWorkChain, namespace="harmonic"))
        self.ctx.harmonic_stable = bool(node.outputs.dynamically_stable.value)
        self.ctx.structure = node.outputs.relaxed_structure
        geometry = node.outputs.structure_parameters.get_dict()
        self.report(
            f"harmonic: lowest frequency {node.outputs.min_frequency_cm1.value:.1f} cm^-1, "
            f"{'stable' if self.ctx.harmonic_stable else 'UNSTABLE'}; a = "
            f"{geometry['lattice_parameter_angstrom']:.4f} Å"
        )
        for key in ("structure_parameters", "dynamically_stable", "min_frequency_cm1"):
            self.ctx.summary_inputs[key] = node.outputs[key]
        self.ctx.one_pass = "elph_folder" in node.outputs
        if self.ctx.one_pass:
            self.ctx.elph = {
                "elph_folder": node.outputs.elph_folder,
                "dynamical_matrices": node.outputs.dynamical_matrices,
            }
            self.report(
                "one ph.x pass: the harmonic DFPT also computed the electron-phonon gamma matrices "
                f"(RemoteData<{node.outputs.elph_folder.pk}>)"
            )

    def should_run_sscha(self) -> bool:
        if not self.inputs.run_sscha.value:
            self.report("step 2/4 SSCHA: skipped (run_sscha is False)")
            return False
        return True

    def run_sscha_and_early_epc(self):
        """The SSCHA and, with one ph.x pass and stable harmonic phonons, the harmonic EPC beside
        it: that branch needs only the harmonic step's matrices and gamma matrices, so its
        q2r.x/matdyn.x jobs and its steps overlap the SSCHA's instead of following them."""
        launched = {}
        if self.should_run_sscha():
            launched["sscha"] = self._submit_sscha()
        if self._one_pass() and self.ctx.harmonic_stable:
            launched["epc_harmonic"] = self._submit_epc_harmonic(beside_sscha="sscha" in launched)
        return ToContext(**launched)

    def _submit_sscha(self):
        inputs = AttributeDict(self.exposed_inputs(SschaWorkChain, namespace="sscha"))
        inputs.structure = self.ctx.structure
        inputs.dynamical_matrices = self.ctx.harmonic.outputs.dynamical_matrices
        inputs.metadata.call_link_label = "sscha"
        node = self.submit(SschaWorkChain, **inputs)
        self.report(
            f"step 2/4 SSCHA: launched SschaWorkChain<{node.pk}> ({inputs.engine.value} engine) "
            "from the harmonic matrices of the relaxed structure"
        )
        return node

    def sscha_launched(self) -> bool:
        return "sscha" in self.ctx

    def epc_harmonic_launched(self) -> bool:
        return "epc_harmonic" in self.ctx

    def inspect_sscha(self):
        node = self.ctx.sscha
        if not node.is_finished_ok:
            self.report(f"SschaWorkChain<{node.pk}> failed: exit {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_SSCHA
        self.out_many(self.exposed_outputs(node, SschaWorkChain, namespace="sscha"))
        verdict = node.outputs.verdict.get_dict()
        self.ctx.summary_inputs["sscha_verdict"] = node.outputs.verdict
        centroid = structure_summary(
            node.outputs.structure, metadata={"call_link_label": "sscha_structure_parameters"}
        )
        self.ctx.summary_inputs["sscha_structure_parameters"] = centroid
        harmonic = self.ctx.harmonic.outputs.structure_parameters
        self.report(
            "SSCHA centroids: "
            + ", ".join(
                f"{key.replace('_angstrom', '')} {harmonic[key]:.4f} -> {centroid[key]:.4f} Å"
                for key in ANHARMONIC_GEOMETRY_KEYS
                if harmonic.get(key) is not None and centroid.get(key) is not None
            )
        )
        lowest = verdict.get("lowest_hessian_cm1")
        hessian = "no Hessian" if lowest is None else f"lowest Hessian frequency {lowest:.1f} cm^-1"
        self.report(
            f"SSCHA verdict: {verdict['category']} ({hessian}; {verdict.get('message', '')})"
        )
        self.ctx.anharmonic_skip_reason = self._anharmonic_skip_reason(node)

    @staticmethod
    def _anharmonic_skip_reason(sscha) -> str | None:
        """Why the anharmonic branch cannot run after this SSCHA, or ``None`` when it can."""
        verdict = sscha.outputs.verdict.get_dict()
        if "hessian_dynamical_matrices" not in sscha.outputs:
            if not sscha.outputs.converged.value:
                count = len(sscha.outputs.populations.get_array("population"))
                return (
                    f"the SSCHA did not converge in {count} populations (max_populations), so "
                    f"there is no free-energy Hessian; verdict {verdict['category']}"
                )
            return "the SSCHA produced no free-energy Hessian (compute_hessian is False)"
        if verdict["category"] != "stable":
            return f"SSCHA verdict {verdict['category']}: {verdict.get('message', '')}"
        return None

    def _anharmonic_wanted(self) -> bool:
        return "sscha" in self.ctx and self.ctx.anharmonic_skip_reason is None

    def _one_pass(self) -> bool:
        return bool(self.ctx.get("one_pass"))

    def should_run_epc_harmonic(self) -> bool:
        if self.epc_harmonic_launched():  # beside the SSCHA (run_sscha_and_early_epc)
            return False
        if self.ctx.harmonic_stable:
            return True
        if self._anharmonic_wanted() and self._one_pass():
            self.report(
                "step 3/4 harmonic EPC: skipped (harmonic phonons unstable); the anharmonic branch "
                "uses the gamma matrices of the harmonic ph.x runs"
            )
            return False
        if self._anharmonic_wanted():
            self.report(
                "step 3/4 harmonic EPC: harmonic phonons unstable, run anyway for the anharmonic "
                "branch only (its ph.x gamma matrices and its matrices on the electron-phonon "
                "q-mesh); its lambda and Tc are not results"
            )
            return True
        self.report(
            "step 3/4 harmonic EPC: skipped (harmonic phonons unstable, no anharmonic branch)"
        )
        return False

    def _epc_inputs(self, label: str) -> AttributeDict:
        inputs = AttributeDict(self.exposed_inputs(ElectronPhononWorkChain, namespace="epc"))
        inputs.structure = self.ctx.structure
        inputs.mustar = self.inputs.mustar
        inputs.metadata.call_link_label = label
        return inputs

    def _given_matrices_inputs(self, label: str, matrices: orm.FolderData) -> AttributeDict:
        """EPC inputs for q2r.x/matdyn.x on ``matrices`` with the harmonic run's gamma matrices."""
        inputs = self._epc_inputs(label)
        for namespace in ("scf_dense", "scf", "ph"):  # no DFPT: the gamma matrices are there
            inputs.dfpt.pop(namespace, None)
        inputs.dynamical_matrices = matrices
        inputs.parent_elph_folder = self.ctx.elph["elph_folder"]
        return inputs

    def run_epc_harmonic(self):
        return ToContext(epc_harmonic=self._submit_epc_harmonic(beside_sscha=False))

    def _submit_epc_harmonic(self, beside_sscha: bool):
        if self._one_pass():
            inputs = self._given_matrices_inputs(
                "epc_harmonic", self.ctx.elph["dynamical_matrices"]
            )
            detail = (
                "the harmonic matrices with the gamma matrices of the harmonic ph.x runs "
                "(q2r.x/matdyn.x, no second ph.x)"
            )
        else:
            inputs = self._epc_inputs("epc_harmonic")
            detail = "the relaxed structure (own DFPT with electron_phonon)"
        if beside_sscha:
            # On one machine (direct scheduler) the two branches share its cores: q2r.x and
            # matdyn.x take half the MPI processes (one: no mpirun) beside the SSCHA's pw.x.
            nproc = [apply_shared_cores(inputs.dfpt[name][name], 2) for name in ("q2r", "matdyn")]
            detail += f", beside the SSCHA ({nproc[1]} MPI process{'es' if nproc[1] > 1 else ''})"
        node = self.submit(ElectronPhononWorkChain, **inputs)
        self.report(
            f"step 3/4 harmonic EPC: launched ElectronPhononWorkChain<{node.pk}> on {detail}"
        )
        return node

    def inspect_epc_harmonic(self):
        node = self.ctx.epc_harmonic
        if node.is_finished_ok:
            if "elph" not in self.ctx:
                self.ctx.elph = elph_outputs(node)
        else:
            self.report(f"harmonic ElectronPhononWorkChain<{node.pk}> failed: {node.exit_status}")
            if self.ctx.harmonic_stable:
                return self.exit_codes.ERROR_SUB_PROCESS_FAILED_EPC_HARMONIC
            # Run only for the anharmonic branch: its ph.x step is all that branch needs.
            if "elph" not in self.ctx:
                self.ctx.elph = elph_outputs(node)
            if self.ctx.elph is None:
                return self.exit_codes.ERROR_SUB_PROCESS_FAILED_EPC_HARMONIC
            self.report(
                "its ph.x step finished: its folder and matrices serve the anharmonic branch"
            )
            return None
        if not self.ctx.harmonic_stable:
            self.report(
                f"harmonic EPC<{node.pk}> finished; harmonic phonons unstable, so its lambda "
                f"({node.outputs.epc_summary['lambda']:.4f}) and Tc are not results"
            )
            return None
        self.out_many(self.exposed_outputs(node, ElectronPhononWorkChain, namespace="epc_harmonic"))
        self.ctx.summary_inputs["epc_summary_harmonic"] = node.outputs.epc_summary
        self.ctx.summary_inputs["eliashberg_harmonic"] = node.outputs.eliashberg
        self._report_tc("harmonic", node)
        return None

    def _report_tc(self, branch: str, node) -> None:
        result = node.outputs.eliashberg.get_dict()
        tcs = ", ".join(
            f"mu*={m:.2f}: {t:.2f} K"
            for m, t in zip(result["mustar"], result["tc_eliashberg_kelvin"], strict=True)
        )
        self.report(
            f"{branch}: lambda = {node.outputs.epc_summary['lambda']:.4f}, omega_log = "
            f"{result['omega_log_mev']:.2f} meV, Tc {tcs}"
        )

    def should_run_epc_anharmonic(self) -> bool:
        if "sscha" not in self.ctx:
            return False
        if self.ctx.anharmonic_skip_reason is not None:
            self.report(f"step 4/4 anharmonic EPC: skipped ({self.ctx.anharmonic_skip_reason})")
            return False
        return True

    def interpolate_anharmonic(self):
        """Hessian − harmonic (SSCHA grid) interpolated onto the electron-phonon q-mesh and added
        to the harmonic EPC run's own matrices there."""
        hessian = self.ctx.sscha.outputs.hessian_dynamical_matrices
        fine = self.ctx.elph["dynamical_matrices"]
        try:
            result = anharmonic_on_fine_grid(
                hessian,
                self.ctx.harmonic.outputs.dynamical_matrices,
                fine,
                metadata={"call_link_label": "anharmonic_on_epc_grid"},
            )
        except Exception as exc:  # the calcfunction node is marked excepted with the traceback
            self.report(f"anharmonic_on_fine_grid failed: {exc}")
            return self.exit_codes.ERROR_ANHARMONIC_INTERPOLATION.format(message=str(exc))
        frequencies = result["frequencies_cm1"]
        self.out("anharmonic_dynamical_matrices", result["dynamical_matrices"])
        self.out("anharmonic_frequencies_cm1", frequencies)
        self.ctx.anharmonic_matrices = result["dynamical_matrices"]
        self.ctx.summary_inputs["anharmonic_frequencies"] = frequencies
        lowest = lowest_frequency_cm1(
            frequencies.get_array("qpoints_crystal"), frequencies.get_array("frequencies_cm1")
        )
        coarse = "x".join(map(str, hessian.base.attributes.get("qpoints_mesh")))
        mesh = "x".join(map(str, fine.base.attributes.get("qpoints_mesh")))
        self.report(
            f"SSCHA Hessian correction ({coarse}) interpolated onto the electron-phonon q-mesh "
            f"{mesh} and added to the harmonic EPC run's matrices: lowest anharmonic frequency "
            f"{lowest:.1f} cm^-1 (acoustic modes at Gamma left out)"
        )
        return None

    def run_epc_anharmonic(self):
        inputs = self._given_matrices_inputs("epc_anharmonic", self.ctx.anharmonic_matrices)
        harmonic_summary = self.ctx.summary_inputs.get("epc_summary_harmonic")
        epc_harmonic = self.ctx.get("epc_harmonic")
        if harmonic_summary is None and epc_harmonic is not None:
            if "epc_summary" in epc_harmonic.outputs:
                harmonic_summary = epc_harmonic.outputs.epc_summary
        if harmonic_summary is not None:  # compare both branches at the same broadening
            inputs.broadening_index = orm.Int(harmonic_summary["chosen_index"])
        node = self.submit(ElectronPhononWorkChain, **inputs)
        self.report(
            f"step 4/4 ANHARMONIC EPC: launched ElectronPhononWorkChain<{node.pk}> on the "
            f"SSCHA-corrected matrices FolderData<{inputs.dynamical_matrices.pk}> with the gamma "
            f"matrices of q2r.x<{inputs.parent_elph_folder.creator.pk}> (q2r.x/matdyn.x, no "
            "second ph.x)"
        )
        return ToContext(epc_anharmonic=node)

    def inspect_epc_anharmonic(self):
        node = self.ctx.epc_anharmonic
        if not node.is_finished_ok:
            self.report(f"anharmonic ElectronPhononWorkChain<{node.pk}> failed: {node.exit_status}")
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_EPC_ANHARMONIC
        self.out_many(
            self.exposed_outputs(node, ElectronPhononWorkChain, namespace="epc_anharmonic")
        )
        self.ctx.summary_inputs["epc_summary_anharmonic"] = node.outputs.epc_summary
        self.ctx.summary_inputs["eliashberg_anharmonic"] = node.outputs.eliashberg
        self._report_tc("anharmonic", node)
        return None

    def _tc_uncertainty(self, branch: str) -> None:
        """``tc_uncertainty`` of one branch into the summary inputs; a failure is reported only."""
        node = self.ctx.get(f"epc_{branch}")
        if node is None or f"eliashberg_{branch}" not in self.ctx.summary_inputs:
            return
        inputs = {
            "eliashberg": node.outputs.eliashberg,
            "epc_summary": node.outputs.epc_summary,
            "settings": node.inputs.eliashberg_settings,
            **dict(node.outputs.alpha2f_broadenings),
        }
        sscha = self.ctx.get("sscha")
        if branch == "anharmonic" and sscha is not None:
            if "hessian_frequencies_cm1" in sscha.outputs:
                inputs["hessian_frequencies"] = sscha.outputs.hessian_frequencies_cm1
                inputs["tolerance_cm1"] = sscha.inputs.stability_tolerance_cm1
        result, calc = tc_uncertainty.run_get_node(
            **inputs, metadata={"call_link_label": f"tc_uncertainty_{branch}"}
        )
        if not calc.is_finished_ok:
            self.report(f"WARNING: {branch} Tc without uncertainty: {calc.exit_message}")
            return
        self.ctx.summary_inputs[f"tc_uncertainty_{branch}"] = result
        self.report(f"{branch}: {format_tc_uncertainty(result.get_dict())}")

    def results(self):
        for branch in ("harmonic", "anharmonic"):
            self._tc_uncertainty(branch)
        summary = collect_compound_results(
            **self.ctx.summary_inputs, metadata={"call_link_label": "collect_results"}
        )
        self.out("summary", summary)
        if self.inputs.tag.value:
            self._tag(summary.get_dict())

    def _tag(self, summary: dict) -> None:
        from ..query import tag_compound

        if summary["sscha_category"] is not None:
            category, stable = summary["sscha_category"], summary["sscha_category"] == "stable"
        else:
            stable = summary["harmonic_stable"]
            category = "stable" if stable else "unstable"
        extras = tag_compound(
            self.node,
            pair=self.ctx.pair,
            pressure_gpa=self.inputs.pressure_gpa.value,
            stability_category=category,
            stable=stable,
            mustar=self.inputs.mustar.get_list(),
            tc_harmonic_kelvin=summary.get("tc_harmonic_kelvin"),
            tc_anharmonic_kelvin=summary.get("tc_anharmonic_kelvin"),
            lambda_harmonic=summary.get("lambda_harmonic"),
            lambda_anharmonic=summary.get("lambda_anharmonic"),
            lambda_harmonic_tc=summary.get("lambda_from_a2f_harmonic"),
            lambda_anharmonic_tc=summary.get("lambda_from_a2f_anharmonic"),
        )
        source = "sscha" if summary["sscha_category"] is not None else "harmonic"
        self.node.base.extras.set("stability_source", source)
        geometry = {
            f"{prefix}{key}": summary[f"{prefix}{key}"]
            for prefix in ("", "sscha_")
            for key in ANHARMONIC_GEOMETRY_KEYS
            if summary.get(f"{prefix}{key}") is not None
        }
        self.node.base.extras.set_many(geometry)
        self.node.base.extras.set_many(
            {
                f"tc_{branch}_{key}_kelvin": summary[f"tc_{branch}_{key}_kelvin"]
                for branch in ("harmonic", "anharmonic")
                for key in ("central", "uncertainty")
                if summary.get(f"tc_{branch}_{key}_kelvin") is not None
            }
        )
        symbols = {site.kind_name for site in self.ctx.structure.sites}
        if not NON_GUESTS <= {self.ctx.structure.get_kind(k).symbol for k in symbols}:
            # Not a B-C clathrate (e.g. a test metal): record the real formula, not the pair's.
            self.node.base.extras.set("formula", self.ctx.structure.get_formula())
        self.report(
            f"tagged: {self.node.base.extras.get('formula')} stability {category} ({source}), stable={stable}, "
            f"Tc harmonic max {extras.get('tc_harmonic_max_kelvin')}, anharmonic max "
            f"{extras.get('tc_anharmonic_max_kelvin')}"
        )
        for branch in ("harmonic", "anharmonic"):
            if f"lambda_{branch}_tc" in extras:
                self.report(
                    f"{branch}: Tc from the lambda of the alpha^2F given to the solver, "
                    f"{extras[f'lambda_{branch}_tc']:.4f}; Quantum ESPRESSO's lambda "
                    f"{extras.get(f'lambda_{branch}', float('nan')):.4f} (matdyn.x; they differ "
                    "by the alpha^2F quadrature and its clipped negative parts)"
                )
