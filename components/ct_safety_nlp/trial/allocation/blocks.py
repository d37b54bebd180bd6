"""Permuted-block randomisation lists: fixed or random block sizes, allocation ratios, strata.

Source: permuted blocks within strata as in Rosenberger & Lachin,
*Randomization in Clinical Trials* (2nd ed., Wiley 2016), ch. 3 ("random
permuted blocks", "random block sizes") and the R package randomizeR
(``pbrPar`` / ``rpbrPar``, Uschner et al., J Stat Softw 2018;85(8)); stratified
lists per stratum as in R ``blockrand`` (Snow, CRAN): each stratum has its own
list, at least ``n`` long, completed to the end of its last block.

The rule, per stratum (every combination of the strata factors' levels, first
factor varying slowest):

1. the stratum's stream is ``rng.stream(seed, "blocks", LABEL)``, ``LABEL``
   such as ``sex=F;site=01`` (so a stratum's list does not depend on the other
   strata);
2. while the list is shorter than ``n``: pick the block size uniformly from
   the given sizes (``below(len(sizes))``; a single size draws nothing), build
   the block with ``ratio[k] * size / sum(ratio)`` copies of arm ``k`` in arm
   order, shuffle it (Fisher–Yates) and append it.

What a list reveals (and what it does not): the rows carry the stratum, the
position within the stratum (``seq``) and the arm; block numbers and sizes are
left out unless ``with_blocks=True`` (for the unblinded statistician's master
copy). Within a block every ordering of its arms is equally likely, and block
sizes are drawn independently and uniformly, so the order tells no more than
the design does: balance (counts in the ratio) is restored at each block end,
and with a single block size those ends are at known multiples of it. With
several sizes the ends are not marked, and balance is also restored inside
blocks (ABBA is balanced after 2), so a reader of the arms so far cannot tell
where a block ends. The list length (a sum of drawn block sizes, ending on a
block boundary) is the only other design trace; it says nothing about order.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from .design import AllocationError, check_arms, check_blocks, check_factors, check_n, check_ratio
from .rng import RNG_DESCRIPTION, Stream, check_seed, stream


def strata_cells(strata: Mapping[str, Sequence[str]]) -> List[Dict[str, str]]:
    """Every combination of levels, first factor varying slowest; ``[{}]`` without strata."""
    names = list(strata)
    return [dict(zip(names, combo)) for combo in itertools.product(*(strata[n] for n in names))]


def stratum_label(cell: Mapping[str, str]) -> str:
    """``{"sex": "F", "site": "01"}`` -> ``"sex=F;site=01"``; ``{}`` -> ``"all"``."""
    return ";".join(f"{k}={v}" for k, v in cell.items()) or "all"


def block_template(arms: Sequence[str], ratio: Sequence[int], size: int) -> List[str]:
    """The arms of one block of ``size`` in arm order, each ``ratio[k] * size / sum(ratio)`` times."""
    unit = sum(ratio)
    if size % unit:
        raise AllocationError(f"block size {size} is not a multiple of sum(ratio) = {unit}")
    reps = size // unit
    out: List[str] = []
    for arm, r in zip(arms, ratio):
        out.extend([arm] * (r * reps))
    return out


def block_sequence(rng: Stream, arms: Sequence[str], ratio: Sequence[int], sizes: Sequence[int]) -> Iterator[Tuple[int, int, str]]:
    """Endless ``(block_number, block_size, arm)`` from one stream (the rule in the module docstring)."""
    block_no = 0
    while True:
        size = sizes[rng.below(len(sizes))]
        block_no += 1
        block = rng.shuffle(block_template(arms, ratio, size))
        for arm in block:
            yield block_no, size, arm


def library_versions() -> Dict[str, str]:
    """The versions that produced an output: this library, numpy, Python."""
    import platform

    import numpy

    from ... import __version__

    return {"ct_safety_nlp": __version__, "numpy": numpy.__version__, "python": platform.python_version()}


def list_columns(strata: Mapping[str, Sequence[str]], with_blocks: bool) -> List[str]:
    return ["stratum", *strata, "seq", "arm"] + (["block", "block_size"] if with_blocks else [])


def rows_csv(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """The canonical CSV text of a list (header, LF line ends, minimal quoting): what is written and hashed."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def permuted_block_list(
    arms: Sequence[str],
    *,
    blocks: Sequence[int],
    n: int,
    seed: int,
    ratio: Optional[Sequence[int]] = None,
    strata: Optional[Mapping[str, Sequence[str]]] = None,
    with_blocks: bool = False,
) -> Dict[str, object]:
    """A stratified permuted-block randomisation list.

    ``arms`` e.g. ``["A", "B"]``; ``ratio`` e.g. ``[2, 1]`` (default 1 each);
    ``blocks`` the block sizes (one: fixed; several: drawn uniformly per
    block), each a multiple of ``sum(ratio)``; ``strata`` an ordered dict of
    factor -> levels (every combination gets its own list); ``n`` the minimum
    list length *per stratum* (completed to a block end); ``seed`` a
    non-negative int. Returns ``{"rows": [...], "columns": [...], "csv": str,
    "meta": {...}}``: rows in stratum order then ``seq``; ``meta`` records the
    parameters, the seed, the random-stream description, the library versions
    and ``sha256``, the SHA-256 of ``csv`` (the exact bytes the CLI writes, so
    ``sha256sum list.csv`` checks it).
    """
    arms = check_arms(arms)
    ratio = check_ratio(ratio, arms)
    sizes = check_blocks(blocks, ratio)
    n = check_n(n)
    seed = check_seed(seed)
    strata = check_factors(strata or {}, "strata")
    columns = list_columns(strata, with_blocks)
    rows: List[Dict[str, object]] = []
    per_stratum: Dict[str, int] = {}
    for cell in strata_cells(strata):
        label = stratum_label(cell)
        seq = 0
        last_block = 0
        for block_no, size, arm in block_sequence(stream(seed, "blocks", label), arms, ratio, sizes):
            if seq >= n and block_no != last_block:
                break
            seq += 1
            last_block = block_no
            row: Dict[str, object] = {"stratum": label, **cell, "seq": seq, "arm": arm}
            if with_blocks:
                row["block"] = block_no
                row["block_size"] = size
            rows.append(row)
        per_stratum[label] = seq
    text = rows_csv(rows, columns)
    meta = {
        "kind": "permuted_block_list",
        "arms": arms,
        "ratio": ratio,
        "blocks": sizes,
        "strata": strata,
        "n_per_stratum": n,
        "seed": seed,
        "with_blocks": with_blocks,
        "rng": RNG_DESCRIPTION,
        "versions": library_versions(),
        "rows": len(rows),
        "rows_per_stratum": per_stratum,
        "columns": columns,
        "sha256": sha256_text(text),
        "source": "permuted blocks within strata (Rosenberger & Lachin 2016, ch. 3; randomizeR rpbrPar; blockrand)",
    }
    return {"rows": rows, "columns": columns, "csv": text, "meta": meta}
