// The e2e harness: starts the real citydesk on a free loopback port with a fresh data
// directory (IoT off, web folder = the repo's web/), speaks its API, and launches Debian's
// chromium headless through playwright-core with the flags this machine needs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = path.join(ROOT, 'tests', 'e2e', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'password-123';

// Chromium as root, in a closed network: no sandbox, no GPU, nothing phoning home.
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
  '--lang=zh-CN'];

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export class Server {
  constructor(opts = {}) {
    this.bin = path.resolve(ROOT, process.env.CITYDESK_BIN || 'build/asan/citydesk');
    this.data = opts.data || fs.mkdtempSync(path.join(os.tmpdir(), 'citydesk-e2e-'));
    this.ownData = !opts.data;
    this.extraEnv = opts.env || {};
    this.proc = null;
  }

  env() {
    return { ...process.env, CITYDESK_DATA: this.data, CITYDESK_IOT: 'off', CITYDESK_WEB: path.join(ROOT, 'web'),
      CITYDESK_ACCESS_LOG: 'errors', ...this.extraEnv };
  }

  get base() { return `http://127.0.0.1:${this.port}`; }

  async start() {
    this.port = await freePort();
    const env = { ...this.env(), CITYDESK_LISTEN: `127.0.0.1:${this.port}` };
    this.log = fs.openSync(path.join(this.data, 'server.log'), 'a');
    this.proc = spawn(this.bin, ['serve'], { env, cwd: ROOT, stdio: ['ignore', this.log, this.log] });
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error('server exited ' + this.proc.exitCode + ':\n' + this.logTail());
      try {
        const r = await fetch(this.base + '/healthz');
        if (r.status === 200) return this;
      } catch (e) { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('server did not become healthy:\n' + this.logTail());
  }

  // Stops the server (SIGTERM, then SIGKILL after 30 s); removes its own data unless keepData.
  async stop(keepData = false) {
    if (this.proc && this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 30000);
      await done;
      clearTimeout(t);
    }
    if (this.proc) this.exitCode = this.proc.exitCode; // non-zero: a crash or a sanitizer report
    this.proc = null;
    if (this.log !== undefined) fs.closeSync(this.log);
    this.log = undefined;
    if (this.ownData && !keepData) fs.rmSync(this.data, { recursive: true, force: true });
  }

  logTail(n = 4000) {
    try { const s = fs.readFileSync(path.join(this.data, 'server.log'), 'utf8'); return s.slice(-n); } catch (e) { return ''; }
  }

  cli(args, input) {
    const p = spawnSync(this.bin, args, { env: this.env(), cwd: ROOT, input, encoding: 'utf8', timeout: 120000 });
    if (p.status !== 0) throw new Error(`citydesk ${args.join(' ')} failed (${p.status}): ${p.stderr}`);
    return p.stdout;
  }

  addUser(username, role, { street, unit } = {}) {
    const args = ['user', 'add', '--username', username, '--role', role, '--password-stdin'];
    if (street) args.push('--street', street);
    if (unit) args.push('--unit', unit);
    this.cli(args, PASSWORD + '\n');
  }

  async request(method, p, body, token, headers = {}) {
    const h = { ...headers };
    if (token) h.Authorization = 'Bearer ' + token;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const r = await fetch(this.base + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
    return { status: r.status, headers: r.headers, text, json };
  }

  // A GET with the path sent exactly as given (fetch would resolve "/static/.." first).
  rawGet(rawPath) {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, path: rawPath, method: 'GET' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  async login(username) {
    const r = await this.request('POST', '/api/v1/sessions', { username, password: PASSWORD });
    if (r.status !== 201 && r.status !== 200) throw new Error('login ' + username + ': ' + r.status + ' ' + r.text);
    return r.json.token;
  }
}

export function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg);
}

// Launches chromium; throws a clear error when it is not installed.
export async function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/deps.sh (Debian package chromium)`);
  let pw;
  try { pw = await import('playwright-core'); } catch (e) { throw new Error('playwright-core is missing: run npm ci'); }
  const chromium = pw.chromium || pw.default.chromium;
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// A new page logged into the console as username (through the login form, as a person would).
// With offline: true the event stream is refused, so the page only knows what it last read.
export async function consolePage(browser, server, username, { lang, offline } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: 'zh-CN' });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  if (offline) await page.route('**/api/v1/stream', (route) => route.abort());
  if (lang) await page.addInitScript((l) => localStorage.setItem('citydesk.lang', l), lang);
  await page.goto(server.base + '/');
  await page.getByLabel(lang === 'en' ? 'Username' : '用户名').fill(username);
  await page.getByLabel(lang === 'en' ? 'Password' : '密码').fill(PASSWORD);
  await page.getByRole('button', { name: lang === 'en' ? 'Sign in' : '登录' }).click();
  await page.locator('#shell').waitFor({ state: 'visible' });
  if (!offline) await page.locator('#live[data-state="on"]').waitFor({ timeout: 15000 });
  return page;
}

export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage: false }).catch(() => {});
}
