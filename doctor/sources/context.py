"""What every source is handed (``Context``) and how it is declared (``Source``): the leaf the sources share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from netra_doctor.core.config import Target
from netra_doctor.core.facts import Facts, SourceStatus
from netra_doctor.core.records import record

if TYPE_CHECKING:
    from netra_doctor.sources.offline import Exports


@record
class Context:
    target: Target
    facts: Facts
    exports: Exports | None = None  # offline (--from DIR); None means live Google APIs
    # memory only, never saved: env name per workload -> value ("service:POSTGRES_PASSWORD")
    vault: dict[str, str | None] = field(default_factory=dict)
    passwords: dict[str, str | None] = field(default_factory=dict)  # workload -> password
    progress: Callable[[str, str], None] | None = None  # (source, state) for a live status line
    # per-run objects the sources share (the live API clients); anything with close() is closed
    # when gathering ends
    shared: dict[str, Any] = field(default_factory=dict)
    reached: set[str] = field(default_factory=set)  # milestones announced so far
    # sources that have ended, by name: a dependent quotes why its input is missing
    finished: dict[str, SourceStatus] = field(default_factory=dict)
    planned: set[str] = field(default_factory=set)  # the sources this run gathers (set by gather())
    _wake: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def live(self) -> bool:
        return self.exports is None

    def announce(self, milestone: str) -> None:
        """Part of a source's facts are final (e.g. "workloads"): sources waiting for it start now,
        before the announcing source ends (secrets need the workloads, not the serving revision)."""
        self.reached.add(milestone)
        if self._wake:
            self._wake()


SourceFn = Callable[[Context], None]


@record(frozen=True)
class Source:
    name: str
    fn: SourceFn
    after: tuple[str, ...] = ()  # source names or milestones
    provides: tuple[str, ...] = ()  # milestones it announces (reached at the latest when it ends)
