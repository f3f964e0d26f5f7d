"""Short, human-readable summaries of finished aiida-clathrate processes."""

from __future__ import annotations

from aiida import orm

from .eliashberg.uncertainty import format_components


def harmonic_summary(node: orm.WorkflowNode) -> dict[str, object]:
    """Key results of a ``HarmonicPhononWorkChain`` node (missing outputs give ``None``)."""
    outputs = node.outputs
    structure = (
        outputs.relaxed_structure if "relaxed_structure" in outputs else node.inputs.structure
    )
    params = outputs.structure_parameters.get_dict() if "structure_parameters" in outputs else {}
    return {
        "pk": node.pk,
        "process": node.process_label,
        "state": node.process_state.value if node.process_state else None,
        "exit_status": node.exit_status,
        "exit_message": node.exit_message,
        "formula": structure.get_formula(mode="hill_compact"),
        "pressure_gpa": node.inputs.pressure_gpa.value,
        "lattice_parameter_angstrom": params.get("lattice_parameter_angstrom"),
        "d_long_angstrom": params.get("d_long_angstrom"),
        "d_short_angstrom": params.get("d_short_angstrom"),
        "space_group_number": params.get("space_group_number"),
        "min_frequency_cm1": outputs.min_frequency_cm1.value
        if "min_frequency_cm1" in outputs
        else None,
        "dynamically_stable": outputs.dynamically_stable.value
        if "dynamically_stable" in outputs
        else None,
    }


def format_summary(summary: dict[str, object]) -> str:
    """Aligned ``key: value`` lines; floats to four decimals."""
    lines = []
    for key, value in summary.items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<28} {text}")
    return "\n".join(lines)


#: What the two lambdas of a compound summary are.
LAMBDA_NOTE = (
    "lambda_<branch>: Quantum ESPRESSO's (matdyn.x) at the chosen broadening; lambda_<branch>_tc: "
    "2*int(alpha^2F/omega) of the spectrum the Eliashberg solver took, whose negative parts are "
    "clipped: the lambda behind Tc"
)


def compound_summary(node: orm.WorkflowNode) -> dict[str, object]:
    """Key results of a ``ClathrateSuperconductorWorkChain`` node (missing outputs give ``None``)."""
    outputs = node.outputs
    summary = outputs.summary.get_dict() if "summary" in outputs else {}
    extras = node.base.extras.all
    result: dict[str, object] = {
        "pk": node.pk,
        "process": node.process_label,
        "state": node.process_state.value if node.process_state else None,
        "exit_status": node.exit_status,
        "exit_message": node.exit_message,
        "formula": extras.get("formula", node.inputs.structure.get_formula(mode="hill_compact")),
        "pressure_gpa": node.inputs.pressure_gpa.value,
        "lattice_parameter_angstrom": summary.get("lattice_parameter_angstrom"),
        "d_long_angstrom": summary.get("d_long_angstrom"),
        "d_short_angstrom": summary.get("d_short_angstrom"),
        "sscha_lattice_parameter_angstrom": summary.get("sscha_lattice_parameter_angstrom"),
        "sscha_d_long_angstrom": summary.get("sscha_d_long_angstrom"),
        "sscha_d_short_angstrom": summary.get("sscha_d_short_angstrom"),
        "harmonic_stable": summary.get("harmonic_stable"),
        "harmonic_min_frequency_cm1": summary.get("harmonic_min_frequency_cm1"),
        "sscha_category": summary.get("sscha_category"),
        "mustar": summary.get("mustar"),
    }
    for branch in ("harmonic", "anharmonic"):
        result[f"lambda_{branch}"] = summary.get(f"lambda_{branch}")
        result[f"lambda_{branch}_tc"] = summary.get(f"lambda_from_a2f_{branch}")
        result[f"omega_log_{branch}_mev"] = summary.get(f"omega_log_{branch}_mev")
        result[f"dos_ef_{branch}_states_per_ev_spin"] = summary.get(
            f"dos_ef_{branch}_states_per_ev_spin"
        )
        tcs = summary.get(f"tc_{branch}_kelvin")
        result[f"tc_{branch}_kelvin"] = (
            None if tcs is None else ", ".join(f"{tc:.2f}" for tc in tcs)
        )
        if summary.get(f"tc_{branch}_central_kelvin") is not None:
            result[f"tc_{branch}_with_uncertainty_kelvin"] = (
                f"{summary[f'tc_{branch}_central_kelvin']:.1f} ± "
                f"{summary[f'tc_{branch}_uncertainty_kelvin']:.1f} "
                + format_components(summary.get(f"tc_{branch}_uncertainty") or {})
            )
    if any(result.get(f"lambda_{branch}_tc") is not None for branch in ("harmonic", "anharmonic")):
        result["lambda_note"] = LAMBDA_NOTE
    # anharmonic_caveat: only in summaries of the removed ph.x trans=.false. path
    for key in ("anharmonic_lowest_frequency_cm1", "anharmonic_method", "anharmonic_caveat"):
        if key in summary:
            result[key] = summary[key]
    return result


