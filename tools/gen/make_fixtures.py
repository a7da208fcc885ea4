#!/usr/bin/env python3
"""Write leadmap's hand-made zone-set fixtures to geodata/fixtures/ (and geodata/fixtures/invalid/).

Every valid fixture vertex is BASE + k/1024 degree (k integer), so each coordinate and many points
on the edges (midpoints, quarter points, any point on an axis-aligned edge) are exact binary64
values. BASE = (-122.6796875, 45.51953125) is near downtown Portland; 1/1024 degree is about
76 m of longitude and 109 m of latitude there.

The files are committed; rerun this only to change them (output is deterministic).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
U = 1 / 1024
X0 = -125624 / 1024  # -122.6796875
Y0 = 46612 / 1024  # 45.51953125


def p(i: float, j: float) -> list[float]:
    """Grid point BASE + (i, j)/1024 degree, exact."""
    x, y = X0 + i * U, Y0 + j * U
    assert (x - X0) / U == i and (y - Y0) / U == j, "not exact"
    return [x, y]


def ring(*pts, close: bool = True) -> list[list[float]]:
    r = [p(i, j) for i, j in pts]
    return r + [r[0]] if close else r


def feature(zid: str, name: str, geometry: dict) -> dict:
    return {
        "type": "Feature",
        "id": zid,
        "properties": {"id": zid, "name": name},
        "geometry": geometry,
    }


def poly(*rings) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


def collection(name: str, description: str, features: list[dict]) -> dict:
    return {
        "type": "FeatureCollection",
        "name": name,
        "description": description,
        "effective_from": "2020-01-01",
        "features": features,
    }


def c(i: float, j: float) -> str:
    """Coordinates of a grid point as text, for descriptions."""
    x, y = p(i, j)
    return f"({x!r}, {y!r})"


def fixtures() -> dict[str, dict]:
    out: dict[str, dict] = {}

    out["square.geojson"] = collection(
        "fixture-square",
        f"One axis-aligned square zone 'sq', 4/1024 deg a side (~305 m x 434 m), counter-clockwise. "
        f"{c(2, 2)} is inside; {c(4, 2)} is on its east edge (inside); {c(4, 4)} is a vertex (inside); "
        f"{c(5, 2)} is outside.",
        [feature("sq", "Square", poly(ring((0, 0), (4, 0), (4, 4), (0, 4))))],
    )

    out["donut.geojson"] = collection(
        "fixture-donut",
        f"One zone 'donut': an 8/1024 deg square with a diamond-shaped hole (clockwise, diagonal "
        f"edges). {c(1, 1)} is inside; {c(4, 4)} is in the hole (outside); {c(3, 3)} is on the hole's "
        f"edge (inside); {c(4, 2)} is a hole vertex (inside).",
        [
            feature(
                "donut",
                "Donut",
                poly(
                    ring((0, 0), (8, 0), (8, 8), (0, 8)),
                    ring((4, 2), (2, 4), (4, 6), (6, 4)),
                ),
            )
        ],
    )

    out["shared-edge.geojson"] = collection(
        "fixture-shared-edge",
        f"Two zones 'a' (west) and 'b' (east) sharing the full slanted edge {c(4, 0)}-{c(5, 4)} "
        f"with identical vertices. {c(4.5, 2)} is on the shared edge: leadmap reports 'a' (lowest "
        f"id). {c(2, 2)} is in a, {c(7, 2)} in b.",
        [
            feature("a", "Zone A", poly(ring((0, 0), (4, 0), (5, 4), (0, 4)))),
            feature("b", "Zone B", poly(ring((4, 0), (8, 0), (8, 4), (5, 4)))),
        ],
    )

    out["multipolygon.geojson"] = collection(
        "fixture-multipolygon",
        f"One zone 'multi', a MultiPolygon: a square with a square hole, and a disjoint triangle. "
        f"{c(0.5, 0.5)} is inside; {c(2, 2)} is in the hole (outside); {c(7, 1)} is in the triangle; "
        f"{c(5, 1)} is between the parts (outside); {c(7.5, 1.5)} is on the triangle's hypotenuse.",
        [
            feature(
                "multi",
                "Multi",
                {
                    "type": "MultiPolygon",
                    "coordinates": [
                        [
                            ring((0, 0), (4, 0), (4, 4), (0, 4)),
                            ring((1, 1), (1, 3), (3, 3), (3, 1)),
                        ],
                        [ring((6, 0), (9, 0), (6, 3))],
                    ],
                },
            )
        ],
    )

    out["clockwise.geojson"] = collection(
        "fixture-clockwise",
        f"One L-shaped (concave) zone 'cw' whose exterior ring is CLOCKWISE, against RFC 7946's "
        f"advice; leadmap must accept either winding. {c(1, 1)} is inside; {c(3, 3)} is in the "
        f"notch (outside); {c(2, 3)} is on the notch edge (inside).",
        [feature("cw", "Clockwise", poly(ring((0, 0), (0, 4), (2, 4), (2, 2), (4, 2), (4, 0))))],
    )

    # ---- invalid ----
    sq = ring((0, 0), (4, 0), (4, 4), (0, 4))
    out["invalid/stateplane-feet.geojson"] = collection(
        "fixture-invalid-stateplane-feet",
        "Coordinates are Oregon State Plane North (EPSG:2913) international feet, not WGS84 lon/lat: "
        "x/y far outside [-180, 180] x [-90, 90].",
        [
            feature(
                "sp",
                "State Plane",
                poly(
                    [
                        [7645653.0, 684826.0],
                        [7646653.0, 684826.0],
                        [7646653.0, 685826.0],
                        [7645653.0, 685826.0],
                        [7645653.0, 684826.0],
                    ]
                ),
            )
        ],
    )
    out["invalid/swapped-axes.geojson"] = collection(
        "fixture-invalid-swapped-axes",
        "Positions are [lat, lon] instead of RFC 7946's [lon, lat]: the second value -122.68 is not "
        "a valid latitude.",
        [feature("swapped", "Swapped", poly([[y, x] for x, y in sq]))],
    )
    out["invalid/unclosed-ring.geojson"] = collection(
        "fixture-invalid-unclosed-ring",
        "The exterior ring has 4 distinct positions and its last position differs from its first "
        "(RFC 7946 3.1.6 requires a closed ring).",
        [feature("open", "Unclosed", poly(ring((0, 0), (4, 0), (4, 4), (0, 4), close=False)))],
    )
    out["invalid/bowtie.geojson"] = collection(
        "fixture-invalid-bowtie",
        f"The exterior ring crosses itself at {c(2, 2)} (a bow-tie / figure eight): self-intersection.",
        [feature("bowtie", "Bowtie", poly(ring((0, 0), (4, 4), (4, 0), (0, 4))))],
    )
    out["invalid/empty-geometry.geojson"] = collection(
        "fixture-invalid-empty-geometry",
        "The only zone is a Polygon with empty coordinates [] (an empty geometry).",
        [feature("empty", "Empty", {"type": "Polygon", "coordinates": []})],
    )
    out["invalid/duplicate-ids.geojson"] = collection(
        "fixture-invalid-duplicate-ids",
        "Two features have the same id 'x' (the geometries are disjoint and valid).",
        [
            feature("x", "First x", poly(ring((0, 0), (4, 0), (4, 4), (0, 4)))),
            feature("x", "Second x", poly(ring((6, 0), (10, 0), (10, 4), (6, 4)))),
        ],
    )
    out["invalid/overlapping-zones.geojson"] = collection(
        "fixture-invalid-overlapping-zones",
        f"Zones 'p' and 'q' are each valid but their interiors overlap in the square "
        f"{c(2, 2)}-{c(4, 4)}.",
        [
            feature("p", "P", poly(ring((0, 0), (4, 0), (4, 4), (0, 4)))),
            feature("q", "Q", poly(ring((2, 2), (6, 2), (6, 6), (2, 6)))),
        ],
    )
    return out


def dumps(doc: dict) -> str:
    """Pretty JSON, but one ring per line so the files stay readable."""
    text = json.dumps(doc, indent=1)
    # collapse innermost coordinate pairs [\n x,\n y\n] onto one line
    import re

    text = re.sub(r"\[\s+(-?[\d.eE+-]+),\s+(-?[\d.eE+-]+)\s+\]", r"[\1, \2]", text)
    return text + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--out",
        default=str(REPO_ROOT / "geodata" / "fixtures"),
        help="output folder (default: geodata/fixtures in the repo)",
    )
    args = ap.parse_args()
    out = Path(args.out)
    for rel, doc in fixtures().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(doc))
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
