"""Parameters of an allocation design: arms, ratio, block sizes, factors; checked, with clear errors.

Every check raises :class:`AllocationError` (a ``ValueError``) whose message
names the parameter (``what``: the Python argument name, or the CLI option
such as ``--ratio``) and says what is wrong and what would be right. Nothing is
silently corrected: a ratio of ``2:2`` stays ``2:2`` (its blocks must hold a
multiple of 4 subjects), duplicate arms or levels are errors, a subject with a
level the design does not list is an error.
"""

from __future__ import annotations

import math
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

_NAME = re.compile(r"^[^\s,=:;|]+(?: [^\s,=:;|]+)*$")


class AllocationError(ValueError):
    """A bad allocation parameter, subject or state file; the message names it."""


def _name_ok(name: str) -> bool:
    return bool(name) and _NAME.match(name) is not None


def check_arms(arms: Sequence[str], what: str = "arms") -> List[str]:
    """At least two distinct arm names, each without ``, = : ; |`` or surrounding blanks."""
    arms = [str(a) for a in arms]
    if len(arms) < 2:
        raise AllocationError(f"{what}: need at least two arms, got {arms!r}")
    for arm in arms:
        if not _name_ok(arm):
            raise AllocationError(f"{what}: bad arm name {arm!r} (empty, or contains blanks at the ends or one of , = : ; |)")
    dupes = sorted({a for a in arms if arms.count(a) > 1})
    if dupes:
        raise AllocationError(f"{what}: arm names must be distinct, repeated: {', '.join(dupes)}")
    return arms


def parse_arms(text: str, what: str = "--arms") -> List[str]:
    """``"A,B"`` -> ``["A", "B"]``."""
    return check_arms([part.strip() for part in str(text).split(",")], what)


def check_ratio(ratio: Optional[Sequence[int]], arms: Sequence[str], what: str = "ratio") -> List[int]:
    """One positive integer per arm; ``None`` means 1 for every arm."""
    if ratio is None:
        return [1] * len(arms)
    ratio = list(ratio)
    if len(ratio) != len(arms):
        raise AllocationError(f"{what}: {len(ratio)} parts for {len(arms)} arms ({', '.join(arms)})")
    for part in ratio:
        if isinstance(part, bool) or not isinstance(part, int) or part < 1:
            raise AllocationError(f"{what}: every part must be a positive integer, got {part!r}")
    return ratio


def parse_ratio(text: Optional[str], arms: Sequence[str], what: str = "--ratio") -> List[int]:
    """``"2:1"`` -> ``[2, 1]``; empty or ``None`` -> all ones."""
    if text is None or str(text).strip() == "":
        return [1] * len(arms)
    parts = str(text).split(":")
    values = []
    for part in parts:
        part = part.strip()
        if not part.isdigit():
            raise AllocationError(f"{what}: {text!r} is not a ratio like 1:1 or 2:1 (positive integers separated by ':')")
        values.append(int(part))
    return check_ratio(values, arms, what)


def check_blocks(blocks: Sequence[int], ratio: Sequence[int], what: str = "blocks") -> List[int]:
    """Block sizes: distinct positive integers, each a multiple of ``sum(ratio)``.

    A permuted block holds every arm in the allocation ratio (Rosenberger &
    Lachin, *Randomization in Clinical Trials*, 2nd ed., Wiley 2016, ch. 3;
    randomizeR ``rpbrPar``: "all used block lengths have to be divisible by
    sum(ratio)"), so a block of 4 cannot carry a 2:1 ratio.
    """
    blocks = list(blocks)
    if not blocks:
        raise AllocationError(f"{what}: give at least one block size")
    unit = sum(ratio)
    seen = set()
    for size in blocks:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise AllocationError(f"{what}: block sizes must be positive integers, got {size!r}")
        if size in seen:
            raise AllocationError(f"{what}: block size {size} given twice")
        seen.add(size)
        if size % unit:
            ratio_text = ":".join(str(r) for r in ratio)
            raise AllocationError(
                f"{what}: block size {size} does not fit the ratio {ratio_text}: a block must hold whole "
                f"ratio units, i.e. a multiple of {unit} (e.g. {unit}, {2 * unit}, {3 * unit})"
            )
    return blocks


def parse_blocks(text: str, ratio: Sequence[int], what: str = "--blocks") -> List[int]:
    """``"4,6"`` -> ``[4, 6]``, checked against the ratio."""
    values = []
    for part in str(text).split(","):
        part = part.strip()
        if not part.isdigit():
            raise AllocationError(f"{what}: {text!r} is not a list of block sizes like 4 or 4,6")
        values.append(int(part))
    return check_blocks(values, ratio, what)


