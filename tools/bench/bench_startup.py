#!/usr/bin/env python3
"""Start-up benchmark (issue 19): `leadmap serve --data STORE` over a store of N events, beside a
baseline binary on the same store in the same run, rounds interleaved (A B A B ...).

For each start: the time from spawning the process to the first `200` of
`GET /v1/eligibility?lon=-122.6793&lat=45.5189` (the field apps' question), to the first `200` of
`GET /v1/cells?res=9` (figures ready: every stored event in memory), and the resident memory once
figures are ready (VmRSS, and the peak VmHWM, from /proc/PID/status), in bytes per stored event.
Each endpoint is asked every 10 ms.

The store is made once (cached as target/bench/startup-ROWS.gpkg) by the baseline's `leadmap import`
of tools/gen/gen_events.py's seeded CSV, so both binaries can open it. The measured binary starts on a
fresh copy (target/bench/startup-ROWS-leadmap.gpkg): when its schema is newer, its first start
upgrades the copy, and that start's time is printed apart (a one-off cost at an upgrade), not counted
in the rounds. The baseline is another leadmap binary (--baseline BIN), e.g. the release build of the
commit before a change:

    git worktree add /tmp/leadmap-base REV && \\
      (cd /tmp/leadmap-base && CARGO_TARGET_DIR=/tmp/leadmap-base-target cargo build --release --bin leadmap)
    python3 tools/bench/bench_startup.py --baseline /tmp/leadmap-base-target/release/leadmap

Writes target/bench/startup.json and prints a table (medians over the rounds).
"""

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def proc_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def one_start(binary, store, events, timeout):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, LEADMAP_LOG="warn")
    t0 = time.monotonic()
    child = subprocess.Popen(
        [binary, "serve", "--data", str(store), "--addr", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        eligibility = figures = None
        while time.monotonic() - t0 < timeout:
            if child.poll() is not None:
                raise SystemExit(f"{binary} exited with {child.returncode}")
            if eligibility is None and status_of(f"{base}/v1/eligibility?lon=-122.6793&lat=45.5189") == 200:
                eligibility = time.monotonic() - t0
            if eligibility is not None and status_of(f"{base}/v1/cells?res=9") == 200:
                figures = time.monotonic() - t0
                break
            time.sleep(0.01)
        if figures is None:
            raise SystemExit(f"{binary}: figures not ready in {timeout} s")
        rss = proc_kb(child.pid, "VmRSS") * 1024
        peak = proc_kb(child.pid, "VmHWM") * 1024
        return {
            "eligibility_s": eligibility,
            "figures_s": figures,
            "rss_bytes": rss,
            "peak_bytes": peak,
            "rss_per_event": rss / events,
            "peak_per_event": peak / events,
        }
    finally:
        child.terminate()
        child.wait()


def make_store(leadmap, rows, seed):
    bench = ROOT / "target" / "bench"
    bench.mkdir(parents=True, exist_ok=True)
    store = bench / f"startup-{rows}.gpkg"
    if store.exists():
        return store
    csv = bench / f"startup-events-{rows}.csv"
    if not csv.exists():
        print(f"generating {rows} events...", file=sys.stderr)
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "gen" / "gen_events.py"), "--rows", str(rows), "--seed", str(seed), "-o", str(csv)],
            check=True,
        )
    print(f"importing them into {store}...", file=sys.stderr)
    tmp = store.with_suffix(".partial.gpkg")
    if tmp.exists():
        tmp.unlink()
    r = subprocess.run([leadmap, "import", str(csv), "--source", "bench", "--data", str(tmp), "-q"])
    if r.returncode not in (0, 3):
        raise SystemExit(f"leadmap import failed ({r.returncode})")
    tmp.rename(store)
    return store


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leadmap", default=str(ROOT / "target" / "release" / "leadmap"), help="the binary measured")
    ap.add_argument("--baseline", required=True, help="the binary compared against (e.g. the previous commit's)")
    ap.add_argument("--events", type=int, default=10_000_000, help="stored events (default 10 M)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    store = make_store(a.baseline, a.events, a.seed)
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        n = db.execute("SELECT count(*) FROM events").fetchone()[0]
    own = store.with_name(f"startup-{a.events}-leadmap.gpkg")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{own}{suffix}").unlink(missing_ok=True)
    print(f"copying the store to {own}...", file=sys.stderr)
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as src, sqlite3.connect(own) as dst:
        src.backup(dst)
    first = one_start(a.leadmap, own, n, a.timeout)
    print(f"leadmap's first start on the copy (any store upgrade included): figures {first['figures_s']:.2f} s",
          file=sys.stderr)
    stores = {"leadmap": own, "baseline": store}
    runs = {"leadmap": [], "baseline": []}
    for r in range(a.rounds):
        order = [("leadmap", a.leadmap), ("baseline", a.baseline)]
        if r % 2:
            order.reverse()
        for name, binary in order:
            m = one_start(binary, stores[name], n, a.timeout)
            runs[name].append(m)
            print(f"round {r + 1} {name}: eligibility {m['eligibility_s']:.3f} s, figures {m['figures_s']:.2f} s, "
                  f"RSS {m['rss_bytes'] / 1e6:.0f} MB ({m['rss_per_event']:.0f} B/event), peak {m['peak_bytes'] / 1e6:.0f} MB",
                  file=sys.stderr)
    med = {name: {k: statistics.median(x[k] for x in ms) for k in ms[0]} for name, ms in runs.items()}
    print(f"\n{n} stored events, median of {a.rounds}:")
    print(f"{'':10} {'eligibility':>12} {'figures':>9} {'RSS':>9} {'B/event':>8} {'peak':>9}")
    for name in ("leadmap", "baseline"):
        m = med[name]
        print(f"{name:10} {m['eligibility_s']:11.3f}s {m['figures_s']:8.2f}s {m['rss_bytes'] / 1e6:7.0f}MB "
              f"{m['rss_per_event']:8.0f} {m['peak_bytes'] / 1e6:7.0f}MB")
    out = ROOT / "target" / "bench" / "startup.json"
    print(f"leadmap's first start on its copy (store upgrade included): figures {first['figures_s']:.2f} s")
    out.write_text(json.dumps({"events": n, "rounds": a.rounds, "first_start": first, "runs": runs, "median": med}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
