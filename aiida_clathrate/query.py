"""Tag finished compounds with searchable extras and groups, and query them in one QueryBuilder call.

Every compound node (the top-level work chain of one compound) carries these extras:

- ``clathrate_pair`` (list of the guest symbols), ``formula``, ``average_valence``,
  ``pressure_gpa``, ``stability_category`` (free text, e.g. 'stable', 'auxiliary_only',
  'flat_soft_modes', 'unstable'), ``stable`` (bool);
- ``mustar`` (list), ``tc_harmonic_kelvin`` / ``tc_anharmonic_kelvin`` (lists aligned with
  ``mustar``, absent when that branch did not run), their maxima ``tc_harmonic_max_kelvin`` /
  ``tc_anharmonic_max_kelvin``, one scalar per mu* (``tc_anharmonic_kelvin_mustar_010`` for
  mu* = 0.10, so that a filter can name it), ``lambda_harmonic`` / ``lambda_anharmonic``
  (Quantum ESPRESSO's, matdyn.x at the chosen broadening) and ``lambda_harmonic_tc`` /
  ``lambda_anharmonic_tc`` (the lambda of the alpha^2F the Eliashberg solver was given: the one
  behind Tc; the two differ by the alpha^2F quadrature and the clipped negative parts).
- the geometry: ``lattice_parameter_angstrom``, ``d_long_angstrom``, ``d_short_angstrom`` of the
  relaxed (harmonic) structure and, after an SSCHA, the same with the prefix ``sscha_`` from its
  centroids and cell;
- after a thermodynamics run of the same formula and pressure: ``formation_enthalpy_mev_atom``,
  ``synthesis_temperature_k`` and ``thermodynamics_pk``.

It is put in the group ``clathrate/compounds`` and, when stable, in ``clathrate/stable``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiida import orm

from .eliashberg.mustar import check_mustar_value

COMPOUNDS_GROUP = "clathrate/compounds"
STABLE_GROUP = "clathrate/stable"
#: The pair runs of every screen (``PairScreeningWorkChain``), with their N(E_F) extras.
SCREENING_GROUP = "clathrate/screening"
#: Every ``ThermodynamicsWorkChain``, with its formation-enthalpy and synthesis extras.
THERMODYNAMICS_GROUP = "clathrate/thermodynamics"
#: Every ``StudyWorkChain``; its compounds carry ``study_category`` and
#: ``lowest_stabilising_pressure_gpa``.
STUDY_GROUP = "clathrate/studies"
BRANCHES = ("harmonic", "anharmonic")


def mustar_key(branch: str, mustar: float) -> str:
    """Extras key of Tc at one mu*: ``tc_<branch>_kelvin_mustar_010`` for mu* = 0.10."""
    if branch not in BRANCHES:
        raise ValueError(f"branch must be one of {BRANCHES}, got {branch!r}")
    value = check_mustar_value(mustar)
    return f"tc_{branch}_kelvin_mustar_{round(value * 100):03d}"


def compound_extras(
    pair: Sequence[str],
    pressure_gpa: float,
    stability_category: str,
    stable: bool,
    mustar: Sequence[float],
    tc_harmonic_kelvin: Sequence[float] | None = None,
    tc_anharmonic_kelvin: Sequence[float] | None = None,
    lambda_harmonic: float | None = None,
    lambda_anharmonic: float | None = None,
    lambda_harmonic_tc: float | None = None,
    lambda_anharmonic_tc: float | None = None,
) -> dict:
    """The extras dict of one compound (see the module docstring); raises ValueError on bad input."""
    from .structures import average_valence, formula

    guests = [str(symbol) for symbol in pair]
    if not 1 <= len(guests) <= 2:
        raise ValueError(f"pair must name one or two metals, got {list(pair)!r}")
    mustar = [float(m) for m in mustar]
    extras = {
        "clathrate_pair": guests,
        "formula": formula(*guests),
        "average_valence": float(average_valence(*guests)),
        "pressure_gpa": float(pressure_gpa),
        "stability_category": str(stability_category),
        "stable": bool(stable),
        "mustar": mustar,
    }
    for branch, tcs, lam, lam_tc in (
        ("harmonic", tc_harmonic_kelvin, lambda_harmonic, lambda_harmonic_tc),
        ("anharmonic", tc_anharmonic_kelvin, lambda_anharmonic, lambda_anharmonic_tc),
    ):
        if tcs is not None:
            tcs = [float(t) for t in tcs]
            if len(tcs) != len(mustar):
                raise ValueError(f"{len(tcs)} {branch} Tc values for {len(mustar)} mu* values")
            extras[f"tc_{branch}_kelvin"] = tcs
            extras[f"tc_{branch}_max_kelvin"] = max(tcs)
            for m, tc in zip(mustar, tcs, strict=True):
                extras[mustar_key(branch, m)] = tc
        if lam is not None:
            extras[f"lambda_{branch}"] = float(lam)
        if lam_tc is not None:
            extras[f"lambda_{branch}_tc"] = float(lam_tc)
    return extras


def tag_compound(node: orm.Node, **values) -> dict:
    """Set :func:`compound_extras` on a stored ``node`` and add it to the compound groups."""
    extras = compound_extras(**values)
    node.base.extras.set_many(extras)
    compounds, _ = orm.Group.collection.get_or_create(COMPOUNDS_GROUP)
    compounds.add_nodes(node)
    stable_group, _ = orm.Group.collection.get_or_create(STABLE_GROUP)
    if extras["stable"]:
        stable_group.add_nodes(node)
    else:
        stable_group.remove_nodes(node)
    return extras


def query_compounds(
    stable: bool | None = None,
    tc_min_kelvin: float | None = None,
    pressure_gpa: float | None = None,
    mustar: float | None = None,
    branch: str = "anharmonic",
    pressure_tolerance_gpa: float = 1e-3,
    study_category: str | None = None,
) -> list[dict]:
    """Compounds of the ``clathrate/compounds`` group matching all the given conditions.

    :param stable: only stable (True) or only unstable (False) compounds; None: both.
    :param tc_min_kelvin: Tc of ``branch`` strictly above this (at ``mustar``, or the largest Tc
        over the mu* values when ``mustar`` is None).
    :param pressure_gpa: pressure within ``pressure_tolerance_gpa``.
    :param study_category: the category a study gave the compound's pair
        (:mod:`aiida_clathrate.study`), e.g. ``stable_under_pressure``.
    :returns: one dict per node (pk plus the extras), highest Tc first.
    """
    if branch not in BRANCHES:
        raise ValueError(f"branch must be one of {BRANCHES}, got {branch!r}")
    tc_key = f"tc_{branch}_max_kelvin" if mustar is None else mustar_key(branch, mustar)
    filters: dict = {}
    if stable is not None:
        filters["extras.stable"] = bool(stable)
    if tc_min_kelvin is not None:
        filters[f"extras.{tc_key}"] = {">": float(tc_min_kelvin)}
    if study_category is not None:
        filters["extras.study_category"] = str(study_category)
    if pressure_gpa is not None:
        filters["extras.pressure_gpa"] = {
            "and": [
                {">=": float(pressure_gpa) - pressure_tolerance_gpa},
                {"<=": float(pressure_gpa) + pressure_tolerance_gpa},
            ]
        }
    builder = orm.QueryBuilder()
    builder.append(orm.Group, filters={"label": COMPOUNDS_GROUP}, tag="group")
    builder.append(
        orm.Node, with_group="group", filters=filters, project=["id", "attributes", "extras"]
    )
    rows = []
    for pk, _, extras in builder.all():
        row = {"pk": pk, **extras, "tc_kelvin": extras.get(tc_key)}
        rows.append(row)
    rows.sort(key=lambda r: -(r["tc_kelvin"] if r["tc_kelvin"] is not None else -1.0))
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table of :func:`query_compounds` rows."""
    header = f"{'PK':>6}  {'formula':<12} {'n':>5} {'P/GPa':>6}  {'stability':<18} {'lambda':>7} {'Tc/K':>7}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lam = row.get("lambda_anharmonic", row.get("lambda_harmonic"))
        tc = row.get("tc_kelvin")
        lines.append(
            f"{row['pk']:>6}  {row.get('formula', '?'):<12} {row.get('average_valence', 0):>5.2f} "
            f"{row.get('pressure_gpa', 0):>6.1f}  {row.get('stability_category', '?'):<18} "
            f"{'-' if lam is None else f'{lam:.3f}':>7} {'-' if tc is None else f'{tc:.1f}':>7}"
        )
    return "\n".join(lines)


