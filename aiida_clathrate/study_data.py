"""Everything a study's figures and report need, read from its nodes into plain dicts (read only).

:func:`gather_study` walks a ``StudyWorkChain``: its inputs, its output ``table`` and, for each
compound run, :func:`gather_compound`: the summary, the uncertainty of Tc where the summary has it,
the alpha^2F and the element-projected phonon DOS of each ``ElectronPhononWorkChain`` it called
(the first the harmonic one, a second the anharmonic one when the SSCHA ran) and the SSCHA
populations; then the ``ThermodynamicsWorkChain`` runs of the study's formulas. Every number
carries the PK of the node it was read from. Missing outputs (a failed compound, no SSCHA, no
electron-phonon step) give ``None``; nothing here raises on an incomplete study.

The result is what :mod:`aiida_clathrate.study_figures` and :mod:`aiida_clathrate.report` take.
"""

from __future__ import annotations

from aiida import orm

from .phonons import pdos_by_element
from .reference_study import LOW_FREQUENCY_CUTOFF_CM1, pair_key
from .structures import average_valence, formula
from .study_figures import low_frequency_share

BRANCHES = ("harmonic", "anharmonic")
PDOS_FILE = "phonon_dos.dat"
#: The study settings shown in the report (the study work chain's inputs).
SETTINGS_INPUTS = (
    "pairs",
    "pressures_gpa",
    "protocol",
    "run_sscha",
    "sscha_engine",
    "relax",
    "mustar",
    "pseudo_family",
    "num_mpiprocs",
    "max_concurrent_compounds",
    "codes",
    "overrides",
)


def _value(node: orm.Data):
    for getter in ("get_list", "get_dict"):
        if hasattr(node, getter):
            return getattr(node, getter)()
    return node.value if hasattr(node, "value") else str(node)


def _called(node: orm.ProcessNode, label: str) -> list[orm.ProcessNode]:
    return sorted((c for c in node.called if c.process_label == label), key=lambda c: c.pk)


def _called_as(node: orm.ProcessNode, link_label: str, process_label: str):
    """The process ``node`` called with this call link label (the last one), else ``None``."""
    linked = [
        link.node
        for link in node.base.links.get_outgoing(link_label_filter=link_label).all()
        if isinstance(link.node, orm.ProcessNode) and link.node.process_label == process_label
    ]
    return max(linked, key=lambda n: n.pk) if linked else None


def _element_pdos(epc: orm.WorkflowNode) -> dict | None:
    """The projected phonon DOS of an EPC run's DfptWorkChain, summed per element, or ``None``."""
    for dfpt in _called(epc, "DfptWorkChain"):
        if "alpha2f_files" not in dfpt.outputs or "structure" not in epc.inputs:
            continue
        folder = dfpt.outputs.alpha2f_files
        if PDOS_FILE not in folder.list_object_names():
            continue
        structure = epc.inputs.structure
        elements = [structure.get_kind(site.kind_name).symbol for site in structure.sites]
        try:
            frequency, curves = pdos_by_element(folder.get_object_content(PDOS_FILE), elements)
        except ValueError:
            return None
        return {
            "pdos_pk": folder.pk,
            "pdos_frequency_cm1": frequency.tolist(),
            "pdos": {element: values.tolist() for element, values in curves.items()},
        }
    return None


def gather_spectrum(epc: orm.WorkflowNode) -> dict:
    """alpha^2F, the low-frequency share of lambda and the projected phonon DOS of an EPC run."""
    from .calculations.eliashberg import xydata_to_alpha2f

    data: dict = {"epc_pk": epc.pk, "alpha2f_pk": None, "omega_mev": None, "alpha2f": None}
    data["low_frequency_share"] = None
    if "alpha2f" in epc.outputs:
        omega, a2f = xydata_to_alpha2f(epc.outputs.alpha2f)
        data.update(
            alpha2f_pk=epc.outputs.alpha2f.pk,
            omega_mev=omega.tolist(),
            alpha2f=a2f.tolist(),
            low_frequency_share=low_frequency_share(omega, a2f, LOW_FREQUENCY_CUTOFF_CM1),
        )
    data.update(_element_pdos(epc) or {"pdos_pk": None, "pdos_frequency_cm1": None, "pdos": None})
    return data


def _populations(sscha: orm.WorkflowNode) -> dict | None:
    if "populations" not in sscha.outputs:
        return None
    arrays = sscha.outputs.populations
    names = arrays.get_arraynames()
    if not {"n_configurations", "lowest_frequency_cm1"} <= set(names):
        return None
    return {
        "sscha_pk": sscha.pk,
        "populations_pk": arrays.pk,
        "n_configurations": arrays.get_array("n_configurations").tolist(),
        "lowest_frequency_cm1": arrays.get_array("lowest_frequency_cm1").tolist(),
    }


