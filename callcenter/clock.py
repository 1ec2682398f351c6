"""The one clock: the current instant (aware UTC) and today's date in the company's time zone.

Built once by the wiring point (web app, scheduler, command line) and handed down; the
domain receives ``now=`` or ``today=`` from it and never reads the system time itself, so
a test or a replay sets the time by giving another source.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def system_time() -> datetime:
    """The machine's clock, aware UTC."""
    return datetime.now(UTC)


class Clock:
    """What time it is, and which calendar day it is where the company works."""

    def __init__(self, zone: str | ZoneInfo, source: Callable[[], datetime] = system_time) -> None:
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self._source = source

    def now(self) -> datetime:
        """The current instant, aware, in UTC (as every timestamp column stores it)."""
        return self._source().astimezone(UTC)

    def local_now(self) -> datetime:
        """The current instant in the company's time zone (office hours, cron-like rules)."""
        return self._source().astimezone(self.zone)

    def today(self) -> date:
        """Today's date in the company's time zone, not the server's nor UTC's."""
        return self.local_now().date()

    def day_of(self, instant: datetime) -> date:
        """The company-local calendar day of an instant."""
        return instant.astimezone(self.zone).date()

    def utc_bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        """Local midnight of ``first`` to local midnight after ``last`` (inclusive days), in UTC."""
        start = datetime.combine(first, time(0), tzinfo=self.zone)
        after = datetime.combine(last + timedelta(days=1), time(0), tzinfo=self.zone)
        return start.astimezone(UTC), after.astimezone(UTC)