def sscha_population_table(populations: orm.ArrayData) -> str:
    """The ``populations`` output of ``SschaWorkChain`` as an aligned text table, one row per
    population: configurations, DFT count, free energy ± error (eV per cell), Kong–Liu ratio,
    gradient/error ratio and the lowest auxiliary frequency (cm⁻¹, negative = imaginary)."""
    names = populations.get_arraynames()
    count = len(populations.get_array("population"))
    columns = {
        name: populations.get_array(name)
        for name in (
            "n_configurations",
            "n_dft",
            "free_energy_ev",
            "free_energy_error_ev",
            "kong_liu_ratio",
            "gradient_ratio_fc",
            "lowest_frequency_cm1",
        )
        if name in names
    }
    header = (
        f"{'pop':>3} {'N':>6} {'DFT':>6} {'F (eV)':>14} {'± (eV)':>9} {'KL':>6} "
        f"{'grad/err':>9} {'lowest (cm-1)':>13}"
    )
    lines = [header]
    for p in range(count):
        row = {name: values[p] for name, values in columns.items()}
        lines.append(
            f"{p + 1:>3} {int(row['n_configurations']):>6} {int(row.get('n_dft', 0)):>6} "
            f"{row['free_energy_ev']:>14.6f} {row['free_energy_error_ev']:>9.6f} "
            f"{row['kong_liu_ratio']:>6.3f} {row['gradient_ratio_fc']:>9.3g} "
            f"{row['lowest_frequency_cm1']:>13.1f}"
        )
    return "\n".join(lines)


def sscha_summary(node: orm.WorkflowNode) -> dict[str, object]:
    """Key results of a ``SschaWorkChain`` node with its population-by-population table under
    ``populations`` (missing outputs give ``None``)."""
    outputs = node.outputs

    def value(name):
        return outputs[name].value if name in outputs else None

    verdict = outputs.verdict.get_dict() if "verdict" in outputs else {}
    table = outputs.populations if "populations" in outputs else None
    return {
        "pk": node.pk,
        "process": node.process_label,
        "state": node.process_state.value if node.process_state else None,
        "exit_status": node.exit_status,
        "exit_message": node.exit_message,
        "engine": node.inputs.engine.value if "engine" in node.inputs else None,
        "temperature_kelvin": node.inputs.temperature_kelvin.value,
        "n_populations": None if table is None else len(table.get_array("population")),
        "n_dft_total": None if table is None else int(table.get_array("n_dft").sum()),
        "converged": value("converged"),
        "free_energy_ev": value("free_energy_ev"),
        "free_energy_error_ev": value("free_energy_error_ev"),
        "verdict": verdict.get("category"),
        "lowest_auxiliary_cm1": verdict.get("lowest_auxiliary_cm1"),
        "lowest_hessian_cm1": verdict.get("lowest_hessian_cm1"),
        "populations": "none" if table is None else "\n" + sscha_population_table(table),
    }