def stable_pairs(pressure_gpa: float, up_to_gpa: float = 20.0) -> tuple[set, set]:
    """Guest pairs of the tagged compounds found stable at ``pressure_gpa`` (within 1e-3 GPa),
    and those found stable only at a higher pressure up to ``up_to_gpa``: the crosses and
    hexagons of the study's heat map. Pairs as frozensets of their metals."""
    qb = orm.QueryBuilder()
    qb.append(orm.Group, filters={"label": COMPOUNDS_GROUP}, tag="group")
    qb.append(
        orm.WorkflowNode,
        with_group="group",
        filters={"extras.stable": True},
        project=["extras.clathrate_pair", "extras.pressure_gpa"],
    )
    at_pressure, under_pressure = set(), set()
    for pair, pressure in qb.all():
        key = frozenset(pair)
        if abs(pressure - pressure_gpa) <= 1e-3:
            at_pressure.add(key)
        elif pressure_gpa < pressure <= up_to_gpa:
            under_pressure.add(key)
    return at_pressure, under_pressure - at_pressure


def query_screened(n_ef_min: float | None = None, pressure_gpa: float | None = None) -> list[dict]:
    """Screened pairs (group ``clathrate/screening``) with N(E_F) strictly above ``n_ef_min``
    (states/eV/B6C6) and at ``pressure_gpa`` (within 1e-3 GPa), highest N(E_F) first."""
    filters: dict = {}
    if n_ef_min is not None:
        filters["extras.n_ef_states_per_ev_b6c6"] = {">": float(n_ef_min)}
    if pressure_gpa is not None:
        filters["extras.pressure_gpa"] = {
            "and": [{">=": pressure_gpa - 1e-3}, {"<=": pressure_gpa + 1e-3}]
        }
    qb = orm.QueryBuilder()
    qb.append(orm.Group, filters={"label": SCREENING_GROUP}, tag="group")
    qb.append(
        orm.WorkflowNode,
        with_group="group",
        filters=filters,
        project=[
            "id",
            "extras.pair",
            "extras.average_valence",
            "extras.pressure_gpa",
            "extras.n_ef_states_per_ev_b6c6",
        ],
    )
    keys = ("pk", "pair", "average_valence", "pressure_gpa", "n_ef_states_per_ev_b6c6")
    rows = [dict(zip(keys, row, strict=True)) for row in qb.all()]
    return sorted(rows, key=lambda r: r["n_ef_states_per_ev_b6c6"], reverse=True)


