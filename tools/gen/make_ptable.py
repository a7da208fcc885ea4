#!/usr/bin/env python3
"""Write leadmap's perturbation table (geodata/privacy/ptable.json): the cell-key method of the
Australian Bureau of Statistics' TableBuilder (Fraser & Wooton 2005; Thompson, Broadfoot & Elazar 2013),
as the UK's Office for National Statistics used it for Census 2021.

Every stored event has a permanent random record key in 0..255; a published count's cell key is the
sum of its events' record keys modulo 256, so the same set of events always has the same cell key and
two different sets have unrelated ones. For a true count c and a cell key, the published value is:

* c = 0: 0 (an empty cell reveals no one);
* 1 <= c <= K: 0, whatever the key, so a published 0 never tells "none" from "a few";
* c > K: c + noise, the noise read from row (c - K - 1) mod ROWS at the cell key, in -D..D with zero
  mean; where c + noise would be K or less (only c = K+1 .. K+D can get there) the value is 0.

So a published value is 0 or above K, never 1..K; a published 0 means 0 to K + D events, a published
p > K means p - D .. p + D events (and more than K). ROWS > K independent rows mean that two sets whose
counts differ by 1..ROWS-1 never read the same row, so their noises are unrelated even when their cell
keys are equal. Each row deals the keys out to the noise values in its own shuffled order (seeded).

Usage: python3 tools/gen/make_ptable.py [--check]   (--check: exit 1 if the committed table differs)
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

RANGE = 256  # cell keys 0..255
K = 10  # counts 1..K published as 0
D = 2  # noise in -D..D
ROWS = 32  # noise rows, one per count class (count - K - 1) mod ROWS
# Keys per noise value (sum 256, zero mean): 0 half the time, +-1 about 20 % each, +-2 about 5 % each
# (rare extremes: the interval a reader can derive by combining tables is rarely tight at both ends).
KEYS_PER_NOISE = {-2: 13, -1: 51, 0: 128, 1: 51, 2: 13}
SEED = 20261205

OUT = Path(__file__).resolve().parent.parent.parent / "geodata" / "privacy" / "ptable.json"


def row(rng: random.Random) -> list[int]:
    values = [n for n, keys in KEYS_PER_NOISE.items() for _ in range(keys)]
    rng.shuffle(values)
    return values


def table() -> dict:
    assert sum(KEYS_PER_NOISE.values()) == RANGE
    assert sum(n * k for n, k in KEYS_PER_NOISE.items()) == 0
    assert ROWS > K
    rng = random.Random(SEED)
    rows = [row(rng) for _ in range(ROWS)]
    return {
        "name": "leadmap-ptable-2",
        "description": (
            "Cell-key perturbation of the counts planners see (ABS TableBuilder method). A count of 0, "
            f"and every count from 1 to {K}, is published as 0; a count c above {K} is published as "
            f"c + rows[(c - {K + 1}) mod {ROWS}][cell key], the noise from -{D} to {D} (50 % 0, 20 % each "
            f"of +-1, 5 % each of +-2), or as 0 where that would be {K} or less. "
            "Made by tools/gen/make_ptable.py: do not edit by hand."
        ),
        "cell_key_range": RANGE,
        "published_as_zero_up_to": K,
        "max_noise": D,
        "rows": rows,
    }


def render(t: dict) -> str:
    # One row per line, so a diff shows which row changed.
    head = {k: v for k, v in t.items() if k != "rows"}
    lines = json.dumps(head, indent=2)[:-2] + ',\n  "rows": [\n'
    lines += ",\n".join(f"    {json.dumps(r, separators=(',', ':'))}" for r in t["rows"])
    return lines + "\n  ]\n}\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed table differs")
    a = ap.parse_args()
    text = render(table())
    json.loads(text)
    if a.check:
        same = OUT.exists() and OUT.read_text() == text
        print(f"{OUT}: {'up to date' if same else 'DIFFERS'}")
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
