"""Release schedules and freeze windows: cron in local wall-clock time, DST, missed runs."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from releases.scheduling import (
    FreezeWindow,
    active_freeze,
    classify_due_slots,
    next_slot,
    slots_between,
    validate_cron,
    validate_timezone,
)

AMS = "Europe/Amsterdam"
NYC = "America/New_York"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(zone: str, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold)


def day_slots(expr: str, tz: str, year: int, month: int, day: int) -> list[datetime]:
    """Slots of one local calendar day."""
    start = local(tz, year, month, day)
    return slots_between(expr, tz, start - timedelta(microseconds=1), start + timedelta(hours=23, minutes=59))


# --- validation -------------------------------------------------------------------------------


def test_it_normalises_whitespace_in_a_valid_cron_expression() -> None:
    assert validate_cron("  0   2 * *  1-5 ") == "0 2 * * 1-5"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "minute field '61' is out of range"),
        ("* 24 * * *", "hour field '24' is out of range"),
        ("* * 0 * *", "day-of-month field '0' is out of range"),
        ("* * * 13 *", "month field '13' is out of range"),
        ("* * * * 8", "day-of-week field '8' is out of range"),
        ("x * * * *", "minute field 'x' is not valid"),
        ("*/0 * * * *", "minute field '*/0' is not valid"),
        ("0 2 * *", "must have 5 fields"),
        ("0 0 2 * * *", "must have 5 fields"),
        ("@daily", "must have 5 fields"),
        ("", "must have 5 fields"),
        ("0 0 30 2 *", "never matches a real date"),
    ],
)
def test_it_rejects_bad_cron_expressions_with_a_clear_message(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_cron(expr)


def test_it_accepts_known_time_zones() -> None:
    assert validate_timezone(AMS) == ZoneInfo(AMS)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_it_rejects_unknown_time_zones(name: str) -> None:
    with pytest.raises(ValueError, match=f"unknown time zone '{name}'"):
        validate_timezone(name)


def test_it_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="after must be a time-zone-aware datetime"):
        slots_between("0 2 * * *", AMS, datetime(2026, 1, 1), utc(2026, 1, 2))


# --- slots in local time ----------------------------------------------------------------------


def test_it_fires_a_nightly_amsterdam_schedule_at_0100_utc_in_winter_and_0000_utc_in_summer() -> None:
    assert day_slots("0 2 * * *", AMS, 2026, 1, 15) == [utc(2026, 1, 15, 1)]
    assert day_slots("0 2 * * *", AMS, 2026, 7, 15) == [utc(2026, 7, 15, 0)]


def test_it_returns_aware_utc_datetimes_for_inputs_in_any_zone() -> None:
    slots = slots_between("0 9 * * *", NYC, local(NYC, 2026, 1, 5), local(NYC, 2026, 1, 6, 12))
    assert slots == [utc(2026, 1, 5, 14), utc(2026, 1, 6, 14)]
    assert all(slot.tzinfo is UTC for slot in slots)


def test_it_fires_local_midnight_on_the_previous_utc_day() -> None:
    # Midnight in Tokyo (UTC+9) is 15:00 UTC the day before.
    assert slots_between("0 0 * * *", "Asia/Tokyo", utc(2026, 5, 1), utc(2026, 5, 2)) == [utc(2026, 5, 1, 15)]


def test_it_evaluates_day_of_week_in_local_time_across_utc_midnight() -> None:
    # Monday 23:30 in New York is Tuesday 04:30 UTC; Monday 00:30 in Amsterdam is Sunday 23:30 UTC.
    assert next_slot("30 23 * * 1", NYC, utc(2026, 1, 1)) == utc(2026, 1, 6, 4, 30)
    assert next_slot("30 0 * * 1", AMS, utc(2026, 1, 1)) == utc(2026, 1, 4, 23, 30)


def test_it_excludes_the_start_of_the_window_and_includes_its_end() -> None:
    slots = slots_between("0 * * * *", "UTC", utc(2026, 1, 1, 10), utc(2026, 1, 1, 12))
    assert slots == [utc(2026, 1, 1, 11), utc(2026, 1, 1, 12)]


def test_it_returns_nothing_for_an_empty_window() -> None:
    assert slots_between("* * * * *", "UTC", utc(2026, 1, 2), utc(2026, 1, 1)) == []


def test_it_caps_the_number_of_slots_of_a_long_window() -> None:
    slots = slots_between("* * * * *", AMS, utc(2026, 1, 1), utc(2027, 1, 1))
    assert len(slots) == 1000
    assert slots[0] == utc(2026, 1, 1, 0, 1)
    assert slots[-1] == utc(2026, 1, 1, 16, 40)
    assert len(slots_between("* * * * *", AMS, utc(2026, 1, 1), utc(2027, 1, 1), limit=5)) == 5


def test_next_slot_is_strictly_after_the_given_instant() -> None:
    assert next_slot("0 2 * * *", AMS, utc(2026, 1, 15, 1)) == utc(2026, 1, 16, 1)
    assert next_slot("0 2 * * *", AMS, utc(2026, 1, 15, 0, 59)) == utc(2026, 1, 15, 1)


# --- daylight saving time ---------------------------------------------------------------------


def test_it_fires_a_wall_time_inside_the_spring_gap_once_when_the_gap_ends() -> None:
    # 2026-03-29 in Amsterdam: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist.
    assert day_slots("30 2 * * *", AMS, 2026, 3, 28) == [utc(2026, 3, 28, 1, 30)]
    assert day_slots("30 2 * * *", AMS, 2026, 3, 29) == [utc(2026, 3, 29, 1)]
    assert day_slots("30 2 * * *", AMS, 2026, 3, 30) == [utc(2026, 3, 30, 0, 30)]


def test_it_collapses_gap_slots_and_the_slot_at_the_gap_end_into_one_firing() -> None:
    assert day_slots("0,30 2,3 * * *", AMS, 2026, 3, 29) == [utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)]


def test_it_never_duplicates_slots_around_the_spring_gap() -> None:
    slots = slots_between("*/15 * * * *", AMS, utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))
    assert slots == [
        utc(2026, 3, 29, 0, 15),  # 01:15 CET
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 0, 45),
        utc(2026, 3, 29, 1, 0),  # 02:00-02:45 (missing) and 03:00 CEST, once
        utc(2026, 3, 29, 1, 15),  # 03:15 CEST
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 1, 45),
        utc(2026, 3, 29, 2, 0),
    ]


def test_it_fires_a_repeated_autumn_wall_time_once_at_its_first_occurrence() -> None:
    # 2026-10-25 in Amsterdam: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:30 happens twice.
    assert day_slots("30 2 * * *", AMS, 2026, 10, 25) == [utc(2026, 10, 25, 0, 30)]
    assert day_slots("30 2 * * *", AMS, 2026, 10, 26) == [utc(2026, 10, 26, 1, 30)]


def test_it_skips_the_repeated_hour_of_an_hourly_schedule() -> None:
    slots = slots_between("0 * * * *", AMS, utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))
    # 02:00 CEST (00:00 UTC), then 03:00 CET (02:00 UTC): the second 02:00 does not fire again.
    assert slots == [utc(2026, 10, 25, 0), utc(2026, 10, 25, 2), utc(2026, 10, 25, 3)]


def test_it_does_not_fire_again_when_the_window_starts_in_the_repeated_hour() -> None:
    second_0210 = local(AMS, 2026, 10, 25, 2, 10, fold=1)
    assert second_0210.astimezone(UTC) == utc(2026, 10, 25, 1, 10)
    assert next_slot("30 2 * * *", AMS, second_0210) == utc(2026, 10, 26, 1, 30)


def test_it_handles_the_new_york_spring_gap_and_autumn_overlap() -> None:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC). 2026-11-01: 02:00 EDT falls back to 01:00 EST.
    assert day_slots("30 2 * * *", NYC, 2026, 3, 8) == [utc(2026, 3, 8, 7)]
    assert day_slots("30 1 * * *", NYC, 2026, 11, 1) == [utc(2026, 11, 1, 5, 30)]  # 01:30 EDT
    assert day_slots("30 1 * * *", NYC, 2026, 11, 2) == [utc(2026, 11, 2, 6, 30)]  # 01:30 EST


# --- due and missed slots ---------------------------------------------------------------------

NIGHTS = [utc(2026, 1, 1, 1), utc(2026, 1, 2, 1), utc(2026, 1, 3, 1)]


def test_a_scheduler_down_for_three_nights_runs_once_and_records_two_missed() -> None:
    to_run, missed = classify_due_slots(NIGHTS, utc(2026, 1, 3, 1, 10), timedelta(minutes=30))
    assert to_run == [utc(2026, 1, 3, 1)]
    assert missed == [utc(2026, 1, 1, 1), utc(2026, 1, 2, 1)]


def test_nothing_runs_when_the_latest_due_slot_is_beyond_the_grace_period() -> None:
    to_run, missed = classify_due_slots(NIGHTS, utc(2026, 1, 3, 2), timedelta(minutes=30))
    assert to_run == []
    assert missed == NIGHTS


def test_a_slot_exactly_at_the_grace_limit_still_runs() -> None:
    assert classify_due_slots(NIGHTS, utc(2026, 1, 3, 1, 30), timedelta(minutes=30))[0] == [NIGHTS[-1]]


def test_future_slots_are_neither_run_nor_missed_and_duplicates_count_once() -> None:
    slots = [NIGHTS[2], NIGHTS[0], NIGHTS[0], utc(2026, 1, 4, 1)]
    to_run, missed = classify_due_slots(slots, NIGHTS[2], timedelta(0))
    assert (to_run, missed) == ([NIGHTS[2]], [NIGHTS[0]])


def test_slots_given_in_local_time_are_classified_and_returned_in_utc() -> None:
    slots = [local(AMS, 2026, 10, 25, 2, 30), local(AMS, 2026, 10, 25, 2, 30, fold=1)]
    to_run, missed = classify_due_slots(slots, utc(2026, 10, 25, 2), timedelta(hours=1))
    assert (to_run, missed) == ([utc(2026, 10, 25, 1, 30)], [utc(2026, 10, 25, 0, 30)])


def test_classify_rejects_a_negative_grace() -> None:
    with pytest.raises(ValueError, match="grace must not be negative"):
        classify_due_slots(NIGHTS, utc(2026, 1, 4), timedelta(minutes=-1))


# --- freeze windows ---------------------------------------------------------------------------

ONE_OFF = FreezeWindow(start=utc(2026, 12, 24), end=utc(2026, 12, 27), reason="Christmas")
WEEKEND = FreezeWindow(cron="0 16 * * 5", duration=timedelta(hours=64), tz=AMS, reason="weekend")


def test_a_one_off_freeze_includes_its_start_and_excludes_its_end() -> None:
    assert not ONE_OFF.active_at(utc(2026, 12, 23, 23, 59, 59))
    assert ONE_OFF.active_at(utc(2026, 12, 24))
    assert ONE_OFF.active_at(utc(2026, 12, 26, 23, 59, 59))
    assert not ONE_OFF.active_at(utc(2026, 12, 27))
    assert ONE_OFF.active_period(utc(2026, 12, 25)) == (utc(2026, 12, 24), utc(2026, 12, 27))


def test_a_one_off_freeze_given_in_local_time_is_kept_in_utc() -> None:
    window = FreezeWindow(start=local(AMS, 2026, 7, 1, 9), end=local(AMS, 2026, 7, 1, 17), reason="audit")
    assert (window.start, window.end) == (utc(2026, 7, 1, 7), utc(2026, 7, 1, 15))
    assert window.start.tzinfo is UTC
    assert window.active_at(local(NYC, 2026, 7, 1, 3))  # 07:00 UTC


def test_a_weekend_freeze_runs_from_friday_afternoon_over_midnight_to_monday_morning() -> None:
    assert not WEEKEND.active_at(local(AMS, 2026, 6, 5, 15, 59))
    assert WEEKEND.active_at(local(AMS, 2026, 6, 5, 16))
    assert WEEKEND.active_at(local(AMS, 2026, 6, 6, 0, 0))
    assert WEEKEND.active_at(local(AMS, 2026, 6, 8, 7, 59))
    assert not WEEKEND.active_at(local(AMS, 2026, 6, 8, 8))
    assert WEEKEND.active_period(local(AMS, 2026, 6, 7, 12)) == (
        local(AMS, 2026, 6, 5, 16),
        local(AMS, 2026, 6, 8, 8),
    )


def test_a_weekend_freeze_lasts_64_elapsed_hours_across_a_dst_change() -> None:
    # Autumn: the night gains an hour, so the freeze ends at 07:00 local on Monday.
    assert WEEKEND.active_at(local(AMS, 2026, 10, 25, 2, 30, fold=1))
    assert WEEKEND.active_at(local(AMS, 2026, 10, 26, 6, 59))
    assert not WEEKEND.active_at(local(AMS, 2026, 10, 26, 7))
    assert WEEKEND.active_period(local(AMS, 2026, 10, 25, 12)) == (
        utc(2026, 10, 23, 14),
        utc(2026, 10, 26, 6),
    )
    # Spring: the night loses an hour, so it ends at 09:00 local.
    assert WEEKEND.active_at(local(AMS, 2026, 3, 30, 8, 59))
    assert not WEEKEND.active_at(local(AMS, 2026, 3, 30, 9))


def test_a_nightly_freeze_in_new_york_spans_utc_and_local_midnight() -> None:
    nightly = FreezeWindow(cron="0 22 * * *", duration=timedelta(hours=8), tz=NYC, reason="batch jobs")
    assert nightly.active_at(local(NYC, 2026, 2, 3, 1, 30))
    assert not nightly.active_at(local(NYC, 2026, 2, 3, 6))
    assert not nightly.active_at(local(NYC, 2026, 2, 3, 21, 59))


def test_overlapping_recurring_periods_report_the_most_recent_start() -> None:
    hourly = FreezeWindow(cron="0 * * * *", duration=timedelta(hours=3), reason="overlapping")
    assert hourly.active_period(utc(2026, 1, 1, 5, 30)) == (utc(2026, 1, 1, 5), utc(2026, 1, 1, 8))


def test_active_freeze_returns_the_first_active_window_or_none() -> None:
    assert active_freeze([ONE_OFF, WEEKEND], local(AMS, 2026, 6, 6, 12)) is WEEKEND
    assert active_freeze([WEEKEND, ONE_OFF], utc(2026, 12, 24, 12)) is ONE_OFF  # a Thursday
    assert active_freeze([ONE_OFF, WEEKEND], local(AMS, 2026, 6, 3, 12)) is None
    assert active_freeze([], utc(2026, 1, 1)) is None


def test_freeze_windows_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ONE_OFF.reason = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "needs start and end, or cron and duration"),
        ({"start": utc(2026, 1, 2), "end": utc(2026, 1, 1)}, "must be before end"),
        ({"start": utc(2026, 1, 1), "end": utc(2026, 1, 1)}, "must be before end"),
        ({"start": utc(2026, 1, 1)}, "needs both start and end"),
        ({"start": datetime(2026, 1, 1), "end": utc(2026, 1, 2)}, "start must be a time-zone-aware"),
        ({"cron": "0 16 * * 5"}, "needs a positive duration"),
        ({"cron": "0 16 * * 5", "duration": timedelta(0)}, "needs a positive duration"),
        ({"duration": timedelta(hours=1)}, "needs a cron expression"),
        ({"cron": "0 25 * * 5", "duration": timedelta(hours=1)}, "hour field '25' is out of range"),
        ({"cron": "0 16 * * 5", "duration": timedelta(hours=1), "tz": "Nowhere"}, "unknown time zone"),
        (
            {"start": utc(2026, 1, 1), "end": utc(2026, 1, 2), "cron": "0 16 * * 5"},
            "either one-off .* or recurring",
        ),
    ],
)
def test_invalid_freeze_windows_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FreezeWindow(reason="test", **fields)  # type: ignore[arg-type]
