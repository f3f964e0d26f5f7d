"""Formation enthalpy against the elements and the synthesis window of one clathrate:
``ThermodynamicsWorkChain`` (``clathrate.thermodynamics``).

At each pressure: a variable-cell relaxation of the compound and of every candidate phase of each
of its elements (``PwRelaxWorkChain``, all with the same pseudopotentials, cutoffs, smearing and
k-point spacing) -> the calcfunction ``formation_thermodynamics``: ΔH(P) per atom against the
lowest-enthalpy phase of each element, the configurational entropy of the chosen model, T*(P) and
the lowest pressure where T* falls to ``temperature_max_k`` (kernel:
:mod:`aiida_clathrate.thermodynamics`).

Elemental references are computed once: each relaxation carries the extra
``clathrate_thermodynamics_key`` (a hash of what it is, the pressure, the pseudopotential family,
the protocol and the settings), and a later run that needs the same one reuses the finished
relaxation instead of relaxing again. The compound's relaxations are keyed the same way.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

from aiida import orm
from aiida.engine import WorkChain, calcfunction, while_
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin
from aiida_quantumespresso.workflows.pw.relax import PwRelaxWorkChain

from .. import thermodynamics as thermo
from ..limits import pressures_error
from ..pseudo_family import SHIPPED_FAMILY_LABEL, load_family, recommended_cutoffs_ry
from ..structures import clathrate, formula
from ..validators import set_code_plugins
from .common import (
    calcjob_options,
    check_protocol_overrides,
    failure,
    load_codes,
    mpiprocs_per_machine,
    share_cores,
)
from .pw_inputs import pw_overrides, pw_relax_inputs

#: The extra that identifies a reusable relaxation (see the module docstring).
REFERENCE_KEY_EXTRA = "clathrate_thermodynamics_key"
#: Bumped when the meaning of a key changes, so that old relaxations are not reused.
_KEY_VERSION = 1
COMPOUND = "compound"
#: Override keys besides the protocol file's: the smearing (default: harmonic.yaml's) and the
#: cutoffs (default: the pseudopotential family's for the protocol).
OVERRIDE_KEYS = ("smearing", "degauss_ry", "ecutwfc_ry", "ecutrho_ry")


def reference_key(
    what: str, pressure_gpa: float, family: str, protocol: str, settings: dict
) -> str:
    """The reuse key of one relaxation: ``what`` is ``'K:bcc'`` or ``'compound:KRbB6C6'``."""
    payload = {
        "version": _KEY_VERSION,
        "what": what,
        "pressure_gpa": round(float(pressure_gpa), 6),
        "family": family,
        "protocol": protocol,
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def kpoints_mesh_for(structure: orm.StructureData, distance_per_angstrom: float) -> list[int]:
    """The Monkhorst-Pack mesh of ``structure`` at a k-point spacing (1/Å, 2π included)."""
    kpoints = orm.KpointsData()
    kpoints.set_cell_from_structure(structure)
    kpoints.set_kpoints_mesh_from_density(distance_per_angstrom)
    mesh, _ = kpoints.get_kpoints_mesh()
    return [int(n) for n in mesh]


def normalised_metals(metals: list[str]) -> tuple[str, str]:
    """``(X, Y)`` from ``[X]`` or ``[X, Y]`` (Y = X for XB3C3)."""
    if not 1 <= len(metals) <= 2:
        raise ValueError(f"metals must be [X] or [X, Y], got {metals}")
    return metals[0], metals[-1]


@calcfunction
def formation_thermodynamics(
    index: orm.Dict,
    metals: orm.List,
    pressures_gpa: orm.List,
    entropy_model: orm.Str,
    temperature_max_k: orm.Float,
    **relaxations,
) -> orm.Dict:
    """ΔH(P), S, T*(P) and the synthesis window from the relaxations named in ``index``
    (``t<i>_parameters`` and ``t<i>_structure`` of each finished one)."""
    x, y = normalised_metals(metals.get_list())
    compound = clathrate(x, y)
    symbols = compound.get_chemical_symbols()
    composition = {e: symbols.count(e) for e in sorted(set(symbols))}
    relaxed = {}
    for name, meta in index.get_dict().items():
        if f"{name}_parameters" not in relaxations:
            continue
        atoms = relaxations[f"{name}_structure"].get_ase()
        energy_ev = float(relaxations[f"{name}_parameters"]["energy"])
        volume = atoms.get_volume()
        relaxed[name] = {
            **meta,
            "enthalpy_ev_per_atom": thermo.enthalpy_ev(energy_ev, volume, meta["pressure_gpa"])
            / len(atoms),
            "volume_angstrom3_per_atom": volume / len(atoms),
        }
    rows, missing = [], []
    for pressure in pressures_gpa.get_list():
        at_p = [r for r in relaxed.values() if abs(r["pressure_gpa"] - pressure) < 1e-6]
        compound_row = next((r for r in at_p if r["element"] == COMPOUND), None)
        candidates = {e: {} for e in composition}
        for r in at_p:
            if r["element"] in candidates:
                candidates[r["element"]][r["phase"]] = r["enthalpy_ev_per_atom"]
        lacking = [e for e, phases in candidates.items() if not phases]
        if compound_row is None or lacking:
            missing.append({"pressure_gpa": pressure, "lacking": lacking or [COMPOUND]})
            continue
        references = thermo.element_references(candidates)
        delta_h = thermo.formation_enthalpy_ev_per_atom(
            compound_row["enthalpy_ev_per_atom"] * len(symbols),
            composition,
            {e: h for e, (_, h) in references.items()},
        )
        rows.append(
            {
                "pressure_gpa": float(pressure),
                "formation_enthalpy_mev_atom": 1e3 * delta_h,
                "reference_phases": {e: phase for e, (phase, _) in references.items()},
                "compound_enthalpy_ev_per_atom": compound_row["enthalpy_ev_per_atom"],
                "lattice_parameter_angstrom": float(
                    (compound_row["volume_angstrom3_per_atom"] * len(symbols)) ** (1 / 3)
                ),
            }
        )
    if not rows:
        raise ValueError(f"no pressure has the compound and every element relaxed: {missing}")
    pressures = [r["pressure_gpa"] for r in rows]
    delta_h_ev = [1e-3 * r["formation_enthalpy_mev_atom"] for r in rows]
    by_model = {}
    for model in thermo.ENTROPY_MODELS:
        entropy = thermo.configurational_entropy_kb_per_atom(symbols, model)
        window = thermo.synthesis_window(pressures, delta_h_ev, entropy, temperature_max_k.value)
        by_model[model] = {"configurational_entropy_kb_per_atom": entropy, **window}
    chosen = by_model[entropy_model.value]
    for row, temperature in zip(rows, chosen["synthesis_temperature_k"], strict=True):
        row["synthesis_temperature_k"] = temperature
    return orm.Dict(
        {
            "formula": formula(x, y),
            "composition": composition,
            "entropy_model": entropy_model.value,
            "configurational_entropy_kb_per_atom": chosen["configurational_entropy_kb_per_atom"],
            "temperature_max_k": temperature_max_k.value,
            "synthesis_pressure_gpa": chosen["synthesis_pressure_gpa"],
            "stable_pressure_gpa": chosen["stable_pressure_gpa"],
            "pressures_gpa": pressures,
            "rows": rows,
            "missing": missing,
            "by_entropy_model": {
                m: {k: v[k] for k in ("configurational_entropy_kb_per_atom", "synthesis_pressure_gpa")}
                for m, v in by_model.items()
            },
            "candidates": sorted(
                (
                    {k: r[k] for k in ("element", "phase", "pressure_gpa", "enthalpy_ev_per_atom",
                                       "volume_angstrom3_per_atom")}
                    for r in relaxed.values()
                ),
                key=lambda r: (r["element"], r["phase"], r["pressure_gpa"]),
            ),
        }
    )  # fmt: skip


class ThermodynamicsWorkChain(ProtocolMixin, WorkChain):
    """ΔH(P) against the elements, T*(P) and the synthesis window of one clathrate."""

    @classmethod
    def get_protocol_filepath(cls) -> pathlib.Path:
        return pathlib.Path(__file__).parent / "protocols" / "thermodynamics.yaml"

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("metals", valid_type=orm.List, help="[X, Y], or [X] for XB3C3.")
        spec.input("pressures_gpa", valid_type=orm.List, help="Pressures of the relaxations (GPa).")
        spec.input("protocol", valid_type=orm.Str, help="aiida-quantumespresso's relax protocol.")
        spec.input("pw_code", valid_type=orm.AbstractCode)
        spec.input(
            "pseudo_family", valid_type=orm.Str, default=lambda: orm.Str(SHIPPED_FAMILY_LABEL)
        )
        spec.input(
            "settings",
            valid_type=orm.Dict,
            help="What every relaxation shares: ecutwfc_ry, ecutrho_ry, smearing, degauss_ry, "
            "kpoints_distance_per_angstrom, conv_thr_per_atom, relax_meta_convergence.",
        )
        spec.input("phases", valid_type=orm.Dict, help="Candidate phases of each element.")
        spec.input(
            "entropy_model",
            valid_type=orm.Str,
            default=lambda: orm.Str(thermo.ENTROPY_MODELS[0]),
            help=f"Configurational-entropy model: {', '.join(thermo.ENTROPY_MODELS)}.",
        )
        spec.input("temperature_max_k", valid_type=orm.Float, default=lambda: orm.Float(4000.0))
        spec.input("num_mpiprocs", valid_type=orm.Int, default=lambda: orm.Int(1))
        spec.input("max_concurrent_relaxations", valid_type=orm.Int, default=lambda: orm.Int(2))
        spec.input(
            "reuse_references",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="Reuse finished relaxations with the same key (elements and the compound).",
        )
        spec.inputs.validator = cls._validate_inputs
        set_code_plugins(spec.inputs, "pw_code", "quantumespresso.pw")
        spec.outline(
            cls.setup,
            while_(cls.relaxations_pending)(cls.run_batch),
            cls.results,
        )
        spec.output(
            "thermodynamics",
            valid_type=orm.Dict,
            help="ΔH(P), the reference phases, S, T*(P), the synthesis and stability pressures.",
        )
        spec.exit_code(
            401, "ERROR_NO_PRESSURE", message="no pressure has every relaxation it needs: {message}"
        )

    @staticmethod
    def _validate_inputs(inputs, _ctx=None) -> str | None:
        try:
            x, y = normalised_metals(inputs["metals"].get_list())
            compound = clathrate(x, y)
        except (ValueError, KeyError) as exc:
            return f"metals: {exc}"
        error = pressures_error("pressures_gpa", inputs["pressures_gpa"].get_list())
        if error:
            return error
        if inputs["entropy_model"].value not in thermo.ENTROPY_MODELS:
            return (
                f"unknown entropy_model {inputs['entropy_model'].value!r}; known: "
                f"{', '.join(thermo.ENTROPY_MODELS)}"
            )
        phases = inputs["phases"].get_dict()
        for element in set(compound.get_chemical_symbols()):
            if not phases.get(element):
                return f"phases: no candidate phase for {element}"
            for phase in phases[element]:
                if phase not in thermo.phases_of(element):
                    return f"phases: {phase!r} is not a phase of {element}: {thermo.phases_of(element)}"
        return None

    @classmethod
    def get_builder_from_protocol(
        cls,
        pw_code: orm.AbstractCode | str,
        metals: list[str],
        protocol: str | None = None,
        pressures_gpa: list[float] | None = None,
        overrides: dict | None = None,
        pseudo_family: str = SHIPPED_FAMILY_LABEL,
        num_mpiprocs: int = 1,
        phases: dict[str, list[str]] | None = None,
    ):
        """Inputs from ``protocols/thermodynamics.yaml``; smearing from ``harmonic.yaml``.

        :param phases: candidate phases per element (default: every phase the kernel knows).
        """
        from .harmonic import HarmonicPhononWorkChain

        code = load_codes({"pw": pw_code}, {"pw"})["pw"]
        check_protocol_overrides(cls, overrides, OVERRIDE_KEYS)
        protocol = protocol or cls.get_default_protocol()
        inputs = cls.get_protocol_inputs(protocol, overrides)
        harmonic = HarmonicPhononWorkChain.get_protocol_inputs(protocol)
        x, y = normalised_metals(list(metals))
        compound = orm.StructureData(ase=clathrate(x, y))
        ecutwfc, ecutrho = recommended_cutoffs_ry(load_family(pseudo_family), compound, protocol)
        elements = sorted({site.kind_name for site in compound.sites})
        chosen = {e: list((phases or {}).get(e) or thermo.phases_of(e)) for e in elements}
        builder = cls.get_builder()
        builder.metals = orm.List([x, y])
        builder.pressures_gpa = orm.List(
            [float(p) for p in (pressures_gpa or inputs["pressures_gpa"])]
        )
        builder.protocol = orm.Str(protocol)
        builder.pw_code = code
        builder.pseudo_family = orm.Str(pseudo_family)
        builder.settings = orm.Dict(
            {
                "ecutwfc_ry": float(inputs.get("ecutwfc_ry", ecutwfc)),
                "ecutrho_ry": float(inputs.get("ecutrho_ry", ecutrho)),
                "smearing": inputs.get("smearing", harmonic["smearing"]),
                "degauss_ry": float(inputs.get("degauss_ry", harmonic["degauss_ry"])),
                "kpoints_distance_per_angstrom": float(inputs["kpoints_distance_per_angstrom"]),
                "conv_thr_per_atom": float(inputs["conv_thr_per_atom"]),
                "relax_meta_convergence": bool(inputs["relax_meta_convergence"]),
            }
        )
        builder.phases = orm.Dict(chosen)
        builder.entropy_model = orm.Str(inputs["entropy_model"])
        builder.temperature_max_k = orm.Float(inputs["temperature_max_k"])
        builder.num_mpiprocs = orm.Int(num_mpiprocs)
        builder.max_concurrent_relaxations = orm.Int(inputs["max_concurrent_relaxations"])
        name = formula(x, y)
        builder.metadata.label = f"thermodynamics {name}"
        builder.metadata.description = f"protocol={protocol}"
        return builder

    def setup(self):
        x, y = self.inputs.metals.get_list()
        self.ctx.formula = formula(x, y)
        phases = self.inputs.phases.get_dict()
        elements = sorted(set(clathrate(x, y).get_chemical_symbols()))
        tasks = []
        for pressure in self.inputs.pressures_gpa.get_list():
            tasks.append({"element": COMPOUND, "phase": self.ctx.formula, "pressure_gpa": pressure})
            for element in elements:
                for phase in phases[element]:
                    tasks.append({"element": element, "phase": phase, "pressure_gpa": pressure})
        # the compound's relaxations together, then the elements' by cell size: a batch waits for
        # its slowest member, so members of a batch should cost about the same
        tasks.sort(key=lambda t: (t["element"] != COMPOUND, -self._cell_size(t), t["pressure_gpa"]))
        self.ctx.tasks = {f"t{i}": task for i, task in enumerate(tasks)}
        self.ctx.order = list(self.ctx.tasks)
        self.ctx.next = 0
        self.ctx.reused = []
        listed = ", ".join(f"{e}: {'/'.join(phases[e])}" for e in elements)
        self.report(
            f"{self.ctx.formula}: {len(tasks)} relaxations ({len(self.inputs.pressures_gpa)} "
            f"pressures; phases {listed}), at most "
            f"{self.inputs.max_concurrent_relaxations.value} at a time"
        )

    @staticmethod
    def _cell_size(task: dict) -> int:
        if task["element"] == COMPOUND:
            return 14
        return len(thermo.reference_phase(task["element"], task["phase"]))

    def _structure(self, task: dict) -> orm.StructureData:
        if task["element"] == COMPOUND:
            x, y = self.inputs.metals.get_list()
            atoms = clathrate(x, y)
        else:
            atoms = thermo.reference_phase(task["element"], task["phase"], task["pressure_gpa"])
        return orm.StructureData(ase=atoms)

    def _key(self, task: dict) -> str:
        return reference_key(
            f"{task['element']}:{task['phase']}",
            task["pressure_gpa"],
            self.inputs.pseudo_family.value,
            self.inputs.protocol.value,
            self.inputs.settings.get_dict(),
        )

    def relaxations_pending(self) -> bool:
        return self.ctx.next < len(self.ctx.order)

    def _reusable(self, key: str):
        """The newest finished relaxation with this key, else None. Running ones are not waited
        for: one launched from a shell that has since ended would never finish."""
        if not self.inputs.reuse_references.value:
            return None
        qb = orm.QueryBuilder().append(
            PwRelaxWorkChain,
            filters={f"extras.{REFERENCE_KEY_EXTRA}": key},
            project="*",
        )
        finished = [n for (n,) in qb.all() if n.is_finished_ok]
        return max(finished, key=lambda n: n.ctime) if finished else None

    def _relax_inputs(self, structure: orm.StructureData, pressure_gpa: float, nproc: int):
        settings = self.inputs.settings.get_dict()
        protocol = self.inputs.protocol.value
        base = pw_overrides(
            structure,
            protocol,
            self.inputs.pseudo_family.value,
            settings["smearing"],
            settings["degauss_ry"],
            settings["conv_thr_per_atom"],
        )
        base["pw"]["parameters"]["SYSTEM"].update(
            ecutwfc=settings["ecutwfc_ry"], ecutrho=settings["ecutrho_ry"]
        )
        mesh = kpoints_mesh_for(structure, settings["kpoints_distance_per_angstrom"])
        return pw_relax_inputs(
            self.inputs.pw_code,
            structure,
            protocol,
            base,
            mesh,
            pressure_gpa,
            settings["relax_meta_convergence"],
            nproc,
        )

    def run_batch(self):
        stop = min(
            self.ctx.next + self.inputs.max_concurrent_relaxations.value, len(self.ctx.order)
        )
        to_run = []
        for name in self.ctx.order[self.ctx.next : stop]:
            task = self.ctx.tasks[name]
            key = self._key(task)
            node = self._reusable(key)
            if node is not None:
                self.ctx.reused.append(name)
                self.to_context(**{name: node})
            else:
                to_run.append((name, task, key))
        options = share_cores(
            calcjob_options(self.inputs.num_mpiprocs.value),
            self.inputs.pw_code.computer,
            max(len(to_run), 1),
        )
        nproc = mpiprocs_per_machine(options)
        for name, task, key in to_run:
            structure = self._structure(task)
            inputs = self._relax_inputs(structure, task["pressure_gpa"], nproc)
            inputs["structure"] = structure
            inputs["metadata"] = {
                "call_link_label": f"relax_{name}",
                "label": f"{task['element']} {task['phase']} {task['pressure_gpa']:g} GPa",
            }
            node = self.submit(PwRelaxWorkChain, **inputs)
            node.base.extras.set(REFERENCE_KEY_EXTRA, key)
            self.to_context(**{name: node})
        labels = [self.ctx.tasks[n] for n in self.ctx.order[self.ctx.next : stop]]
        self.report(
            f"relaxations {self.ctx.next + 1}..{stop} of {len(self.ctx.order)}: "
            + ", ".join(f"{t['phase']} {t['pressure_gpa']:g} GPa" for t in labels)
            + (f" ({len(labels) - len(to_run)} reused)" if len(to_run) < len(labels) else "")
        )
        self.ctx.next = stop

    def results(self):
        index, relaxations, failed = {}, {}, []
        for name in self.ctx.order:
            node = self.ctx[name]
            task = self.ctx.tasks[name]
            if not node.is_finished_ok:
                failed.append(f"{task['phase']} {task['pressure_gpa']:g} GPa: {failure(node)}")
                continue
            index[name] = task
            relaxations[f"{name}_parameters"] = node.outputs.output_parameters
            relaxations[f"{name}_structure"] = node.outputs.output_structure
        if failed:
            self.report(f"{len(failed)} relaxations failed: {'; '.join(failed)}")
        if self.ctx.reused:
            self.report(f"{len(self.ctx.reused)} relaxations reused from earlier runs")
        try:
            result = formation_thermodynamics(
                orm.Dict(index),
                self.inputs.metals,
                self.inputs.pressures_gpa,
                self.inputs.entropy_model,
                self.inputs.temperature_max_k,
                **relaxations,
                metadata={"call_link_label": "formation_thermodynamics"},
            )
        except ValueError as exc:
            self.report(str(exc))
            return self.exit_codes.ERROR_NO_PRESSURE.format(message=str(exc))
        self.out("thermodynamics", result)
        data = result.get_dict()
        for row in data["rows"]:
            temperature = row["synthesis_temperature_k"]
            self.report(
                f"{row['pressure_gpa']:g} GPa: ΔH = {row['formation_enthalpy_mev_atom']:.1f} "
                f"meV/atom against {', '.join(f'{e} {p}' for e, p in row['reference_phases'].items())}"
                f"; T* = {'-' if temperature is None else f'{temperature:.0f} K'}"
            )
        self.report(_window_line(data))
        self._tag(data)
        return None

    def _tag(self, data: dict) -> None:
        """Extras on this node and on the compound runs of the same formula at each pressure."""
        from ..query import COMPOUNDS_GROUP, THERMODYNAMICS_GROUP

        x, y = self.inputs.metals.get_list()
        self.node.base.extras.set_many(
            {
                "formula": data["formula"],
                "clathrate_pair": [x, y],
                "pressures_gpa": data["pressures_gpa"],
                "formation_enthalpy_mev_atom": [
                    r["formation_enthalpy_mev_atom"] for r in data["rows"]
                ],
                "synthesis_temperature_k": [r["synthesis_temperature_k"] for r in data["rows"]],
                "synthesis_pressure_gpa": data["synthesis_pressure_gpa"],
                "stable_pressure_gpa": data["stable_pressure_gpa"],
                "entropy_model": data["entropy_model"],
            }
        )
        group, _ = orm.Group.collection.get_or_create(THERMODYNAMICS_GROUP)
        group.add_nodes(self.node)
        qb = orm.QueryBuilder()
        qb.append(orm.Group, filters={"label": COMPOUNDS_GROUP}, tag="group")
        qb.append(
            orm.WorkflowNode,
            with_group="group",
            filters={"extras.formula": data["formula"]},
            project="*",
        )
        for (compound,) in qb.all():
            pressure = compound.base.extras.get("pressure_gpa", None)
            row = next(
                (r for r in data["rows"] if pressure is not None and abs(r["pressure_gpa"] - pressure) < 1e-3),
                None,
            )  # fmt: skip
            if row is not None:
                compound.base.extras.set_many(
                    {
                        "formation_enthalpy_mev_atom": row["formation_enthalpy_mev_atom"],
                        "synthesis_temperature_k": row["synthesis_temperature_k"],
                        "thermodynamics_pk": self.node.pk,
                    }
                )


def _window_line(data: dict) -> str:
    """One line on the synthesis window of ``formation_thermodynamics``'s output."""
    t_max = data["temperature_max_k"]
    synthesis, stable = data["synthesis_pressure_gpa"], data["stable_pressure_gpa"]
    top = max(data["pressures_gpa"])
    return (
        f"{data['formula']} ({data['entropy_model']}, S = "
        f"{data['configurational_entropy_kb_per_atom']:.3f} k_B/atom): "
        + (
            f"T* ≤ {t_max:.0f} K from {synthesis:.1f} GPa"
            if synthesis is not None
            else f"T* > {t_max:.0f} K up to {top:g} GPa"
        )
        + "; "
        + (f"ΔH ≤ 0 from {stable:.1f} GPa" if stable is not None else f"ΔH > 0 up to {top:g} GPa")
    )
