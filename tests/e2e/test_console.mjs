// The command-centre console in real Chromium against a real citydesk: the static handler, the
// dispatcher's flow (a report appears live in the queue over SSE, then dispatch → handle →
// verify → close → the resident rates, each through the buttons the role is given), street
// scope, the language switch, and the map, triage, scores and insights views.
import { check, consolePage, shot } from './lib.mjs';

const DONGMEN = { lat: 22.548, lng: 114.118 };  // street 440303003 (东门)
const GUIYUAN = { lat: 22.545, lng: 114.105 };  // street 440303001 (桂园)

export function setup(server) {
  server.addUser('admin', 'admin');
  server.addUser('disp', 'district_dispatcher');
  server.addUser('dongmen', 'street_dispatcher', { street: '440303003' });
  server.addUser('guiyuan', 'street_dispatcher', { street: '440303001' });
  server.addUser('staff', 'unit_staff', { unit: 'S-003' });
  server.addUser('res1', 'citizen');
}

async function report(server, token, where, description, extra = {}) {
  const r = await server.request('POST', '/api/v1/cases', { description, lat: where.lat, lng: where.lng, ...extra }, token);
  check(r.status === 201, 'report: ' + r.status + ' ' + r.text);
  return r.json;
}

// Clicks the action button (and the confirm button when the action asks for parameters).
async function act(page, action, fill) {
  await page.locator(`#act-buttons button[data-action="${action}"]`).click();
  if (fill) {
    await fill(page);
    await page.locator(`#act-params button[data-confirm="${action}"]`).click();
  }
}

async function actions(page) {
  return page.locator('#act-buttons button').evaluateAll((bs) => bs.map((b) => b.dataset.action));
}

async function waitStatus(page, status) {
  await page.locator(`#case-title .badge.st-${status}`).waitFor({ timeout: 10000 });
}

export async function test_static_files(server) {
  let r = await server.request('GET', '/');
  check(r.status === 200 && r.headers.get('content-type').startsWith('text/html'), 'index ' + r.status);
  check(r.text.includes('/static/console.js'), 'index names the script');
  check(r.headers.get('content-security-policy').includes("default-src 'self'"), 'CSP on the page');
  r = await server.request('GET', '/static/console.js');
  check(r.status === 200 && r.headers.get('content-type').startsWith('text/javascript'), 'js type');
  const etag = r.headers.get('etag');
  check(etag && r.headers.get('cache-control') === 'no-cache', 'validators');
  r = await server.request('GET', '/static/console.js', undefined, undefined, { 'If-None-Match': etag });
  check(r.status === 304 && r.text === '', 'revalidation answers 304: ' + r.status);
  r = await server.request('GET', '/static/console.css');
  check(r.headers.get('content-type').startsWith('text/css'), 'css type');
  for (const bad of ['/static/..', '/static/.gitignore', '/static/nope.js', '/static/..%2Fsrc%2Fmain.c', '/static/%2e%2e',
    '/static/%2e%2e%2fMakefile', '/static/../Makefile', '/static/', '/static//etc/passwd']) {
    r = await server.rawGet(bad);
    check(r.status === 404, bad + ' → ' + r.status);
    check(!r.text.includes('#include'), bad + ' leaked a file');
  }
  // a NUL ends the decoded path: whatever is served, it is never typed by the part after it
  r = await server.rawGet('/static/console.js%00.png');
  check(r.status === 404 || r.headers['content-type'].startsWith('text/javascript'), 'NUL: ' + r.status);
  r = await server.request('GET', '/static/nope.js');
  check(r.headers.get('content-type').startsWith('text/plain'), 'a missing page is plain text');
  r = await server.request('GET', '/api/v1/nope');
  check(r.status === 404 && r.json && r.json.error.code === 'not_found', 'API 404 stays JSON');
  r = await server.request('POST', '/static/console.js');
  check(r.status === 405, 'POST on a static file: ' + r.status);
}

