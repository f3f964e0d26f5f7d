"""A study's report as HTML and Markdown, from plain data (no AiiDA import).

:func:`report_sections` turns the data of :func:`aiida_clathrate.study_data.gather_study` into
sections of tables (cells are plain text, each number beside the PK of the node it comes from);
:func:`render_html` writes one self-contained page (inline CSS, figures as base64 PNG data URIs,
no external resource, every text escaped) and :func:`render_markdown` a Markdown file that links
figure files written next to it. The study's headline numbers come from
:mod:`aiida_clathrate.reference_study`; Tc is shown as central ± uncertainty where the summary
has them, else the Tc at the middle mu*.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .eliashberg.uncertainty import format_components
from .reference_study import (
    LOW_FREQUENCY_CUTOFF_CM1,
    LOW_FREQUENCY_LAMBDA_SHARE,
    SYNTHESIS_TEMPERATURE_K,
    headline_tc,
    synthesis_pressure_gpa,
)
from .study_figures import BRANCHES, tc_display

MISSING = "–"


@dataclass
class Table:
    """A table of plain-text cells."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""


@dataclass
class Section:
    """A titled section: paragraphs, then tables, then figures (names of the figure mapping)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)


def fmt(value, digits: int = 3) -> str:
    """A number with ``digits`` significant decimals, a list joined by commas, ``–`` for ``None``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, digits) for v in value) if value else MISSING
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return str(value)


def pk(value) -> str:
    return MISSING if value is None else str(value)


def tc_text(branch: Mapping | None) -> str:
    """``"63.9 ± 2.1"`` (K) where the uncertainty is known, else the Tc at the middle mu*."""
    tc, error = tc_display(branch)
    if tc is None:
        return MISSING
    return f"{tc:.1f}" if error is None else f"{tc:.1f} ± {error:.1f}"


def _components(branch: Mapping) -> str:
    parts = branch.get("tc_uncertainty_components")
    if not isinstance(parts, Mapping) or not parts:
        return MISSING
    return format_components(parts)


def _settings_table(settings: Mapping) -> Table:
    table = Table(["setting", "value"])
    for name, value in settings.items():
        if name == "pairs":
            value = ", ".join("-".join(p) for p in value)
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True)
        table.rows.append([name, fmt(value)])
    return table


def _category_table(rows: Sequence[Mapping]) -> Table:
    table = Table(
        ["pair", "formula", "n", "category", "lowest stabilising P (GPa)", "compound PKs"],
        caption="The study category of each pair (kernel: aiida_clathrate.study).",
    )
    for row in rows:
        table.rows.append(
            [
                "-".join(row["pair"]),
                row["formula"],
                fmt(row.get("average_valence"), 2),
                fmt(row.get("category")),
                fmt(row.get("lowest_stabilising_pressure_gpa"), 1),
                ", ".join(pk(run.get("pk")) for run in row["runs"]),
            ]
        )
    return table


def _overview_table(rows: Sequence[Mapping]) -> Table:
    table = Table(
        [
            "formula",
            "P (GPa)",
            "verdict",
            "compound PK",
            "a (Å)",
            "a SSCHA (Å)",
            "λ harm.",
            "λ anh.",
            "Tc harm. (K)",
            "Tc anh. (K)",
        ],
        caption="Every run of the study; Tc: central ± uncertainty where computed, else at the "
        "middle μ*. The sources of each number: the per-run tables below.",
    )
    for row in rows:
        for run in row["runs"]:
            compound = run.get("compound") or {}
            verdict = run.get("verdict") or ("not launched" if run.get("pk") is None else "failed")
            table.rows.append(
                [
                    row["formula"],
                    fmt(run["pressure_gpa"], 1),
                    verdict,
                    pk(run.get("pk")),
                    fmt(compound.get("lattice_parameter_angstrom"), 4),
                    fmt(compound.get("sscha_lattice_parameter_angstrom"), 4),
                    *(fmt((compound.get(b) or {}).get("lambda"), 3) for b in BRANCHES),
                    *(tc_text(compound.get(b)) for b in BRANCHES),
                ]
            )
    return table


