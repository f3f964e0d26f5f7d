"""The study over guest pairs and pressures: ``StudyWorkChain`` (``clathrate.study``).

Each pair is scanned up the pressures (default 0, 5, 10, 15, 20 GPa) with the compound work chain
(``clathrate.compound``), at most ``max_concurrent_compounds`` compounds at a time over all pairs.
A pair's scan stops at its first stable pressure unless ``stop_at_stable`` is False (kernel:
:mod:`aiida_clathrate.study`); a failed
compound is reported and the scan goes on at the next pressure. The calcfunction ``study_table``
turns the compound summaries into one row per pair: the study category, the lowest stabilising
pressure and, per pressure, the verdict, lambda and Tc. Each compound node gets the extras
``study_category``, ``lowest_stabilising_pressure_gpa`` and ``study_pk``.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import WorkChain, append_, calcfunction, while_

from ..limits import pressures_error
from ..pseudo_family import SHIPPED_FAMILY_LABEL
from ..structures import clathrate, formula
from ..study import next_pressure, study_category
from ..validators import mustar_port
from .common import calcjob_options, failure, mpiprocs_per_machine, share_cores

DEFAULT_PRESSURES_GPA = (0.0, 5.0, 10.0, 15.0, 20.0)


def compound_verdict(summary: dict) -> str:
    """The verdict of one compound run: the SSCHA category, else the harmonic one."""
    if summary.get("sscha_category") is not None:
        return str(summary["sscha_category"])
    return "stable" if summary.get("harmonic_stable") else "unstable"


def _pair_key(pair: list[str]) -> str:
    return "-".join(pair)


@calcfunction
def study_table(index: orm.Dict, pressures_gpa: orm.List, **summaries) -> orm.Dict:
    """One row per pair from the compound summaries named in ``index`` (``r<i>``: pair, pressure,
    pk and whether it finished; a finished one has its ``summary`` as ``r<i>``)."""
    rows = {}
    for name, run in index.get_dict().items():
        pair = run["pair"]
        row = rows.setdefault(
            _pair_key(pair),
            {"pair": pair, "formula": formula(pair[0], pair[-1])},
        )
        entry = {"pressure_gpa": run["pressure_gpa"], "pk": run["pk"], "verdict": None}
        if name in summaries:
            summary = summaries[name].get_dict()
            entry["verdict"] = compound_verdict(summary)
            for key in (
                "lambda_harmonic",
                "lambda_anharmonic",
                "tc_harmonic_kelvin",
                "tc_anharmonic_kelvin",
                "tc_harmonic_central_kelvin",
                "tc_harmonic_uncertainty_kelvin",
                "tc_anharmonic_central_kelvin",
                "tc_anharmonic_uncertainty_kelvin",
                "lattice_parameter_angstrom",
                "sscha_lattice_parameter_angstrom",
            ):
                entry[key] = summary.get(key)
        row.setdefault("runs", []).append(entry)
    for row in rows.values():
        row["runs"].sort(key=lambda e: e["pressure_gpa"])
        category, pressure = study_category({e["pressure_gpa"]: e["verdict"] for e in row["runs"]})
        row["category"] = category
        row["lowest_stabilising_pressure_gpa"] = pressure
    return orm.Dict(
        {
            "pressures_gpa": pressures_gpa.get_list(),
            "rows": sorted(rows.values(), key=lambda row: row["formula"]),
        }
    )


class StudyWorkChain(WorkChain):
    """Compound work chains over pairs x pressures, each pair's scan stopping where it is stable."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("pairs", valid_type=orm.List, help="Guest pairs: [[X, Y], [X]] (X for XB3C3).")
        spec.input(
            "pressures_gpa",
            valid_type=orm.List,
            default=lambda: orm.List(list(DEFAULT_PRESSURES_GPA)),
            help="Pressures of the scan (GPa), scanned upwards.",
        )
        spec.input(
            "stop_at_stable",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="Stop a pair's scan at its first stable pressure (enough for the category); "
            "False runs every pressure (Tc(P) of compounds stable from the lowest one).",
        )
        spec.input("protocol", valid_type=orm.Str, default=lambda: orm.Str("fast"))
        spec.input(
            "codes",
            valid_type=orm.Dict,
            help="Code labels of the compound work chain: pw, ph, q2r, matdyn, and sscha with it.",
        )
        spec.input("run_sscha", valid_type=orm.Bool, default=lambda: orm.Bool(True))
        spec.input("sscha_engine", valid_type=orm.Str, default=lambda: orm.Str("dft"))
        spec.input("relax", valid_type=orm.Bool, default=lambda: orm.Bool(True))
        spec.input("mustar", **mustar_port())
        spec.input(
            "overrides",
            valid_type=orm.Dict,
            required=False,
            help="Overrides of every compound: {harmonic: {...}, epc: {...}, sscha: {...}}.",
        )
        spec.input(
            "pseudo_family", valid_type=orm.Str, default=lambda: orm.Str(SHIPPED_FAMILY_LABEL)
        )
        spec.input("num_mpiprocs", valid_type=orm.Int, default=lambda: orm.Int(1))
        spec.input("max_concurrent_compounds", valid_type=orm.Int, default=lambda: orm.Int(2))
        spec.inputs.validator = cls._validate_inputs
        spec.outline(
            cls.setup,
            while_(cls.compounds_pending)(cls.run_batch, cls.inspect_batch),
            cls.results,
        )
        spec.output("table", valid_type=orm.Dict, help="One row per pair: category and runs.")
        spec.exit_code(401, "ERROR_ALL_COMPOUNDS_FAILED", message="every compound failed")

    @staticmethod
    def _validate_inputs(inputs, _ctx=None) -> str | None:
        pairs = inputs["pairs"].get_list()
        if not pairs:
            return "pairs is empty"
        for pair in pairs:
            if not isinstance(pair, list) or not 1 <= len(pair) <= 2:
                return f"a pair is [X, Y] or [X], got {pair!r}"
            try:
                clathrate(pair[0], pair[-1])
            except (ValueError, TypeError) as exc:
                return f"pair {pair}: {exc}"
        if len({_pair_key(sorted(p)) for p in pairs}) != len(pairs):
            return f"repeated pairs in {pairs}"
        error = pressures_error("pressures_gpa", inputs["pressures_gpa"].get_list())
        if error:
            return error
        needed = {"pw", "ph", "q2r", "matdyn"} | ({"sscha"} if inputs["run_sscha"].value else set())
        missing = needed - set(inputs["codes"].get_dict())
        if missing:
            return f"codes lacks {sorted(missing)}"
        return None

    def setup(self):
        pairs = [list(p) for p in self.inputs.pairs.get_list()]
        self.ctx.pairs = pairs
        self.ctx.verdicts = {_pair_key(p): {} for p in pairs}
        first = min(self.inputs.pressures_gpa.get_list())
        self.ctx.queue = [[p, first] for p in pairs]
        self.ctx.index = {}
        self.ctx.batch = []
        self.report(
            f"{len(pairs)} pairs x up to {len(self.inputs.pressures_gpa)} pressures "
            f"({', '.join(f'{p:g}' for p in sorted(self.inputs.pressures_gpa.get_list()))} GPa), "
            f"at most {self.inputs.max_concurrent_compounds.value} compounds at a time"
        )

    def compounds_pending(self) -> bool:
        return bool(self.ctx.queue)

    def run_batch(self):
        from .compound import ClathrateSuperconductorWorkChain

        size = min(self.inputs.max_concurrent_compounds.value, len(self.ctx.queue))
        batch, self.ctx.queue = self.ctx.queue[:size], self.ctx.queue[size:]
        codes = {k: orm.load_code(v) for k, v in self.inputs.codes.get_dict().items()}
        options = share_cores(
            calcjob_options(self.inputs.num_mpiprocs.value), codes["pw"].computer, len(batch)
        )
        nproc = mpiprocs_per_machine(options)
        launched = []
        for pair, pressure in batch:
            x, y = pair[0], pair[-1]
            name = f"r{len(self.ctx.index)}"
            try:
                builder = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
                    codes,
                    orm.StructureData(ase=clathrate(x, y)),
                    self.inputs.protocol.value,
                    overrides=self.inputs.overrides.get_dict()
                    if "overrides" in self.inputs
                    else None,
                    pressure_gpa=pressure,
                    run_sscha=self.inputs.run_sscha.value,
                    sscha_engine=self.inputs.sscha_engine.value,
                    mustar=self.inputs.mustar.get_list(),
                    metals=tuple(pair),
                    pseudo_family=self.inputs.pseudo_family.value,
                    num_mpiprocs=nproc,
                    relax=self.inputs.relax.value,
                )
            except (ValueError, KeyError) as exc:
                self.report(f"{_pair_key(pair)} at {pressure:g} GPa: not launched ({exc})")
                self.ctx.index[name] = {"pair": pair, "pressure_gpa": pressure, "pk": None}
                self._advance(pair, pressure, None)
                continue
            builder.metadata.call_link_label = f"compound_{''.join(pair)}_{name}"
            node = self.submit(builder)
            self.ctx.index[name] = {"pair": pair, "pressure_gpa": pressure, "pk": node.pk}
            self.to_context(batch=append_(node))
            launched.append(f"{formula(x, y)} {pressure:g} GPa <{node.pk}>")
        if launched:
            self.report(f"launched {', '.join(launched)} ({nproc} MPI process(es) each)")

    def _advance(self, pair: list[str], pressure: float, verdict: str | None) -> None:
        """Record a verdict and queue the pair's next pressure, if its scan goes on."""
        verdicts = self.ctx.verdicts[_pair_key(pair)]
        verdicts[f"{pressure:g}"] = verdict
        scanned = {float(p): v for p, v in verdicts.items()}
        stop = self.inputs.stop_at_stable.value
        following = next_pressure(self.inputs.pressures_gpa.get_list(), scanned, stop)
        if following is not None:
            self.ctx.queue.append([pair, following])
        elif verdict == "stable" and stop:
            self.report(f"{_pair_key(pair)}: stable at {pressure:g} GPa; scan stops")

    def inspect_batch(self):
        by_pk = {run["pk"]: run for run in self.ctx.index.values() if run["pk"] is not None}
        for node in self.ctx.batch:
            run = by_pk[node.pk]
            verdict = None
            if node.is_finished_ok:
                verdict = compound_verdict(node.outputs.summary.get_dict())
                self.report(f"{node.label or _pair_key(run['pair'])}: {verdict}")
            else:
                self.report(
                    f"{_pair_key(run['pair'])} at {run['pressure_gpa']:g} GPa: {failure(node)}"
                )
            self._advance(run["pair"], run["pressure_gpa"], verdict)
        self.ctx.batch = []

    def results(self):
        summaries, index = {}, {}
        for name, run in self.ctx.index.items():
            index[name] = run
            if run["pk"] is None:
                continue
            node = orm.load_node(run["pk"])
            if node.is_finished_ok:
                summaries[name] = node.outputs.summary
        if not summaries:
            return self.exit_codes.ERROR_ALL_COMPOUNDS_FAILED
        table = study_table(
            orm.Dict(index),
            self.inputs.pressures_gpa,
            **summaries,
            metadata={"call_link_label": "study_table"},
        )
        self.out("table", table)
        from ..query import STUDY_GROUP

        for row in table.get_dict()["rows"]:
            for run in row["runs"]:
                if run["pk"] is None:
                    continue
                orm.load_node(run["pk"]).base.extras.set_many(
                    {
                        "study_category": row["category"],
                        "lowest_stabilising_pressure_gpa": row["lowest_stabilising_pressure_gpa"],
                        "study_pk": self.node.pk,
                    }
                )
            pressure = row["lowest_stabilising_pressure_gpa"]
            self.report(
                f"{row['formula']}: {row['category']}"
                + ("" if pressure is None else f" from {pressure:g} GPa")
                + f" ({len(row['runs'])} pressure(s) run)"
            )
        group, _ = orm.Group.collection.get_or_create(STUDY_GROUP)
        group.add_nodes(self.node)
        return None
