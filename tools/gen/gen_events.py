#!/usr/bin/env python3
"""Generate a seeded, SYNTHETIC event CSV shaped like police open data, for import benchmarks.

Every row is made up. Columns (the names `leadmap import --source NAME` finds by itself):

    id,date,time,kind,lon,lat,offense,race_ethnicity,agency

  id              case-number style, unique in the file and increasing with the row order:
                  two-digit report year, a dash, a per-year sequence with small gaps
                  (15-000001, 15-000003, ...; 7 digits when a year needs them)
  date            2015-01-01 .. 2021-12-31, ascending; about 2 % of rows occurred 1-5 days before
                  the day they are filed under (late reports; never before 2015-01-01)
  time            HH:MM:SS, more in the afternoon and evening than at night
  kind            arrest; from 2017-10-01 (when LEAD started) also diversion_referral and
                  social_contact_referral, a growing share
  lon, lat        6 decimals: Gaussian clusters around downtown/Old Town, Lloyd, 82nd Avenue,
                  Gateway, Lents and St Johns, plus a uniform background over lon -122.84..-122.47,
                  lat 45.43..45.65 (every point is inside that box)
  offense         mostly PCS, then SQ, CDO and a few free-text offense types (one of them with a
                  comma, so quoted)
  race_ethnicity  white, black, hispanic_latino, asian, native_american, pacific_islander,
                  multiracial, other, unknown, or empty (about 3 %)
  agency          PPB

Rows per day follow a slow trend, a season, a weekday pattern, the pandemic and Measure 110 (fewer
possession arrests from 2021-02-01), with exactly --rows rows in all. Only
`random.Random(seed).random()` is drawn from (Box-Muller for the Gaussians), so the same arguments
give the same bytes with any Python 3 (only a different libm could, rarely, move a last digit).
About 6 s per million rows on one core: a minute and about 790 MB for 10 M.

Writes to -o FILE (through FILE.partPID, renamed at the end, so an interrupted run leaves no partial
file) or to stdout (-o - or no -o).

Example:
  python3 tools/gen/gen_events.py --rows 10000000 --seed 42 -o target/bench/events.csv
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import math
import os
import random
import signal
import sys
import time

FORMAT_VERSION = 1  # bump when the output for given arguments changes (bench caches key on it)

START, END = dt.date(2015, 1, 1), dt.date(2021, 12, 31)
LEAD_START = dt.date(2017, 10, 1)
BOX = (-122.84, 45.43, -122.47, 45.65)  # lon min, lat min, lon max, lat max
M_PER_DEG_LAT, M_PER_DEG_LON = 111_142.0, 78_130.0  # at 45.5 N

# (name, lon, lat, spread in metres (1 sigma), weight); the rest of the weight is the background.
CLUSTERS = [
    ("downtown", -122.6795, 45.5185, 450, 0.26),
    ("old-town", -122.6735, 45.5245, 200, 0.16),
    ("lloyd", -122.6560, 45.5310, 350, 0.07),
    ("inner-east", -122.6600, 45.5170, 400, 0.05),
    ("82nd-division", -122.5790, 45.5045, 500, 0.08),
    ("gateway", -122.5650, 45.5320, 500, 0.06),
    ("lents", -122.5660, 45.4830, 500, 0.04),
    ("st-johns", -122.7520, 45.5900, 400, 0.03),
]
BACKGROUND = 1.0 - sum(c[4] for c in CLUSTERS)

OFFENSES = [
    ("PCS", 0.80),
    ("SQ", 0.07),
    ("CDO", 0.05),
    ("Drug Equipment Violations", 0.04),
    ("Drug/Narcotic Violations", 0.03),
    ('"Delivery, Controlled Substance"', 0.01),  # CSV-quoted: the text has a comma
]
GROUPS = [
    ("white", 0.56),
    ("black", 0.20),
    ("hispanic_latino", 0.08),
    ("asian", 0.03),
    ("native_american", 0.03),
    ("pacific_islander", 0.01),
    ("multiracial", 0.02),
    ("other", 0.01),
    ("unknown", 0.03),
    ("", 0.03),
]
# Relative arrests per hour of the day, 00 .. 23.
HOURS = [4, 3, 2, 2, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8, 7, 7, 6, 6, 5, 5]
LATE_SHARE = 0.02  # rows dated 1-5 days before the day they are filed under


def cumulative(weights):
    total = float(sum(weights))
    acc, out = 0.0, []
    for w in weights:
        acc += w
        out.append(acc / total)
    out[-1] = 1.0 + 1e-12  # random() < 1.0 always lands in range
    return out


def day_weights():
    """One weight per day START..END: a mild decline over the years, a sharp one after Measure 110
    (possession decriminalised, 2021-02-01), a summer peak, fewer on weekends."""
    days, weights = [], []
    d = START
    while d <= END:
        t = (d - START).days / 365.25
        w = 1.0 - 0.05 * t
        w *= 1.0 + 0.15 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 100) / 365.25)
        w *= (1.05, 1.05, 1.05, 1.05, 1.05, 0.85, 0.75)[d.weekday()]
        if d >= dt.date(2020, 3, 15):
            w *= 0.7  # pandemic
        if d >= dt.date(2021, 2, 1):
            w *= 0.3
        days.append(d)
        weights.append(w)
        d += dt.timedelta(days=1)
    return days, weights


def rows_per_day(n, weights):
    """Exactly n rows in all, spread as the weights say (largest remainder by cumulative rounding)."""
    total = sum(weights)
    out, acc, prev = [], 0.0, 0
    for w in weights:
        acc += w
        cum = round(acc / total * n)
        out.append(cum - prev)
        prev = cum
    out[-1] += n - prev
    return out


def generate(out, n: int, seed: int, chunk_rows: int = 50_000) -> None:
    rnd = random.Random(seed).random
    log, sqrt, cos, sin, tau = math.log, math.sqrt, math.cos, math.sin, 2 * math.pi
    bis = bisect.bisect_right

    days, weights = day_weights()
    per_day = rows_per_day(n, weights)
    date_str = [d.isoformat() for d in days]
    # id width: the per-year sequence grows by 1 or 2 per row
    per_year = {}
    for d, k in zip(days, per_day):
        per_year[d.year] = per_year.get(d.year, 0) + k
    width = max(6, len(str(2 * max(per_year.values(), default=0))))

    times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
    hour_cum = cumulative(HOURS)
    off_names = [o[0] for o in OFFENSES]
    off_cum = cumulative([o[1] for o in OFFENSES])
    grp_names = [g[0] for g in GROUPS]
    grp_cum = cumulative([g[1] for g in GROUPS])
    cl_cum = cumulative([c[4] for c in CLUSTERS] + [BACKGROUND])
    n_cl = len(CLUSTERS)
    cl_lon = [c[1] for c in CLUSTERS]
    cl_lat = [c[2] for c in CLUSTERS]
    cl_slon = [c[3] / M_PER_DEG_LON for c in CLUSTERS]
    cl_slat = [c[3] / M_PER_DEG_LAT for c in CLUSTERS]
    lon0, lat0, lon1, lat1 = BOX
    wlon, wlat = lon1 - lon0, lat1 - lat0
    lead_start = (LEAD_START - START).days

    out.write("id,date,time,kind,lon,lat,offense,race_ethnicity,agency\n")
    buf = []
    year = None
    seq = 0
    for di, count in enumerate(per_day):
        d = days[di]
        if d.year != year:
            year, seq = d.year, 0
            prefix = f"{year % 100:02d}-"
        # Referrals from LEAD's start, a growing share (up to 20 % + 8 %).
        if di >= lead_start:
            f = min(1.0, (di - lead_start) / 730.0)
            p_arrest = 1.0 - 0.28 * (0.3 + 0.7 * f)
            p_div = p_arrest + 0.20 * (0.3 + 0.7 * f)
        else:
            p_arrest = p_div = 1.0
        ds = date_str[di]
        for _ in range(count):
            seq += 2 if rnd() < 0.3 else 1
            r = rnd()
            if r < LATE_SHARE:
                day = ds if di == 0 else date_str[max(0, di - 1 - int(r / LATE_SHARE * 5))]
            else:
                day = ds
            t = times[bis(hour_cum, rnd()) * 3600 + int(rnd() * 3600)]
            r = rnd()
            kind = "arrest" if r < p_arrest else ("diversion_referral" if r < p_div else "social_contact_referral")
            c = bis(cl_cum, rnd())
            if c == n_cl:
                lon = lon0 + rnd() * wlon
                lat = lat0 + rnd() * wlat
            else:
                while True:  # Box-Muller; redraw the rare point outside the box
                    rad = sqrt(-2.0 * log(1.0 - rnd()))
                    a = tau * rnd()
                    lon = cl_lon[c] + rad * cos(a) * cl_slon[c]
                    lat = cl_lat[c] + rad * sin(a) * cl_slat[c]
                    if lon0 <= lon <= lon1 and lat0 <= lat <= lat1:
                        break
            buf.append(
                f"{prefix}{seq:0{width}d},{day},{t},{kind},{lon:.6f},{lat:.6f},"
                f"{off_names[bis(off_cum, rnd())]},{grp_names[bis(grp_cum, rnd())]},PPB\n"
            )
            if len(buf) >= chunk_rows:
                out.write("".join(buf))
                buf.clear()
    out.write("".join(buf))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="data rows (default 1000000)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("-o", "--output", default="-", help="CSV file, or - for stdout (default)")
    ap.add_argument("--version", action="store_true", help="print the output format version and exit")
    args = ap.parse_args()
    if args.version:
        print(FORMAT_VERSION)
        return 0
    if args.rows < 0:
        ap.error("--rows must be 0 or more")
    t0 = time.perf_counter()
    if args.output == "-":
        out = open(sys.stdout.fileno(), "w", buffering=1 << 20, newline="\n", closefd=False)
        try:
            generate(out, args.rows, args.seed)
            out.flush()
        except BrokenPipeError:
            # the reader went away (e.g. `| head`): not an error; keep Python quiet at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    part = f"{args.output}.part{os.getpid()}"
    # SIGTERM (e.g. a benchmark script stopping us) unwinds like Ctrl-C, so the .part file is removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        with open(part, "w", buffering=1 << 20, newline="\n", encoding="ascii") as out:
            generate(out, args.rows, args.seed)
        os.replace(part, args.output)
    except BaseException:
        try:
            os.unlink(part)
        except FileNotFoundError:
            pass
        raise
    dt_s = time.perf_counter() - t0
    size = os.path.getsize(args.output)
    print(f"gen_events: {args.rows} rows, {size / 1e6:.1f} MB to {args.output} in {dt_s:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
