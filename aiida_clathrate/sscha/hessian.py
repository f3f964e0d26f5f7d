"""Free-energy Hessian of a minimised ensemble, with a memory guard on the v4 term (no AiiDA)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from .dynamical_matrix import supercell_frequencies_cm1

BYTES_PER_DOUBLE = 8


def v4_memory_bytes(n_atoms_supercell: int) -> int:
    """Memory of the fourth-order tensor: (3 N_atoms)^4 doubles."""
    if n_atoms_supercell < 1:
        raise ValueError(f"n_atoms_supercell must be positive, got {n_atoms_supercell}")
    return (3 * int(n_atoms_supercell)) ** 4 * BYTES_PER_DOUBLE


@dataclass
class HessianResult:
    """The Hessian matrix (cellconstructor ``Phonons``, Ry/bohr²), its supercell frequencies
    (cm⁻¹, translations removed, negative = imaginary), whether v4 was included and why not."""

    phonons: object
    frequencies_cm1: object
    included_v4: bool
    warning: str = ""


def free_energy_hessian(
    ensemble,
    include_v4: bool = True,
    memory_limit_bytes: int | None = None,
    fall_back_to_v3: bool = True,
) -> HessianResult:
    """``ensemble.get_free_energy_hessian`` on a minimised ensemble (its ``current_dyn``).

    With ``include_v4`` and a ``memory_limit_bytes`` below :func:`v4_memory_bytes`, either fall
    back to the v3-only Hessian with a warning or raise ``MemoryError`` (``fall_back_to_v3=False``).
    """
    n_atoms = ensemble.current_dyn.structure.N_atoms * int(ensemble.supercell.prod())
    warning = ""
    if include_v4 and memory_limit_bytes is not None:
        needed = v4_memory_bytes(n_atoms)
        if needed > memory_limit_bytes:
            message = (
                f"v4 needs {needed / 2**30:.3g} GiB for {n_atoms} atoms, above the limit of "
                f"{memory_limit_bytes / 2**30:.3g} GiB"
            )
            if not fall_back_to_v3:
                raise MemoryError(message)
            warning = f"{message}: Hessian computed without the fourth-order term"
            include_v4 = False
    with contextlib.redirect_stdout(io.StringIO()):
        hessian = ensemble.get_free_energy_hessian(include_v4=include_v4)
    return HessianResult(hessian, supercell_frequencies_cm1(hessian), include_v4, warning)