def check_factors(factors: Optional[Mapping[str, Sequence[str]]], what: str = "strata") -> Dict[str, List[str]]:
    """Factor name -> its levels (at least one each, distinct, names without separators)."""
    if not factors:
        return {}
    out: Dict[str, List[str]] = {}
    for name, levels in factors.items():
        name = str(name)
        if not _name_ok(name):
            raise AllocationError(f"{what}: bad factor name {name!r}")
        if isinstance(levels, str):
            raise AllocationError(f"{what}: levels of {name} must be a list, got the string {levels!r}")
        levels = [str(level) for level in levels]
        if not levels:
            raise AllocationError(f"{what}: factor {name} has no levels")
        for level in levels:
            if not _name_ok(level):
                raise AllocationError(f"{what}: bad level {level!r} of factor {name}")
        dupes = sorted({lv for lv in levels if levels.count(lv) > 1})
        if dupes:
            raise AllocationError(f"{what}: levels of {name} must be distinct, repeated: {', '.join(dupes)}")
        out[name] = levels
    return out


def parse_factor(text: str, what: str = "--strata") -> tuple:
    """``"sex=F,M"`` -> ``("sex", ["F", "M"])``."""
    name, sep, rest = str(text).partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise AllocationError(f"{what}: {text!r} is not FACTOR=LEVEL,LEVEL,... (e.g. sex=F,M)")
    levels = [lv.strip() for lv in rest.split(",")]
    return name.strip(), levels


def parse_factors(texts: Iterable[str], what: str = "--strata") -> Dict[str, List[str]]:
    """Several ``FACTOR=LEVELS`` options -> an ordered factor dict (a factor given twice is an error)."""
    factors: Dict[str, List[str]] = {}
    for text in texts or ():
        name, levels = parse_factor(text, what)
        if name in factors:
            raise AllocationError(f"{what}: factor {name} given twice")
        factors[name] = levels
    return check_factors(factors, what)


def check_subject(subject: Mapping[str, str], factors: Mapping[str, Sequence[str]], what: str = "subject") -> Dict[str, str]:
    """A subject's level for every factor: no missing factor, no unknown factor, no unknown level."""
    subject = {str(k): str(v) for k, v in dict(subject).items()}
    unknown = [k for k in subject if k not in factors]
    if unknown:
        raise AllocationError(
            f"{what}: unknown factor {', '.join(unknown)} (the design's factors: {', '.join(factors) or 'none'})"
        )
    for name, levels in factors.items():
        if name not in subject:
            raise AllocationError(f"{what}: no value for factor {name} (levels: {', '.join(levels)})")
        if subject[name] not in levels:
            raise AllocationError(f"{what}: {name}={subject[name]} is not a level of {name} (levels: {', '.join(levels)})")
    return {name: subject[name] for name in factors}


def parse_subject(text: str, factors: Mapping[str, Sequence[str]], what: str = "--subject") -> Dict[str, str]:
    """``"sex=F,site=02"`` -> ``{"sex": "F", "site": "02"}``, checked against the factors."""
    subject: Dict[str, str] = {}
    for part in str(text).split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise AllocationError(f"{what}: {text!r} is not FACTOR=LEVEL,FACTOR=LEVEL (e.g. sex=F,site=02)")
        if name.strip() in subject:
            raise AllocationError(f"{what}: factor {name.strip()} given twice")
        subject[name.strip()] = value.strip()
    return check_subject(subject, factors, what)


def check_weights(weights: Optional[Mapping[str, float]], factors: Mapping[str, Sequence[str]], what: str = "weights") -> Dict[str, float]:
    """A positive finite weight per factor (default 1); a weight for an unknown factor is an error."""
    out = {name: 1.0 for name in factors}
    for name, value in (weights or {}).items():
        if name not in factors:
            raise AllocationError(f"{what}: weight for unknown factor {name} (factors: {', '.join(factors) or 'none'})")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise AllocationError(f"{what}: weight of {name} must be a number, got {value!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise AllocationError(f"{what}: weight of {name} must be positive, got {value}")
        out[name] = value
    return out


def parse_weights(texts: Iterable[str], factors: Mapping[str, Sequence[str]], what: str = "--weight") -> Dict[str, float]:
    """``["site=2"]`` or ``["sex=1,site=2"]`` -> ``{"sex": 1.0, "site": 2.0}``."""
    raw: Dict[str, str] = {}
    for text in texts or ():
        for part in str(text).split(","):
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise AllocationError(f"{what}: {text!r} is not FACTOR=WEIGHT (e.g. site=2)")
            raw[name.strip()] = value.strip()
    return check_weights(raw, factors, what)


METHODS = ("range", "variance")


def check_method(method: str, what: str = "method") -> str:
    """``range`` or ``variance`` (Pocock & Simon 1975, section 3)."""
    if method not in METHODS:
        raise AllocationError(f"{what}: {method!r} is not one of {', '.join(METHODS)}")
    return method


def check_p(p: float, n_arms: int, what: str = "p") -> float:
    """The probability of the preferred arm: ``1/len(arms) <= p <= 1``.

    Below ``1/len(arms)`` the rule would favour the arms that *worsen*
    balance; ``p = 1`` is deterministic minimisation (Taves 1974), ties apart.
    """
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise AllocationError(f"{what}: must be a number, got {p!r}") from None
    low = 1.0 / n_arms
    if not math.isfinite(p) or p < low - 1e-12 or p > 1.0:
        raise AllocationError(f"{what}: must be between 1/{n_arms} ({low:.3g}) and 1, got {p}")
    return p


def check_n(n, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise AllocationError(f"{what}: must be a positive integer, got {n!r}")
    return n