export async function test_dispatcher_flow_live(server, browser) {
  const citizen = await server.login('res1');
  const page = await consolePage(browser, server, 'disp');
  await page.locator('#queue-body').waitFor();
  const c = await report(server, citizen, DONGMEN, '东门老街路口井盖缺失，很危险，请尽快处理', { reporter: { name: '张三', phone: '13812341234' } });
  // it appears live: no reload, the stream brings it
  const row = page.locator(`#queue-body tr[data-id="${c.id}"]`);
  await row.waitFor({ timeout: 10000 });
  check((await row.locator('.badge').textContent()) === '已上报', 'status label in the queue');
  await shot(page, 'queue-live');
  await row.getByRole('link', { name: c.id }).click();
  await waitStatus(page, 'reported');
  let allowed = await actions(page);
  check(allowed.includes('register') && !allowed.includes('close') && !allowed.includes('handle'), 'reported: ' + allowed);
  await act(page, 'register');
  await waitStatus(page, 'registered');
  await act(page, 'dispatch', async (p) => { await p.getByLabel('责任单位').selectOption('S-003'); });
  await waitStatus(page, 'dispatched');
  allowed = await actions(page);
  check(!allowed.includes('handle') && !allowed.includes('accept'), 'the dispatcher may not handle: ' + allowed);
  await shot(page, 'case-dispatched');

  // the unit's staff accept and handle it in their own console
  const staff = await consolePage(browser, server, 'staff');
  await staff.goto(server.base + '/#/case/' + c.id);
  await waitStatus(staff, 'dispatched');
  allowed = await actions(staff);
  check(allowed.includes('accept') && !allowed.includes('close') && !allowed.includes('dispatch'), 'staff: ' + allowed);
  await act(staff, 'accept');
  await waitStatus(staff, 'accepted');
  await act(staff, 'handle', async (p) => { await p.getByLabel('处置结果').fill('已补装井盖并设置警示'); });
  await waitStatus(staff, 'handled');
  await staff.context().close();

  // the dispatcher's page follows over the stream, then verify and close
  await waitStatus(page, 'handled');
  await act(page, 'verify', async (p) => { await p.getByLabel('核查通过').selectOption('true'); });
  await waitStatus(page, 'verified');
  await act(page, 'close');
  await waitStatus(page, 'closed');
  const hist = await page.locator('#case-history li').allTextContents();
  check(hist.length >= 7, 'history has every step: ' + hist.length);
  check(hist.some((h) => h.includes('已补装井盖')), 'the result is in the history');

  // the resident rates; the console shows it live
  const rate = await server.request('POST', `/api/v1/cases/${c.id}/actions`, { action: 'rate', satisfaction: 'satisfied' }, citizen);
  check(rate.status === 200, 'rate: ' + rate.status + ' ' + rate.text);
  await waitStatus(page, 'rated');
  await shot(page, 'case-rated');
  check(page.errors.length === 0, 'no page errors: ' + page.errors.join('; '));
  await page.context().close();
}

export async function test_bulk_register_and_conflict(server, browser) {
  const citizen = await server.login('res1');
  const a = await report(server, citizen, DONGMEN, '东门步行街垃圾满溢无人清理');
  const b = await report(server, citizen, DONGMEN, '东门路口路灯不亮');
  const page = await consolePage(browser, server, 'dongmen');
  await page.getByLabel('状态', { exact: true }).selectOption('reported');
  await page.getByRole('button', { name: '筛选', exact: true }).click();
  await page.locator(`#queue-body tr[data-id="${a.id}"]`).waitFor();
  await page.getByLabel('选择案件 ' + a.id).check();
  await page.getByLabel('选择案件 ' + b.id).check();
  check((await page.locator('#bulk-count').textContent()).includes('2'), 'two selected');
  await page.locator('#bulk-action').selectOption('register');
  await page.locator('#bulk-go').click();
  await page.locator('.toast', { hasText: '成功 2 件' }).waitFor();
  for (const id of [a.id, b.id]) {
    const r = await server.request('GET', '/api/v1/cases/' + id, undefined, citizen);
    check(r.json.status === 'registered', id + ' registered: ' + r.json.status);
  }
  // someone else closes the case: the open page follows over the stream, with the new actions
  await page.goto(server.base + '/#/case/' + a.id);
  await waitStatus(page, 'registered');
  const admin = await server.login('admin');
  const r = await server.request('POST', `/api/v1/cases/${a.id}/actions`, { action: 'close' }, admin);
  check(r.status === 200, 'admin close ' + r.status + ' ' + r.text);
  await waitStatus(page, 'closed');
  const allowed = await actions(page);
  check(!allowed.includes('dispatch'), 'a closed case cannot be dispatched: ' + allowed);
  await page.context().close();
}

export async function test_street_dispatcher_scope(server, browser) {
  const citizen = await server.login('res1');
  const page = await consolePage(browser, server, 'guiyuan');
  const other = await report(server, citizen, DONGMEN, '东门街道的案件，桂园看不到');
  const own = await report(server, citizen, GUIYUAN, '桂园路人行道破损');
  await page.locator(`#queue-body tr[data-id="${own.id}"]`).waitFor({ timeout: 10000 });
  await page.waitForTimeout(500);
  check(await page.locator(`#queue-body tr[data-id="${other.id}"]`).count() === 0, 'another street\'s case is not in the queue');
  await page.reload();
  await page.locator(`#queue-body tr[data-id="${own.id}"]`).waitFor();
  check(await page.locator(`#queue-body tr[data-id="${other.id}"]`).count() === 0, '... nor after a reload');
  await page.goto(server.base + '/#/case/' + other.id);
  await page.locator('#case-fields .error').waitFor();
  check(await page.locator('#act-buttons button').count() === 0, 'no actions on a case out of scope');
  await shot(page, 'scope-denied');
  await page.context().close();
}

