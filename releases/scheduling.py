"""Time rules for release schedules and freeze windows: pure functions, no database.

Schedules are 5-field cron expressions evaluated in the *local wall-clock time* of an IANA
time zone, so "0 2 * * *" in Europe/Amsterdam means 02:00 Amsterdam time all year round
(01:00 UTC in winter, 00:00 UTC in summer). Every instant returned is an aware UTC datetime.

Daylight-saving rules (a schedule fires at most once per wall-clock time):

* Spring forward: a wall time that does not exist (02:30 on the night clocks jump from 02:00
  to 03:00) fires once, at the first valid instant after the gap (03:00 local). Several
  slots inside the gap, and a slot at 03:00 itself, collapse into that one firing.
* Fall back: a wall time that occurs twice (02:30 when clocks go from 03:00 back to 02:00)
  fires once, at its first occurrence. A consequence: "0 * * * *" does not fire in the
  repeated hour, so two firings are two hours apart that night.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterBadDateError, CroniterError

# Name and allowed range of each of the five cron fields, for error messages.
_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT"),
)

DEFAULT_SLOT_LIMIT = 1000


def validate_cron(expr: str) -> str:
    """Return ``expr`` normalised to single spaces, or raise ValueError saying what is wrong.

    Only the classic five fields are accepted (no seconds field, no ``@daily`` aliases), and an
    expression that can never fire, such as "0 0 30 2 *", is rejected.
    """
    fields = expr.split()
    if len(fields) != len(_FIELDS):
        raise ValueError(
            f"cron expression '{expr}' must have 5 fields "
            f"(minute hour day-of-month month day-of-week), it has {len(fields)}"
        )
    for index, (value, (name, allowed)) in enumerate(zip(fields, _FIELDS, strict=True)):
        # Checking each field alone (others '*') lets the message name the culprit.
        probe = ["*"] * len(_FIELDS)
        probe[index] = value
        try:
            croniter(" ".join(probe))
        except CroniterError as exc:
            problem = "is out of range" if "out of" in str(exc) else "is not valid"
            raise ValueError(f"{name} field '{value}' {problem} (allowed: {allowed})") from None
    normalised = " ".join(fields)
    try:
        croniter(normalised, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"cron expression '{normalised}' never matches a real date") from None
    return normalised


def validate_timezone(name: str) -> ZoneInfo:
    """Return the IANA time zone called ``name`` (e.g. "Europe/Amsterdam"), or raise ValueError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        # ZoneInfo raises ValueError for malformed keys such as "../etc" or "".
        raise ValueError(f"unknown time zone '{name}'") from None


def _as_utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC, refusing naive datetimes.

    Converting first matters: arithmetic on datetimes sharing a ZoneInfo is wall-clock
    arithmetic (Monday 07:00 minus 64 h lands on the wrong hour across DST), and a local time in
    a repeated hour never compares equal to a UTC one (PEP 495).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a time-zone-aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _gap_end(zone: ZoneInfo, lower: datetime, upper: datetime) -> datetime:
    """First UTC instant in (lower, upper] with the post-transition offset (zoneinfo lists no
    transitions, so bisect to the second)."""
    after_offset = upper.astimezone(zone).utcoffset()
    while upper - lower > timedelta(seconds=1):
        middle = lower + (upper - lower) / 2
        if middle.astimezone(zone).utcoffset() == after_offset:
            upper = middle
        else:
            lower = middle
    return upper.replace(microsecond=0)


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """Map a naive local wall time to the UTC instant it fires at, under the module's DST rules."""
    first = wall.replace(tzinfo=zone, fold=0)  # fold=0 is the first occurrence of a repeated time
    as_utc = first.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) == wall:
        return as_utc
    # The wall time does not exist. In a gap fold=1 uses the later offset (earlier instant) and
    # fold=0 the earlier offset (later instant); the transition lies between them.
    earliest = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _gap_end(zone, earliest, as_utc)