def _run_table(row: Mapping, run: Mapping) -> Table:
    """One compound at one pressure: each quantity, harmonic and anharmonic, with its source."""
    compound = run["compound"]
    table = Table(
        ["quantity", "harmonic", "source PK", "anharmonic", "source PK"],
        caption=f"{row['formula']} at {run['pressure_gpa']:g} GPa, compound "
        f"{compound['pk']} ({'finished' if compound.get('finished_ok') else 'not finished ok'}), "
        f"summary {pk(compound.get('summary_pk'))}.",
    )
    rows = []
    rows.append(
        [
            "verdict",
            fmt("stable" if compound.get("harmonic_stable") else "unstable")
            if compound.get("harmonic_stable") is not None
            else MISSING,
            pk(compound.get("harmonic_pk")),
            fmt(compound.get("sscha_category")),
            pk(compound.get("sscha_pk")),
        ]
    )
    rows.append(
        [
            "lattice parameter (Å)",
            fmt(compound.get("lattice_parameter_angstrom"), 4),
            pk(compound.get("harmonic_pk")),
            fmt(compound.get("sscha_lattice_parameter_angstrom"), 4),
            pk(compound.get("sscha_pk")),
        ]
    )
    for cells in rows:
        for index in (1, 3):
            if cells[index] == MISSING:
                cells[index + 1] = MISSING
        table.rows.append(cells)
    summary_pk = pk(compound.get("summary_pk"))
    branches = [compound.get(b) or {} for b in BRANCHES]
    mustar = compound.get("mustar") or []
    quantities = (
        ("λ", lambda b: fmt(b.get("lambda"), 4), "epc_pk"),
        ("ω_log (meV)", lambda b: fmt(b.get("omega_log_mev"), 2), "epc_pk"),
        ("N(E_F) (states/eV/spin)", lambda b: fmt(b.get("dos_ef_states_per_ev_spin"), 3), "epc_pk"),
        (
            f"Tc (K) at μ* = {fmt(mustar, 2)}",
            lambda b: fmt(b.get("tc_kelvin"), 1),
            "epc_pk",
        ),
        ("Tc ± uncertainty (K), else at the middle μ*", tc_text, "tc"),
        ("uncertainty components", _components, "summary"),
        (
            f"λ share below {LOW_FREQUENCY_CUTOFF_CM1:g} cm⁻¹",
            lambda b: (
                MISSING
                if b.get("low_frequency_share") is None
                else f"{100 * b['low_frequency_share']:.1f} %"
            ),
            "alpha2f_pk",
        ),
    )
    for name, value, source in quantities:
        cells = [name]
        for branch in branches:
            text = value(branch)
            if source == "tc":  # the uncertainty is in the summary, a plain Tc in the EPC run
                source_pk = summary_pk if branch.get("tc_central_kelvin") is not None else None
                source_pk = source_pk or pk(branch.get("epc_pk"))
            elif source == "summary":
                source_pk = summary_pk
            else:
                source_pk = pk(branch.get(source))
            cells += [text, source_pk if text != MISSING else MISSING]
        table.rows.append(cells)
    return table


def _reference_table(rows: Sequence[Mapping]) -> Table:
    table = Table(
        ["compound", "P (GPa)", "Tc harm. ours (K)", "study", "Tc anh. ours (K)", "study", "PK"],
        caption="The study's headline Tc (isotropic Eliashberg) beside ours where the same "
        "compound and pressure were run ('unstable': harmonically unstable in the study).",
    )
    for row in rows:
        for run in row["runs"]:
            reference = headline_tc(row["pair"], run["pressure_gpa"])
            if reference is None or run.get("pk") is None:  # not that pressure, or not launched
                continue
            compound = run.get("compound") or {}
            study = [reference.tc_harmonic_kelvin, reference.tc_anharmonic_kelvin]
            table.rows.append(
                [
                    row["formula"],
                    fmt(run["pressure_gpa"], 1),
                    tc_text(compound.get("harmonic")),
                    "unstable" if study[0] is None else fmt(study[0], 0),
                    tc_text(compound.get("anharmonic")),
                    "unstable" if study[1] is None else fmt(study[1], 0),
                    pk(run.get("pk")),
                ]
            )
    return table