def gather_compound(node: orm.WorkflowNode) -> dict:
    """One compound run (a ``ClathrateSuperconductorWorkChain``) as a plain dict."""
    outputs = node.outputs
    summary = outputs.summary.get_dict() if "summary" in outputs else {}
    extras = node.base.extras.all
    pair = list(extras.get("clathrate_pair") or [])
    data: dict = {
        "pk": node.pk,
        "finished_ok": node.is_finished_ok,
        "exit_status": node.exit_status,
        "pair": pair,
        "formula": extras.get("formula") or node.inputs.structure.get_formula(),
        "pressure_gpa": node.inputs.pressure_gpa.value,
        "summary_pk": outputs.summary.pk if "summary" in outputs else None,
        "mustar": summary.get("mustar"),
        "harmonic_stable": summary.get("harmonic_stable"),
        "sscha_category": summary.get("sscha_category"),
        "lattice_parameter_angstrom": summary.get("lattice_parameter_angstrom"),
        "sscha_lattice_parameter_angstrom": summary.get("sscha_lattice_parameter_angstrom"),
        "harmonic_pk": next((c.pk for c in _called(node, "HarmonicPhononWorkChain")), None),
        "sscha_pk": None,
        "populations": None,
        "thermodynamics": {
            key: extras.get(key)
            for key in (
                "formation_enthalpy_mev_atom",
                "synthesis_temperature_k",
                "thermodynamics_pk",
            )
        },
    }
    for sscha in _called(node, "SschaWorkChain")[:1]:
        data["sscha_pk"] = sscha.pk
        data["populations"] = _populations(sscha)
    epcs = _called(node, "ElectronPhononWorkChain")
    for index, branch in enumerate(BRANCHES):
        # the compound calls them epc_harmonic and epc_anharmonic; else the harmonic one is the
        # first and an anharmonic one exists only beside an SSCHA run
        epc = _called_as(node, f"epc_{branch}", "ElectronPhononWorkChain")
        if epc is None and index < len(epcs) and (index == 0 or data["sscha_pk"]):
            epc = epcs[index]
        values = {
            "lambda": summary.get(f"lambda_{branch}"),
            "omega_log_mev": summary.get(f"omega_log_{branch}_mev"),
            "dos_ef_states_per_ev_spin": summary.get(f"dos_ef_{branch}_states_per_ev_spin"),
            "tc_kelvin": summary.get(f"tc_{branch}_kelvin"),
            "tc_central_kelvin": summary.get(f"tc_{branch}_central_kelvin"),
            "tc_uncertainty_kelvin": summary.get(f"tc_{branch}_uncertainty_kelvin"),
            "tc_uncertainty_components": summary.get(f"tc_{branch}_uncertainty"),
        }
        # a harmonic run without results (unstable harmonic phonons) still has its spectra,
        # drawn but labelled "not a result"
        values.update(gather_spectrum(epc) if epc is not None else {"epc_pk": None})
        data[branch] = values
    return data


def _thermodynamics(pairs: list[list[str]]) -> list[dict]:
    """The latest finished ThermodynamicsWorkChain of each pair, in any guest order (group
    clathrate/thermodynamics, extras ``clathrate_pair``)."""
    from .query import THERMODYNAMICS_GROUP

    wanted = {pair_key(pair) for pair in pairs}
    query = orm.QueryBuilder()
    query.append(orm.Group, filters={"label": THERMODYNAMICS_GROUP}, tag="group")
    query.append(orm.WorkflowNode, with_group="group", project="*")
    latest: dict[frozenset, orm.WorkflowNode] = {}
    for (node,) in query.all():
        pair = node.base.extras.get("clathrate_pair", None)
        if not pair or not node.is_finished_ok:
            continue
        key = pair_key(pair)
        if key in wanted and (key not in latest or node.pk > latest[key].pk):
            latest[key] = node
    rows = []
    for node in sorted(latest.values(), key=lambda n: n.base.extras.get("formula", "")):
        name = node.base.extras.get("formula", None)
        extras = node.base.extras.all
        data = node.outputs.thermodynamics.get_dict() if "thermodynamics" in node.outputs else {}
        rows.append(
            {
                "pk": node.pk,
                "formula": name,
                "pair": list(extras.get("clathrate_pair") or []),
                "pressures_gpa": extras.get("pressures_gpa"),
                "temperature_max_k": data.get("temperature_max_k"),
                "entropy_model": extras.get("entropy_model"),
                "synthesis_pressure_gpa": extras.get("synthesis_pressure_gpa"),
                "stable_pressure_gpa": extras.get("stable_pressure_gpa"),
            }
        )
    return rows


def gather_study(node: orm.WorkflowNode) -> dict:
    """A ``StudyWorkChain`` node as plain data: settings, rows (one per pair, each run gathered
    with :func:`gather_compound` where it has a compound node) and thermodynamics."""
    if node.process_label != "StudyWorkChain":
        raise ValueError(f"{node.process_label}<{node.pk}> is not a StudyWorkChain")
    settings = {name: _value(node.inputs[name]) for name in SETTINGS_INPUTS if name in node.inputs}
    table = node.outputs.table if "table" in node.outputs else None
    rows = []
    for row in table.get_dict()["rows"] if table is not None else []:
        pair = list(row["pair"])
        runs = []
        for run in row["runs"]:
            entry = {"pressure_gpa": run["pressure_gpa"], "pk": run.get("pk")}
            entry["verdict"] = run.get("verdict")
            if run.get("pk") is not None:
                entry["compound"] = gather_compound(orm.load_node(run["pk"]))
            runs.append(entry)
        rows.append(
            {
                "pair": pair,
                "formula": row.get("formula") or formula(pair[0], pair[-1]),
                "average_valence": average_valence(pair[0], pair[-1]),
                "category": row.get("category"),
                "lowest_stabilising_pressure_gpa": row.get("lowest_stabilising_pressure_gpa"),
                "runs": runs,
            }
        )
    return {
        "study": {
            "pk": node.pk,
            "label": node.label,
            "ctime": node.ctime.isoformat(timespec="seconds"),
            "state": node.process_state.value if node.process_state else None,
            "exit_status": node.exit_status,
            "exit_message": node.exit_message,
            "table_pk": table.pk if table is not None else None,
            "settings": settings,
        },
        "rows": rows,
        "thermodynamics": _thermodynamics([row["pair"] for row in rows]),
    }
