"""Install the shipped PseudoDojo NC PBE SR pseudopotentials as an aiida-pseudo family with cutoffs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports this module for its labels: keep start-up free of the ORM
    from aiida import orm

#: Label of the family installed from the files shipped inside the package.
SHIPPED_FAMILY_LABEL = "clathrate/PseudoDojo-0.4-PBE-SR-noCC-NC"
SHIPPED_FOLDER = "PseudoDojo-0.4-PBE-SR-noCC-NC"

#: Recommended cutoffs (Ry) per protocol: ``stringent`` is the study's 80/640 Ry; ``fast`` is cheap
#: enough for tests and demos on two cores (the shared MLP data set uses the same 30/120 Ry).
CUTOFFS_RY_BY_PROTOCOL: dict[str, dict[str, float]] = {
    "fast": {"cutoff_wfc": 30.0, "cutoff_rho": 120.0},
    "balanced": {"cutoff_wfc": 60.0, "cutoff_rho": 240.0},
    "stringent": {"cutoff_wfc": 80.0, "cutoff_rho": 640.0},
}
DEFAULT_STRINGENCY = "balanced"


def shipped_pseudo_folder() -> Path:
    """Path of the UPF folder inside the installed package."""
    return Path(__file__).resolve().parent / "pseudos" / SHIPPED_FOLDER


def install_shipped_family(
    label: str = SHIPPED_FAMILY_LABEL, folder: Path | None = None
) -> tuple[orm.Group, bool]:
    """Install the shipped UPF files (or those of ``folder``, e.g. a subset of them) as a
    ``pseudo.family.cutoffs`` group with the protocols' cutoffs; reuse it if it exists.

    :returns: the family and whether it was created now.
    """
    from aiida_pseudo.data.pseudo import UpfData
    from aiida_pseudo.groups.family import CutoffsPseudoPotentialFamily

    try:
        return CutoffsPseudoPotentialFamily.collection.get(label=label), False
    except Exception:  # noqa: BLE001 - aiida raises NotExistent; anything else surfaces on create
        pass
    family = CutoffsPseudoPotentialFamily.create_from_folder(
        folder or shipped_pseudo_folder(),
        label,
        description="PseudoDojo v0.4 PBE SR noCC NC (CC BY 4.0), shipped with aiida-clathrate",
        pseudo_type=UpfData,
    )
    for stringency, cutoffs in CUTOFFS_RY_BY_PROTOCOL.items():
        per_element = {element: dict(cutoffs) for element in family.elements}
        family.set_cutoffs(per_element, stringency, unit="Ry")
    family.set_default_stringency(DEFAULT_STRINGENCY)
    return family, True


def load_family(label: str) -> orm.Group:
    """Load a pseudopotential family by label, with a hint on how to install it when missing."""
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    try:
        return orm.load_group(label)
    except NotExistent as exc:
        raise ValueError(
            f"pseudopotential family {label!r} is not installed: run `aiida-clathrate setup` for the "
            f"shipped {SHIPPED_FAMILY_LABEL!r}, or `aiida-pseudo install sssp` / `aiida-pseudo install "
            "pseudo-dojo` (needs internet) for the standard families"
        ) from exc


def recommended_cutoffs_ry(
    family: orm.Group, structure: orm.StructureData, protocol: str
) -> tuple[float, float]:
    """(ecutwfc, ecutrho) in Ry for ``structure``: the family's cutoffs for ``protocol`` when it has that
    stringency (our shipped family), otherwise its default recommendation (SSSP, PseudoDojo)."""
    stringencies = (
        family.get_cutoff_stringencies() if hasattr(family, "get_cutoff_stringencies") else []
    )
    stringency = protocol if protocol in stringencies else None
    return family.get_recommended_cutoffs(structure=structure, stringency=stringency, unit="Ry")
