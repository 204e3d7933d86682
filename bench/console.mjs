// The console's first paint against a running citydesk (bench/console.sh starts it and fills
// it): for RUNS fresh browser contexts logged in as `disp`, the time from navigation to the
// first contentful paint and to the case queue's rows being in the page; then the live map
// with its first 2,000 markers. Prints medians; asserts nothing.
import { launch } from '../tests/e2e/lib.mjs';

const base = process.argv[2];
const runs = Number(process.env.RUNS || 5);
const login = await fetch(base + '/api/v1/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: 'disp', password: 'bench-password' }) });
const { token } = await login.json();
const browser = await launch();
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const fcp = [], rows = [], maps = [];
for (let i = 0; i < runs; i++) {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await ctx.newPage();
  await page.addInitScript((tok) => {
    sessionStorage.setItem('citydesk.token', tok);
    new MutationObserver((muts, obs) => {
      if (document.querySelector('#queue-body tr[data-id]')) { window.__rowsAt = performance.now(); obs.disconnect(); }
    }).observe(document, { childList: true, subtree: true });
  }, token);
  await page.goto(base + '/#/queue');
  await page.locator('#queue-body tr[data-id]').first().waitFor({ timeout: 30000 });
  await page.waitForTimeout(100);
  const m = await page.evaluate(() => ({
    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
    rows: window.__rowsAt,
  }));
  fcp.push(m.fcp); rows.push(m.rows);
  const t0 = Date.now();
  await page.getByRole('link', { name: '实时地图' }).click();
  await page.waitForFunction(() => /2000|2,000/.test(document.getElementById('map-count').textContent), null, { timeout: 60000 });
  maps.push(Date.now() - t0);
  await ctx.close();
}
await browser.close();
console.log(`CONSOLE ${median(fcp).toFixed(0)} ${median(rows).toFixed(0)} ${median(maps).toFixed(0)}`);
