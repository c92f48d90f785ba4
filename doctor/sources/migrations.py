"""Placeholder until the migrations source is built: facts stay unknown, checks that need them skip."""

from doctor.sources import Context, Skipped


def gather(ctx: Context) -> None:
    raise Skipped("the migrations source is not built yet")
