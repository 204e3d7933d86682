// Runs every test_* export of tests/e2e/test_*.mjs: one citydesk (fresh data directory) per
// file, with the file's serverEnv() settings if it has one, set up by the file's setup(server),
// one chromium for all. Prints one line per test and
// "e2e: N passed, N failed" (tests/run.sh sums it). Arguments filter tests by substring.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, Server, launch, ARTIFACTS } from './lib.mjs';

const only = process.argv.slice(2);
const dir = path.join(ROOT, 'tests', 'e2e');
let passed = 0, failed = 0;

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const files = fs.readdirSync(dir).filter((f) => /^test_.*\.mjs$/.test(f)).sort();
  let browser;
  try {
    browser = await launch();
  } catch (e) {
    console.log('FAIL e2e: ' + e.message);
    failed++;
    return;
  }
  try {
    for (const f of files) {
      const mod = await import(pathToFileURL(path.join(dir, f)).href);
      const tests = Object.keys(mod).filter((k) => k.startsWith('test_')).sort()
        .filter((k) => !only.length || only.some((o) => `${f}::${k}`.includes(o)));
      if (!tests.length) continue;
      const server = new Server({ env: mod.serverEnv ? await mod.serverEnv() : {} });
      try {
        await server.start();
        const probe = await server.request('GET', '/');
        if (probe.status === 404 && probe.json) {
          console.log(`SKIP ${f}: GET / answers 404 (the web routes are not in src/api/routes.c yet)`);
          continue;
        }
        if (mod.setup) await mod.setup(server);
        for (const name of tests) {
          const t0 = Date.now();
          try {
            await Promise.race([mod[name](server, browser),
              new Promise((_, rej) => setTimeout(() => rej(new Error('timed out after 120 s')), 120000))]);
            passed++;
            console.log(`ok   ${f}::${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
          } catch (e) {
            failed++;
            console.log(`FAIL ${f}::${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)\n${e.stack || e}`);
            if (server.proc && server.proc.exitCode !== null) {
              console.log(`the server exited with ${server.proc.exitCode}:\n${server.logTail(3000)}`);
              await server.stop(true);
              await server.start(); // the next tests get a server (same data)
            }
            for (const ctx of browser.contexts()) {
              for (const p of ctx.pages()) await p.screenshot({ path: path.join(ARTIFACTS, `FAIL-${name}.png`) }).catch(() => {});
              await ctx.close().catch(() => {});
            }
          }
        }
      } catch (e) {
        failed++;
        console.log(`FAIL ${f} (setup): ${e.stack || e}\n${server.logTail(2000)}`);
      } finally {
        await server.stop(true);
        if (server.exitCode) {
          failed++;
          console.log(`FAIL ${f}: the server exited with ${server.exitCode} at its stop:\n${server.logTail(6000)}`);
        }
        fs.rmSync(server.data, { recursive: true, force: true });
      }
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => { failed++; console.log('FAIL e2e runner: ' + (e.stack || e)); }).finally(() => {
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
