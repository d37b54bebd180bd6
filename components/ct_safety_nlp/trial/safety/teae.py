"""The treatment-emergent flag, with the semantics of pharmaverse admiral's
``derive_var_trtemfl`` (admiral R package, ``R/derive_var_trtemfl.R``; aligned
with the PHUSE white paper WP-087 "Recommended Definition of Treatment-Emergent
Adverse Events in Clinical Trials").

For one event (:func:`trtemfl`) the first case that applies decides:

1. *not treated*: no first-dose date -> not flagged (None);
2. *event before treatment*: the event ended before the first dose -> None;
3. *no event start date*: -> ``"Y"`` (the conservative assumption);
4. *started during treatment*: start on or after the first dose and, when an
   end window is given, on or before last dose + ``end_window`` days (dates
   only, unless ``ignore_time_for_trt_end`` is False) -> ``"Y"``; a missing
   last-dose date does not limit the window;
5. *started before treatment and worsened* (only when intensities are
   given): start before the first dose and ``initial_intensity <
   intensity``, or either intensity missing -> ``"Y"`` (the end-before-first-
   dose case was already ruled out by 2);
6. otherwise None.

:func:`trtemfl_grouped` is admiral's ``group_var`` variant: the records of one
AE (the same episode recorded over several lines). A group is *new* when none
of its records starts before the first dose; within a group ordered by start
(missing starts last), a record starting on or after the first dose with a
higher intensity than the record before it marks a worsening, and every later
record of the group is flagged from there on (end window not applied to
these, as in admiral).

Values: ``datetime.date`` or ``datetime.datetime`` (a date compared with a
datetime is taken at 00:00); intensities any mutually comparable values
(CTCAE grades as ints). Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["trtemfl", "trtemfl_grouped"]


def _dt(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}: {value!r}")


def _day(value) -> Optional[date]:
    value = _dt(value)
    return value.date() if value is not None else None


def _in_end_window(start, trt_end, end_window: Optional[int], ignore_time: bool) -> bool:
    if end_window is None or trt_end is None:
        return True
    if ignore_time:
        return _day(start) <= _day(trt_end) + timedelta(days=end_window)
    return _dt(start) <= _dt(trt_end) + timedelta(days=end_window)


def _check(end_window, trt_end_given: bool) -> None:
    if end_window is not None:
        if isinstance(end_window, bool) or not isinstance(end_window, int) or end_window < 0:
            raise ValueError(f"end_window must be a non-negative whole number of days, got {end_window!r}")
        if not trt_end_given:
            raise ValueError("end_window was given but not trt_end (either both or none)")


def trtemfl(
    start: Optional[date],
    end: Optional[date],
    trt_start: Optional[date],
    trt_end: Optional[date] = None,
    *,
    end_window: Optional[int] = None,
    ignore_time_for_trt_end: bool = True,
    initial_intensity: Any = None,
    intensity: Any = None,
    worsening: bool = False,
    trt_end_given: Optional[bool] = None,
) -> Optional[str]:
    """``"Y"`` when the event is treatment-emergent, else None (see the module).

    worsening: consider pre-treatment events that worsened (admiral's
        ``initial_intensity`` / ``intensity`` arguments given).
    trt_end_given: whether a treatment-end variable is in use (admiral's
        ``trt_end_date`` argument); defaults to ``end_window is not None``, so an
        end window with a missing last-dose date does not limit the event.
    """
    _check(end_window, end_window is not None if trt_end_given is None else trt_end_given)
    s, e, ts = _dt(start), _dt(end), _dt(trt_start)
    if ts is None:
        return None
    if e is not None and e < ts:
        return None
    if s is None:
        return "Y"
    if s >= ts and _in_end_window(s, trt_end, end_window, ignore_time_for_trt_end):
        return "Y"
    if worsening and s < ts:
        if initial_intensity is None or intensity is None or initial_intensity < intensity:
            return "Y"
    return None


def trtemfl_grouped(
    records: Sequence[Dict[str, Any]],
    trt_start: Optional[date],
    trt_end: Optional[date] = None,
    *,
    end_window: Optional[int] = None,
    ignore_time_for_trt_end: bool = True,
) -> List[Optional[str]]:
    """Flags of the records of ONE group (one AE over several records), in
    the order given. Each record: ``{"start", "end", "intensity"}``."""
    _check(end_window, True if end_window is not None else False)
    ts = _dt(trt_start)
    starts = [_dt(r.get("start")) for r in records]
    new_ae = not any(s is not None and ts is not None and s < ts for s in starts)
    order = sorted(range(len(records)), key=lambda i: (starts[i] is None, starts[i] or datetime.min))
    worsened = [False] * len(records)
    prev = None
    carried = False
    for k, i in enumerate(order):
        cur = records[i].get("intensity")
        s = starts[i]
        if k > 0 and s is not None and ts is not None and prev is not None and cur is not None and s >= ts and cur > prev:
            carried = True
        worsened[i] = carried
        prev = cur
    out: List[Optional[str]] = []
    for i, r in enumerate(records):
        s, e = starts[i], _dt(r.get("end"))
        if ts is None or (e is not None and e < ts):
            out.append(None)
        elif s is None:
            out.append("Y")
        elif new_ae and _in_end_window(s, trt_end, end_window, ignore_time_for_trt_end):
            out.append("Y")
        elif worsened[i]:
            out.append("Y")
        else:
            out.append(None)
    return out
