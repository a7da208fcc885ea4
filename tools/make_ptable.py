#!/usr/bin/env python3
"""Write leadmap's perturbation table (geodata/privacy/ptable.json): the cell-key method of the
Australian Bureau of Statistics' TableBuilder (Fraser & Wooton 2005; Thompson, Broadfoot & Elazar 2013),
as the UK's Office for National Statistics used it for Census 2021.

Every stored event has a permanent random record key in 0..255; a published count's cell key is the
sum of its events' record keys modulo 256, so the same set of events always has the same cell key and
two different sets have unrelated ones. The table gives, for a true count c and a cell key, the noise
added to c:

* c = 0: no noise (an empty cell reveals no one);
* 1 <= c <= K: withheld (published as null), whatever the key;
* c > K: noise in -D..D with probabilities P (zero mean), except that a noise that would publish a
  value of K or less is mirrored (-n becomes +n), so no published value lies in 1..K;
* the row for c = K + D + 1 applies to every larger count (no noise can reach K from there).

Within a row, the cell keys are dealt out to the noise values in a fixed shuffled order (seeded), so
neighbouring keys do not share a noise and the table reads as data, not as a formula.

Usage: python3 tools/make_ptable.py [--check]   (--check: exit 1 if the committed table differs)
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

RANGE = 256  # cell keys 0..255
K = 10  # counts 1..K withheld
D = 2  # noise in -D..D
# Keys per noise value (sum 256): 0 about 40 %, +-1 about 20 % each, +-2 about 10 % each; zero mean.
KEYS_PER_NOISE = {-2: 26, -1: 51, 0: 102, 1: 51, 2: 26}
SEED = 20261205

OUT = Path(__file__).resolve().parent.parent / "geodata" / "privacy" / "ptable.json"


def row(count: int, order: list[int]) -> list[int]:
    noise = [0] * RANGE
    i = 0
    for n, keys in KEYS_PER_NOISE.items():
        for _ in range(keys):
            v = n if count + n > K else -n
            noise[order[i]] = v
            i += 1
    return noise


def table() -> dict:
    assert sum(KEYS_PER_NOISE.values()) == RANGE
    assert sum(n * k for n, k in KEYS_PER_NOISE.items()) == 0
    order = list(range(RANGE))
    random.Random(SEED).shuffle(order)
    rows = [{"count": c, "noise": row(c, order)} for c in range(K + 1, K + D + 2)]
    return {
        "name": "leadmap-ptable-1",
        "description": (
            "Cell-key perturbation of the counts planners see (ABS TableBuilder method). Counts 0 are "
            f"published as 0; counts 1 to {K} are withheld; a count c above {K} is published as "
            f"c + noise[cell key], the noise from -{D} to {D} (40 % 0, 20 % each of +-1, 10 % each of +-2), "
            f"mirrored where it would publish {K} or less. The row for {K + D + 1} applies to every larger "
            "count. Made by tools/make_ptable.py: do not edit by hand."
        ),
        "cell_key_range": RANGE,
        "withheld_up_to": K,
        "max_noise": D,
        "rows": rows,
    }


def render(t: dict) -> str:
    # One row per line, so a diff shows which row changed.
    head = {k: v for k, v in t.items() if k != "rows"}
    lines = json.dumps(head, indent=2)[:-2] + ',\n  "rows": [\n'
    lines += ",\n".join(
        f'    {{"count": {r["count"]}, "noise": {json.dumps(r["noise"], separators=(",", ":"))}}}' for r in t["rows"]
    )
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
