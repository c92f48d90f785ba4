"""Placeholder until the database source is built: facts stay unknown, checks that need them skip."""

from doctor.sources import Context, Skipped


def gather(ctx: Context) -> None:
    raise Skipped("the database source is not built yet")
