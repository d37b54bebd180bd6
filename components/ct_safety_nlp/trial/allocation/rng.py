"""Seeded random streams whose output is fixed by the seed on every machine.

A list must be reproducible for an audit years later, on another machine and
another numpy. numpy's NEP 19 (https://numpy.org/neps/nep-0019-rng-policy.html)
guarantees the raw output of its bit generators and of ``SeedSequence`` but
*not* the streams of ``Generator`` methods (``integers``, ``shuffle``,
``random``), which may change between numpy versions. So a stream here is a
``numpy.random.Generator(PCG64(SeedSequence(...)))`` of which only the bit
generator's raw 64-bit words are used, and every mapping from words to
integers, floats and permutations is written out below:

* ``below(m)``: an unbiased integer in ``[0, m)`` by rejection: draw a word
  ``w``; accept when ``w < floor(2**64 / m) * m``; return ``w % m``.
* ``uniform()``: ``(w >> 11) * 2**-53``, a float in ``[0, 1)``.
* ``shuffle(items)``: Fisher–Yates (Knuth, TAOCP vol. 2, Algorithm 3.4.2 P):
  for ``i`` from ``len - 1`` down to 1, swap ``items[i]`` with
  ``items[below(i + 1)]``.

A stream is keyed: ``stream(seed, "blocks", "sex=F|site=01")`` seeds
``SeedSequence([seed, k])`` with ``k`` the first 128 bits of the SHA-256 of
the key parts joined by ``\\x1f``. Each stratum (or each minimisation
subject, or each simulation run) therefore has its own stream, which does not
depend on which other strata exist or in what order they are generated.
"""

from __future__ import annotations

import hashlib
from typing import List, MutableSequence, TypeVar

from .design import AllocationError

T = TypeVar("T")

RNG_DESCRIPTION = (
    "numpy.random.Generator(PCG64(SeedSequence([seed, sha256(key)[:16]]))) raw 64-bit words; "
    "integers by rejection, floats (w>>11)*2^-53, Fisher-Yates shuffles (ct_safety_nlp.trial.allocation.rng)"
)
_TWO64 = 1 << 64
_BUFFER = 256


def check_seed(seed) -> int:
    """The seed as a non-negative int, or an AllocationError naming the problem."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise AllocationError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


def key_word(*parts: object) -> int:
    """The 128-bit integer that keys a stream: SHA-256 of the parts joined by U+001F."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")


class Stream:
    """A keyed stream of raw 64-bit words with the mappings documented in the module."""

    __slots__ = ("_bits", "_buf", "_pos")

    def __init__(self, seed: int, *key: object) -> None:
        from numpy.random import PCG64, Generator, SeedSequence

        generator = Generator(PCG64(SeedSequence([check_seed(seed), key_word(*key)])))
        self._bits = generator.bit_generator
        self._buf: List[int] = []
        self._pos = 0

    def word(self) -> int:
        """The next raw 64-bit word (buffered; buffering never changes the sequence)."""
        if self._pos >= len(self._buf):
            self._buf = [int(w) for w in self._bits.random_raw(_BUFFER)]
            self._pos = 0
        w = self._buf[self._pos]
        self._pos += 1
        return w

    def below(self, m: int) -> int:
        """An unbiased integer in [0, m); ``below(1)`` is 0 and draws nothing."""
        if m < 1:
            raise ValueError(f"below() needs m >= 1, got {m}")
        if m == 1:
            return 0
        limit = (_TWO64 // m) * m
        while True:
            w = self.word()
            if w < limit:
                return w % m

    def uniform(self) -> float:
        """A float in [0, 1) with 53 random bits."""
        return (self.word() >> 11) * (1.0 / (1 << 53))

    def shuffle(self, items: MutableSequence[T]) -> MutableSequence[T]:
        """Shuffle ``items`` in place (Fisher–Yates) and return it."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def stream(seed: int, *key: object) -> Stream:
    """The stream for ``seed`` and a key (strings or numbers)."""
    return Stream(seed, *key)
