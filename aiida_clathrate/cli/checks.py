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
