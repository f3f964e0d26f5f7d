"""Click callbacks shared by the commands: a bad value is a usage error before anything runs."""

from __future__ import annotations

import click

from ..eliashberg.mustar import mustar_error, mustar_value_error


def mustar_list_callback(ctx: click.Context, param: click.Parameter, value):
    """``--mustar`` taking several values: check them all (an empty tuple is left to the command)."""
    if value is None or len(value) == 0:
        return value
    message = mustar_error(list(value))
    if message is not None:
        raise click.BadParameter(message, ctx=ctx, param=param)
    return tuple(float(m) for m in value)


def mustar_value_callback(ctx: click.Context, param: click.Parameter, value):
    """``--mustar`` taking one optional value: check it when given."""
    if value is None:
        return value
    message = mustar_value_error(value)
    if message is not None:
        raise click.BadParameter(message, ctx=ctx, param=param)
    return float(value)