def query_thermodynamics(synthesis_pressure_max_gpa: float | None = None) -> list[dict]:
    """Thermodynamics runs (group ``clathrate/thermodynamics``), lowest synthesis pressure first;
    with ``synthesis_pressure_max_gpa`` only those whose synthesis pressure (at the run's
    temperature, 4000 K by default) is at most that. Runs that never reach it come last."""
    filters: dict = {}
    if synthesis_pressure_max_gpa is not None:
        filters["extras.synthesis_pressure_gpa"] = {"<=": float(synthesis_pressure_max_gpa)}
    qb = orm.QueryBuilder()
    qb.append(orm.Group, filters={"label": THERMODYNAMICS_GROUP}, tag="group")
    qb.append(orm.WorkflowNode, with_group="group", filters=filters, project=["id", "extras"])
    keys = (
        "formula",
        "pressures_gpa",
        "formation_enthalpy_mev_atom",
        "synthesis_pressure_gpa",
        "stable_pressure_gpa",
        "entropy_model",
    )
    rows = [{"pk": pk, **{k: extras.get(k) for k in keys}} for pk, extras in qb.all()]

    def order(row: dict) -> tuple:
        pressure = row["synthesis_pressure_gpa"]
        return (pressure is None, pressure if pressure is not None else 0.0, row["pk"])

    return sorted(rows, key=order)
