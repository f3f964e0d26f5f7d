"""Checks a launch command makes before it stores anything: each failure is one clear line and a
non-zero exit (``echo_critical``), never a traceback."""

from __future__ import annotations

from aiida.cmdline.utils import echo


def require_daemon() -> None:
    """Exit unless the profile's daemon runs (``--daemon`` would submit to nobody)."""
    from aiida.engine.daemon.client import get_daemon_client

    try:
        running = get_daemon_client().is_daemon_running
    except Exception as exc:  # noqa: BLE001 - a broken broker or config: say so, no traceback
        echo.echo_critical(
            f"--daemon: cannot reach the daemon ({exc}); start it: verdi daemon start"
        )
    if not running:
        echo.echo_critical(
            "--daemon: the daemon is not running; start it with `verdi daemon start` "
            "(or leave out --daemon to run in this shell)"
        )


def require_pseudo_family(label: str | None) -> str:
    """The family label to use (the shipped one when ``None``); exit if another is not installed."""
    from ..pseudo_family import SHIPPED_FAMILY_LABEL, load_family

    family = label or SHIPPED_FAMILY_LABEL
    if family != SHIPPED_FAMILY_LABEL:
        try:
            load_family(family)
        except ValueError as exc:
            echo.echo_critical(str(exc))
    return family


def load_mlp_model(pk: int, option: str):
    """The ``MlpModelData`` of ``pk``; exit naming ``option`` when there is none."""
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from ..data.model import MlpModelData

    try:
        node = orm.load_node(pk)
    except NotExistent:
        echo.echo_critical(f"{option} {pk}: no such node")
    if not isinstance(node, MlpModelData):
        echo.echo_critical(f"{option} {pk}: {type(node).__name__}, not a trained MlpModelData")
    return node


#: Code label (before ``@computer``) per ``codes`` key of the builders.
CODE_LABELS = {
    "pw": "pw",
    "ph": "ph",
    "q2r": "q2r",
    "matdyn": "matdyn",
    "dos": "dos",
    "projwfc": "projwfc",
    "sscha": "clathrate-sscha",
    "mlp": "clathrate-mlp",
}


def codes_on(computer: str, family: str, keys: list[str]) -> dict[str, str]:
    """The codes ``{label}@{computer}`` for the builders' ``codes`` ``keys``.

    On ``localhost`` the computer, the codes and the pseudopotential family are set up first
    (idempotent, as ``aiida-clathrate setup``). Any other computer must have every code already
    (``verdi code create``, docs/howto/cluster.md): a missing one exits naming it, before anything
    is stored; the shipped pseudopotential family is installed when it is the one used.
    """
    from aiida import orm
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    from ..localhost import COMPUTER_LABEL, setup_localhost
    from ..pseudo_family import SHIPPED_FAMILY_LABEL, install_shipped_family

    codes = {key: f"{CODE_LABELS[key]}@{computer}" for key in keys}
    if computer == COMPUTER_LABEL:
        setup_localhost(family)
        return codes
    try:
        orm.load_computer(computer)
    except (NotExistent, MultipleObjectsError):
        echo.echo_critical(
            f"--computer {computer}: no such computer; set it up with `verdi computer setup` "
            "(docs/howto/cluster.md)"
        )
    missing = []
    for label in codes.values():
        try:
            orm.load_code(label)
        except (NotExistent, MultipleObjectsError):
            missing.append(label)
    if missing:
        echo.echo_critical(
            f"--computer {computer}: missing code(s) {', '.join(missing)}; create each with "
            "`verdi code create core.code.installed --config code-NAME.yml` "
            "(examples/cluster/, docs/howto/cluster.md)"
        )
    if family == SHIPPED_FAMILY_LABEL:
        install_shipped_family()
    return codes