def _share_table(rows: Sequence[Mapping]) -> Table:
    table = Table(
        ["compound", "P (GPa)", "harmonic", "α²F PK", "anharmonic", "α²F PK"],
        caption=f"Share of λ from modes below {LOW_FREQUENCY_CUTOFF_CM1:g} cm⁻¹; the study: "
        + ", ".join(
            f"{name} {100 * share:.0f} %" for name, (_, share) in LOW_FREQUENCY_LAMBDA_SHARE.items()
        )
        + ".",
    )
    for row in rows:
        for run in row["runs"]:
            compound = run.get("compound") or {}
            cells = [row["formula"], fmt(run["pressure_gpa"], 1)]
            for branch in BRANCHES:
                values = compound.get(branch) or {}
                share = values.get("low_frequency_share")
                cells += [
                    MISSING if share is None else f"{100 * share:.1f} %",
                    pk(values.get("alpha2f_pk")),
                ]
            if cells[2] != MISSING or cells[4] != MISSING:
                table.rows.append(cells)
    return table


def _thermodynamics_table(entries: Sequence[Mapping]) -> Table:
    table = Table(
        [
            "compound",
            "T (K)",
            "synthesis P ours (GPa)",
            "study (GPa)",
            "stable P (GPa)",
            "pressures computed (GPa)",
            "PK",
        ],
        caption=f"Synthesis pressure: the lowest pressure where T*(P) reaches the synthesis "
        f"temperature; the study's at {SYNTHESIS_TEMPERATURE_K:.0f} K.",
    )
    for entry in entries:
        study = synthesis_pressure_gpa(entry["pair"]) if entry.get("pair") else None
        table.rows.append(
            [
                entry["formula"],
                fmt(entry.get("temperature_max_k"), 0),
                fmt(entry.get("synthesis_pressure_gpa"), 1),
                fmt(study, 0),
                fmt(entry.get("stable_pressure_gpa"), 1),
                fmt(entry.get("pressures_gpa"), 0),
                pk(entry.get("pk")),
            ]
        )
    return table


def _run_thermodynamics_table(rows: Sequence[Mapping]) -> Table:
    table = Table(
        ["compound", "P (GPa)", "ΔH formation (meV/atom)", "T* (K)", "thermodynamics PK"],
        caption="The extras a ThermodynamicsWorkChain left on the compound runs.",
    )
    for row in rows:
        for run in row["runs"]:
            extras = (run.get("compound") or {}).get("thermodynamics") or {}
            if extras.get("thermodynamics_pk") is None:
                continue
            table.rows.append(
                [
                    row["formula"],
                    fmt(run["pressure_gpa"], 1),
                    fmt(extras.get("formation_enthalpy_mev_atom"), 1),
                    fmt(extras.get("synthesis_temperature_k"), 0),
                    pk(extras.get("thermodynamics_pk")),
                ]
            )
    return table


def report_sections(data: Mapping, figure_names: Sequence[str] = ()) -> list[Section]:
    """The report's sections from gathered study data; ``figure_names`` go in a Figures section."""
    study = data["study"]
    settings = study.get("settings") or {}
    state = f"{fmt(study.get('state'))}, exit status {fmt(study.get('exit_status'))}"
    if study.get("exit_message"):
        state += f" ({study['exit_message']})"
    sections = [
        Section(
            "Settings",
            [
                f"StudyWorkChain {study['pk']}: {state}; created {fmt(study.get('ctime'))}; "
                f"output table {pk(study.get('table_pk'))}."
            ],
            [_settings_table(settings)],
        ),
        Section("Categories", tables=[_category_table(data["rows"])]),
        Section("Runs", tables=[_overview_table(data["rows"])]),
    ]
    details = [
        _run_table(row, run) for row in data["rows"] for run in row["runs"] if run.get("compound")
    ]
    sections.append(
        Section(
            "Per compound and pressure",
            [] if details else ["No compound node in this study."],
            details,
        )
    )
    reference = _reference_table(data["rows"])
    sections.append(
        Section(
            "Against the study",
            []
            if reference.rows
            else [
                "None of the study's headline compounds (SrB3C3 0 GPa, RbB3C3 15 GPa, KPbB6C6 "
                "0 GPa, KRbB6C6 0 GPa) was run at its pressure here."
            ],
            [reference] if reference.rows else [],
        )
    )
    shares = _share_table(data["rows"])
    sections.append(
        Section(
            "Low-frequency coupling",
            [] if shares.rows else [f"No α²F in this study; {shares.caption}"],
            [shares] if shares.rows else [],
        )
    )
    thermodynamics = data.get("thermodynamics") or []
    tables = [_thermodynamics_table(thermodynamics), _run_thermodynamics_table(data["rows"])]
    sections.append(
        Section(
            "Thermodynamics",
            []
            if thermodynamics
            else [
                "No finished ThermodynamicsWorkChain (group clathrate/thermodynamics) for a "
                "formula of this study."
            ],
            [table for table in tables if table.rows],
        )
    )
    if figure_names:
        sections.append(Section("Figures", figures=list(figure_names)))
    return sections