export async function test_english_switch_and_keyboard(server, browser) {
  const page = await consolePage(browser, server, 'disp');
  await page.getByRole('button', { name: 'English' }).first().click();
  await page.getByRole('link', { name: 'Case queue' }).waitFor();
  check(await page.evaluate(() => document.documentElement.lang) === 'en', 'html lang follows');
  check((await page.locator('#live-text').textContent()) === 'Live', 'live indicator translated');
  // keyboard: after a load the skip link is the first stop
  await page.reload();
  await page.locator('#live[data-state="on"]').waitFor();
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.className) === 'skip', 'skip link first');
  // every form control has an accessible name
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('input,select,textarea,button')]
    .filter((e) => e.offsetParent !== null)
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
    .map((e) => e.id || e.name || e.outerHTML.slice(0, 60)));
  check(unnamed.length === 0, 'unnamed controls: ' + unnamed.join(', '));
  await shot(page, 'english');
  await page.getByRole('button', { name: '中文' }).first().click();
  await page.getByRole('link', { name: '案件队列' }).waitFor();
  await page.context().close();
}

export async function test_map_triage_scores_insights(server, browser) {
  const citizen = await server.login('res1');
  const c = await report(server, citizen, DONGMEN, '这里有个问题需要处理一下');
  check(c.category === null, 'the vague report waits for triage: ' + JSON.stringify(c.category));
  const page = await consolePage(browser, server, 'disp');
  await page.getByRole('link', { name: '实时地图' }).click();
  await page.locator('#map-count').filter({ hasText: /[1-9]/ }).waitFor({ timeout: 10000 });
  // a case reported now reaches the map over the stream
  const before = await page.evaluate(() => document.getElementById('map-count').textContent);
  await report(server, citizen, GUIYUAN, '桂园路口积水');
  await page.waitForFunction((b) => document.getElementById('map-count').textContent !== b, before, { timeout: 10000 });
  const painted = await page.evaluate(() => {
    const cv = document.getElementById('map');
    const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    let blue = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 60 && d[i + 2] > 150) blue++;
    return blue;
  });
  check(painted > 20, 'case markers are drawn: ' + painted);
  await shot(page, 'map');
  await page.keyboard.press('Tab');
  await page.locator('#map').focus();
  await page.keyboard.press('+');

  await page.getByRole('link', { name: '待分类' }).click();
  const card = page.locator(`article.triage[data-id="${c.id}"]`);
  await card.waitFor();
  await card.getByLabel('选择类别').fill('UM06010');
  await card.getByRole('button', { name: '确认并立案' }).click();
  await card.waitFor({ state: 'detached' });
  const r = await server.request('GET', '/api/v1/cases/' + c.id, undefined, await server.login('disp'));
  check(r.json.status === 'registered' && r.json.category && r.json.category.code === 'UM06010', 'triaged: ' + JSON.stringify(r.json.category));

  await page.getByRole('link', { name: '考核评价' }).click();
  await page.locator('#scores-table tbody tr').first().waitFor();
  await page.locator('#ch-trend svg').waitFor({ timeout: 20000 });
  check(await page.locator('#ch-mix svg path').count() > 0, 'category mix drawn');
  await shot(page, 'scores');

  await page.getByRole('link', { name: '告警' }).click();
  await page.locator('#alerts-list p, #alerts-list ul').first().waitFor();

  await page.getByRole('link', { name: '分析研判' }).click();
  await page.locator('#hotspots ol').waitFor();
  await shot(page, 'insights');
  check(page.errors.filter((e) => !e.includes('404')).length === 0, 'no page errors: ' + page.errors.join('; '));
  await page.context().close();
}

export async function test_stale_page_rereads_on_409(server, browser) {
  const citizen = await server.login('res1');
  const c = await report(server, citizen, DONGMEN, '东门市场门口井盖松动');
  const page = await consolePage(browser, server, 'disp', { offline: true });
  await page.goto(server.base + '/#/case/' + c.id);
  await waitStatus(page, 'reported');
  check((await page.locator('#live').getAttribute('data-state')) !== 'on', 'the stream is cut');
  // meanwhile someone registers it: the page still offers 不予立案 (reject)
  const r = await server.request('POST', `/api/v1/cases/${c.id}/actions`, { action: 'register' }, await server.login('admin'));
  check(r.status === 200, 'register ' + r.status);
  await act(page, 'reject', async (p) => { await p.getByLabel('理由').fill('重复'); });
  const err = page.locator('#act-error');
  await err.waitFor();
  const text = await err.textContent();
  check(text.includes('已被他人更新'), 'the 409 says the case changed: ' + text);
  // the page re-read the case: the buttons are the new state's
  await waitStatus(page, 'registered');
  const allowed = await actions(page);
  check(allowed.includes('dispatch') && !allowed.includes('reject'), 'buttons follow the 409: ' + allowed);
  await shot(page, 'conflict');
  await page.context().close();
}