def _iter_slots(expr: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Yield the schedule's UTC instants strictly after ``after``, increasing, without duplicates.

    Iterating naive wall times keeps croniter away from DST; with fold=0 and gap times moved to
    the gap's end, the wall-to-UTC mapping never goes backwards, so "increasing" holds.
    """
    walls = croniter(expr, after.astimezone(zone).replace(tzinfo=None))
    previous: datetime | None = None
    while True:
        slot = _wall_to_utc(walls.get_next(datetime), zone)
        # Skips repeats (collapsed gap slots) and the repeated hour's first occurrences, which
        # fall before ``after`` when it lies in the second occurrence.
        if slot > after and slot != previous:
            previous = slot
            yield slot


def slots_between(
    expr: str, tz: str, after: datetime, until: datetime, *, limit: int = DEFAULT_SLOT_LIMIT
) -> list[datetime]:
    """Every scheduled instant in (after, until] as aware UTC datetimes, earliest first.

    At most ``limit`` slots are returned (the earliest ones), so a minute-by-minute schedule over
    a year cannot build a huge list; callers needing more can continue from the last slot.
    """
    expr, zone = validate_cron(expr), validate_timezone(tz)
    after, until = _as_utc(after, "after"), _as_utc(until, "until")
    slots: list[datetime] = []
    for slot in _iter_slots(expr, zone, after):
        if slot > until or len(slots) >= limit:
            break
        slots.append(slot)
    return slots


def next_slot(expr: str, tz: str, after: datetime) -> datetime:
    """The first scheduled instant strictly after ``after``, as an aware UTC datetime."""
    after = _as_utc(after, "after")
    return next(_iter_slots(validate_cron(expr), validate_timezone(tz), after))


def classify_due_slots(
    slots: list[datetime], now: datetime, grace: timedelta
) -> tuple[list[datetime], list[datetime]]:
    """Split the due slots (<= now) into (to_run, missed).

    Only the latest due slot runs, and only if it is at most ``grace`` old: a scheduler that was
    down for three nights runs once on recovery rather than three times. Every other due slot is
    missed. Slots in the future are in neither list. Both lists are sorted, duplicate-free, UTC.
    """
    now = _as_utc(now, "now")
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, got {grace}")
    due = sorted({slot for slot in (_as_utc(slot, "slot") for slot in slots) if slot <= now})
    if due and now - due[-1] <= grace:
        return [due[-1]], due[:-1]
    return [], due


@dataclass(frozen=True, kw_only=True)
class FreezeWindow:
    """A period in which releases must not deploy.

    Either one-off (``start``/``end``, aware datetimes, end exclusive) or recurring (``cron`` gives
    each start in the local time of ``tz``, ``duration`` its length). ``duration`` is elapsed
    time: "0 16 * * 5" for 64 hours ends Monday 08:00, or 07:00/09:00 local across a DST change.
    """

    reason: str
    start: datetime | None = None
    end: datetime | None = None
    cron: str = ""
    duration: timedelta | None = None
    tz: str = "UTC"

    def __post_init__(self) -> None:
        one_off = self.start is not None or self.end is not None
        recurring = bool(self.cron) or self.duration is not None
        if one_off and recurring:
            raise ValueError("a freeze window is either one-off (start/end) or recurring (cron/duration)")
        if one_off:
            self._validate_one_off()
        elif recurring:
            self._validate_recurring()
        else:
            raise ValueError("a freeze window needs start and end, or cron and duration")

    def _validate_one_off(self) -> None:
        if self.start is None or self.end is None:
            raise ValueError("a one-off freeze window needs both start and end")
        # Stored in UTC so comparisons and arithmetic are on instants, not wall times.
        object.__setattr__(self, "start", _as_utc(self.start, "start"))
        object.__setattr__(self, "end", _as_utc(self.end, "end"))
        if self.start >= self.end:
            raise ValueError(
                f"freeze start {self.start.isoformat()} must be before end {self.end.isoformat()}"
            )

    def _validate_recurring(self) -> None:
        if not self.cron:
            raise ValueError("a recurring freeze window needs a cron expression for its start")
        if self.duration is None or self.duration <= timedelta(0):
            raise ValueError(f"a recurring freeze window needs a positive duration, got {self.duration}")
        object.__setattr__(self, "cron", validate_cron(self.cron))
        validate_timezone(self.tz)

    @property
    def is_recurring(self) -> bool:
        return bool(self.cron)

    def active_at(self, when: datetime) -> bool:
        """Whether ``when`` falls inside this window (start inclusive, end exclusive)."""
        when = _as_utc(when, "when")
        if self.start is not None and self.end is not None:
            return self.start <= when < self.end
        assert self.duration is not None  # guaranteed by __post_init__
        # Only a start within ``duration`` before ``when`` can cover it: one cron step decides.
        return self._next_start(when - self.duration) <= when

    def active_period(self, when: datetime) -> tuple[datetime, datetime] | None:
        """The (start, end) of the freeze covering ``when``, or None if it is not frozen then.

        When recurring periods overlap, this is the one with the most recent start.
        """
        when = _as_utc(when, "when")
        if self.start is not None and self.end is not None:
            return (self.start, self.end) if self.start <= when < self.end else None
        assert self.duration is not None  # guaranteed by __post_init__
        lower, upper = when - self.duration, when
        if self._next_start(lower) > when:
            return None
        # Bisect to the second instead of scanning: a per-minute cron over weeks has tens of
        # thousands of starts. Invariant: the start after ``lower`` is <= when, after ``upper`` not.
        while upper - lower > timedelta(seconds=1):
            middle = lower + (upper - lower) / 2
            if self._next_start(middle) <= when:
                lower = middle
            else:
                upper = middle
        start = self._next_start(lower)
        return start, start + self.duration

    def _next_start(self, after: datetime) -> datetime:
        return next(_iter_slots(self.cron, ZoneInfo(self.tz), after))


def active_freeze(windows: list[FreezeWindow], when: datetime) -> FreezeWindow | None:
    """The first window in ``windows`` that is active at ``when``, or None."""
    return next((window for window in windows if window.active_at(when)), None)