def title(data: Mapping) -> str:
    formulas = ", ".join(row["formula"] for row in data["rows"]) or "no pairs"
    return f"Clathrate study {data['study']['pk']}: {formulas}"


CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; } caption { caption-side: top; text-align: left; color: #555; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
"""


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(
    data: Mapping, figures_png: Mapping[str, bytes], captions: Mapping[str, str] = {}
) -> str:
    """One self-contained HTML page: the sections, the figures as base64 PNG data URIs."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title(data))}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title(data))}</h1>",
    ]
    for section in report_sections(data, list(figures_png)):
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{html.escape(text)}</p>" for text in section.paragraphs]
        parts += [_html_table(table) for table in section.tables]
        for name in section.figures:
            encoded = base64.b64encode(figures_png[name]).decode("ascii")
            caption = html.escape(captions.get(name, name))
            parts.append(
                f'<figure id="{html.escape(name)}"><img src="data:image/png;base64,{encoded}" '
                f'alt="{caption}"><figcaption>{caption}</figcaption></figure>'
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown_table(table: Table) -> str:
    lines = [f"*{_md_cell(table.caption)}*", ""] if table.caption else []
    lines.append("| " + " | ".join(_md_cell(c) for c in table.columns) + " |")
    lines.append("|" + "---|" * len(table.columns))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_markdown(
    data: Mapping, figure_files: Mapping[str, str], captions: Mapping[str, str] = {}
) -> str:
    """The report as Markdown; ``figure_files`` maps figure names to paths relative to it."""
    parts = [f"# {title(data)}"]
    for section in report_sections(data, list(figure_files)):
        parts.append(f"## {section.title}")
        parts += section.paragraphs
        parts += [_markdown_table(table) for table in section.tables]
        for name in section.figures:
            caption = _md_cell(captions.get(name, name))
            parts.append(f"![{caption}]({figure_files[name]})\n\n*{caption}*")
    return "\n\n".join(parts) + "\n"


def figures_png(data: Mapping, dpi: int = 110) -> dict[str, bytes]:
    """Every study figure (:func:`aiida_clathrate.study_figures.study_figures`) as PNG bytes."""
    import io

    import matplotlib.pyplot as plt

    from .study_figures import study_figures

    images = {}
    for name, figure in study_figures(data).items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        plt.close(figure)
        images[name] = buffer.getvalue()
    return images


def write_report(data: Mapping, output_dir, stem: str | None = None) -> tuple:
    """Write ``<stem>.html`` (self-contained), ``<stem>.md`` and its PNG figures into
    ``output_dir`` (created if missing); ``stem`` defaults to ``study_<pk>``. Returns the paths
    of the HTML and the Markdown files."""
    import pathlib

    from .study_figures import figure_captions

    folder = pathlib.Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or f"study_{data['study']['pk']}"
    images = figures_png(data)
    captions = figure_captions(list(images))
    files = {}
    for name, png in images.items():
        files[name] = f"{stem}_{name}.png"
        (folder / files[name]).write_bytes(png)
    html_path = folder / f"{stem}.html"
    html_path.write_text(render_html(data, images, captions), encoding="utf-8")
    markdown_path = folder / f"{stem}.md"
    markdown_path.write_text(render_markdown(data, files, captions), encoding="utf-8")
    return html_path, markdown_path
