// What the browser tests (map.test.mjs) and tools/bench/bench_map.mjs share: starting `leadmap serve --demo`,
// the Chromium flags, and a page-side function.
import { spawn } from 'node:child_process';

/// Debian's Chromium as the tests run it: no sandbox (root in CI), software WebGL, and nothing that
/// reaches for the network (playwright-core gives every launch a fresh --user-data-dir).
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/// Starts `bin serve --demo` (or `bin serve` with `data`, e.g. ['--data', 'store.gpkg']) on an ephemeral
/// port; resolves with its base URL and the child once it listens, rejects if it exits first or has not
/// started in 60 s.
export function startServer(bin, env = {}, data = ['--demo']) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['serve', ...data, '--addr', '127.0.0.1:0'], {
      env: { ...process.env, LEADMAP_LOG: 'info', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const timer = setTimeout(() => reject(new Error(`leadmap serve did not start in 60 s:\n${log}`)), 60000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/url="(http:\/\/127\.0\.0\.1:\d+)"/);
      if (m && !child.started) {
        child.started = true;
        clearTimeout(timer);
        resolve(eventsRead(m[1]).then(() => ({ url: m[1], child })));
      }
    });
    child.on('exit', (code) => reject(new Error(`leadmap serve exited with ${code}:\n${log}`)));
  });
}

/// Waits until the service at `url` has read its stored events (figures answer 503 until then; the page
/// would ask again after Retry-After, the tests start once they are in).
async function eventsRead(url) {
  for (let i = 0; i < 6000; i++) {
    const r = await fetch(`${url}/readyz`).then((x) => x.json()).catch(() => null);
    if (!r || r.events?.state !== 'loading') return;
    await new Promise((done) => { setTimeout(done, 10); });
  }
  throw new Error(`${url}: the stored events were not read in 60 s`);
}

/// In the page (page.evaluate): the camera the page's preview is drawn for, from its first view (the
/// zones and the busiest hexagons, the page's own `firstView`), by the page's own `fit` (hexagons.js)
/// with the page's 30 px padding.
export async function previewCamera() {
  const { fit } = await import('/map/hexagons.js');
  const { cells, zones, firstView } = window.leadmap;
  const b = firstView(cells.features, zones.features);
  const box = document.querySelector('#map');
  return fit(b, box.clientWidth, box.clientHeight, 30);
}
