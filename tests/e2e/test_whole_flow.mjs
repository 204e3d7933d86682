// The whole life of one case through the two UIs, each person in their own browser context: a
// resident reports with the app's form (/app) and gets a tracking number; the district
// dispatcher's console shows it live (SSE, no reload), registers and dispatches it; the unit's
// staff accept and handle it in their console; the dispatcher verifies and closes it; the
// resident tracks it by number and phone and rates it 满意 in the app; the dispatcher's page shows
// the rating live. Then street scope: the case's own street dispatcher sees it, another street's
// does not (queue nor direct URL). Nothing goes through the API behind the pages' backs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { check, consolePage, shot } from './lib.mjs';

// The resident stands in 东门 (street 440303003) and uses the phone's position (WGS-84).
const DONGMEN = { latitude: 22.548, longitude: 114.118 };
const PHONE = '13900001234';
const DESC = '东门老街18号门口井盖破损下陷，晚上行人容易踩空，请尽快处理';
const DESC_WORDS = '东门老街18号门口井盖破损下陷'; // the server folds the full-width commas (NFKC)
const RESULT = '已更换井盖并恢复路面';
// A real 24×16 PNG (an orange patch), so the console can be checked to show the picture itself.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAABgAAAAQCAIAAACDRijCAAAAGklEQVR42mM4UaFBFcQwatCoQaMGjRpEGQIAHM8cHzjTbQMAAAAASUVORK5CYII=', 'base64');

export function setup(server) {
  server.addUser('disp', 'district_dispatcher');
  server.addUser('staff3', 'unit_staff', { unit: 'S-003' });
  server.addUser('dongmen', 'street_dispatcher', { street: '440303003' });
  server.addUser('guiyuan', 'street_dispatcher', { street: '440303001' });
}

// The resident's phone: mobile viewport, touch, the position granted to the page.
async function residentPage(browser, server) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', isMobile: true,
    hasTouch: true, geolocation: DONGMEN, permissions: ['geolocation'] });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  watch(page);
  await page.goto(server.base + '/app');
  await page.locator('#map path.district').waitFor();
  return page;
}

// Presses an action button of the console's case page by its visible label; with fill, fills the
// parameters it asks for and presses the confirm button (same label) under them.
async function act(page, label, fill) {
  await page.locator('#act-buttons').getByRole('button', { name: label, exact: true }).click();
  if (fill) {
    await fill(page);
    await page.locator('#act-params').getByRole('button', { name: label, exact: true }).click();
  }
}

async function buttons(page) {
  return page.locator('#act-buttons button').allTextContents();
}

async function waitStatus(page, status) {
  await page.locator(`#case-title .badge.st-${status}`).waitFor({ timeout: 10000 });
}

// Script errors and failed loads, with the address that failed. lib.mjs's page.errors has the
// text only, and the console has no favicon (/favicon.ico answers 404 on every load), so its
// "Failed to load resource ... 404" lines are left to this listener, which knows the address.
function watch(page) {
  page.failedLoads = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && m.text().startsWith('Failed to load resource')) page.failedLoads.push(m.location().url + ' ' + m.text());
  });
  return page;
}

// allowUrl: addresses expected to fail (a case out of scope).
function noErrors(page, who, allowUrl = () => false) {
  const errs = page.errors.filter((e) => !e.startsWith('Failed to load resource'))
    .concat(page.failedLoads.filter((e) => !e.split(' ')[0].endsWith('/favicon.ico') && !allowUrl(e.split(' ')[0])));
  check(errs.length === 0, `${who}: no page errors: ${errs.join('; ')}`);
}

export async function test_report_to_rating_through_both_uis(server, browser) {
  // The dispatcher is at the console, looking at the queue, before anything is reported.
  const disp = watch(await consolePage(browser, server, 'disp'));
  await disp.locator('#queue-body tr').first().waitFor();
  // A mark on this document: it is still there only if the page was never reloaded.
  await disp.evaluate(() => { window.wholeFlowMark = 'same document'; });
  const sameDocument = async () => (await disp.evaluate(() => window.wholeFlowMark)) === 'same document';

  // 1. The resident reports with the form.
  const app = await residentPage(browser, server);
  await app.getByLabel('问题类别').selectOption({ index: 1 });
  await app.getByLabel('问题描述').fill(DESC);
  await app.getByRole('button', { name: '使用我的位置' }).click();
  await app.locator('#place').filter({ hasText: '东门' }).waitFor({ timeout: 10000 });
  const photo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cd-whole-')), 'manhole.png');
  fs.writeFileSync(photo, PNG);
  await app.locator('#photo').setInputFiles(photo);
  await app.locator('#thumbs img').waitFor();
  await app.getByLabel('称呼（选填）').fill('李女士');
  await app.locator('#pane-report').getByLabel('手机号').fill(PHONE);
  await shot(app, 'whole-1-resident-form');
  await app.getByRole('button', { name: '提交' }).click();
  await app.locator('#report-done').waitFor({ state: 'visible' });
  fs.rmSync(path.dirname(photo), { recursive: true, force: true }); // read at upload, not before
  const ref = (await app.locator('#done-ref').textContent()).trim();
  check(/^LH\d{14}$/.test(ref), 'tracking number: ' + ref);
  await shot(app, 'whole-2-resident-number');

  // 2. It appears in the dispatcher's queue over the stream, without a reload.
  const row = disp.locator(`#queue-body tr[data-id="${ref}"]`);
  await row.waitFor({ timeout: 10000 });
  check(await sameDocument(), 'the queue was not reloaded');
  check((await row.locator('.badge').textContent()) === '已上报', 'queue status: ' + await row.locator('.badge').textContent());
  check((await row.textContent()).includes('东门'), 'queue row shows the street: ' + await row.textContent());
  await disp.locator('.toast', { hasText: '新案件 ' + ref }).waitFor();
  await shot(disp, 'whole-3-console-live');

  // 3. The dispatcher opens it, sees what the resident sent, registers and dispatches it.
  await row.getByRole('link', { name: ref }).click();
  await waitStatus(disp, 'reported');
  const fields = await disp.locator('#case-fields').textContent();
  check(fields.includes(DESC_WORDS), 'the description reached the console: ' + fields);
  check(fields.includes('李女士') && fields.includes('1390000'), 'staff see the reporter: ' + fields);
  const img = disp.locator('#case-photos img');
  await img.waitFor();
  await disp.waitForFunction(() => { const i = document.querySelector('#case-photos img'); return i && i.complete; });
  const size = await img.evaluate((i) => i.naturalWidth + 'x' + i.naturalHeight);
  check(size === '24x16', 'the resident\'s photo is shown in the console: ' + size);
  let labels = await buttons(disp);
  check(labels.includes('立案') && !labels.includes('结案') && !labels.includes('处置'), 'reported: ' + labels);
  await act(disp, '立案');
  await waitStatus(disp, 'registered');
  await act(disp, '派遣', async (p) => { await p.getByLabel('责任单位').selectOption({ label: '东门街道办事处' }); }); // S-003
  await waitStatus(disp, 'dispatched');
  labels = await buttons(disp);
  check(!labels.includes('签收') && !labels.includes('处置'), 'the dispatcher may not handle: ' + labels);
  await shot(disp, 'whole-4-console-dispatched');

  // While it is with the unit, the resident's tracking shows progress and offers no rating.
  await app.getByRole('tab', { name: '查询进度' }).click();
  await app.locator('#pane-track').getByLabel('工单编号').fill(ref);
  await app.locator('#pane-track').getByLabel('手机号').fill(PHONE);
  await app.getByRole('button', { name: '查询' }).click();
  await app.locator('#case-status.st-dispatched').waitFor();
  check(await app.locator('#rate').isHidden(), 'no rating before the case is closed');

  // 4. The unit's staff find it in their own queue, accept it and handle it with a result.
  const staff = watch(await consolePage(browser, server, 'staff3'));
  const srow = staff.locator(`#queue-body tr[data-id="${ref}"]`);
  await srow.waitFor({ timeout: 10000 });
  await srow.getByRole('link', { name: ref }).click();
  await waitStatus(staff, 'dispatched');
  labels = await buttons(staff);
  check(labels.includes('签收') && !labels.includes('结案') && !labels.includes('派遣'), 'staff: ' + labels);
  await act(staff, '签收');
  await waitStatus(staff, 'accepted');
  await act(staff, '处置', async (p) => { await p.getByLabel('处置结果').fill(RESULT); });
  await waitStatus(staff, 'handled');
  labels = await buttons(staff);
  check(!labels.includes('核查') && !labels.includes('结案'), 'staff may not verify their own work: ' + labels);
  await shot(staff, 'whole-5-staff-handled');
  noErrors(staff, 'staff');
  await staff.context().close();

  // 5. The dispatcher's open page follows over the stream; verify and close there.
  await waitStatus(disp, 'handled');
  await act(disp, '核查', async (p) => { await p.getByLabel('核查通过').selectOption('true'); });
  await waitStatus(disp, 'verified');
  await act(disp, '结案');
  await waitStatus(disp, 'closed');
  const hist = await disp.locator('#case-history li').allTextContents();
  check(hist.some((h) => h.includes(RESULT)), 'the result is in the console history');
  await shot(disp, 'whole-6-console-closed');

  // 6. The resident looks it up again (number + phone) and rates it 满意.
  await app.locator('#pane-track').getByLabel('工单编号').fill(ref);
  await app.locator('#pane-track').getByLabel('手机号').fill(PHONE);
  await app.getByRole('button', { name: '查询' }).click();
  await app.locator('#case-status.st-closed').waitFor();
  const ahist = await app.locator('#case-history li').allTextContents();
  check(ahist.some((h) => h.includes(RESULT)), 'the unit\'s result is shown to the resident: ' + ahist.join(' | '));
  check(!(await app.content()).includes(PHONE), 'the app never shows the phone in full');
  await shot(app, 'whole-7-resident-closed');
  await app.getByRole('button', { name: '满意', exact: true }).click();
  await app.locator('#case-status.st-rated').waitFor();
  await app.locator('#rate-done').filter({ hasText: '感谢' }).waitFor();
  check(await app.locator('#rate').isHidden(), 'rating is offered once');
  await shot(app, 'whole-8-resident-rated');
  noErrors(app, 'resident');
  await app.context().close();

  // 7. The console shows the rating live.
  await waitStatus(disp, 'rated');
  const sat = disp.locator('#case-fields dt', { hasText: '满意度' });
  await sat.waitFor();
  check((await disp.locator('#case-fields dt:has-text("满意度") + dd').textContent()) === '满意', 'satisfaction shown');
  check(await sameDocument(), 'the dispatcher never reloaded');
  await shot(disp, 'whole-9-console-rated');
  noErrors(disp, 'dispatcher');
  await disp.context().close();

  // 8. Street scope: 东门's dispatcher sees it; 桂园's does not, in the queue nor by its address.
  const own = await consolePage(browser, server, 'dongmen');
  await own.locator(`#queue-body tr[data-id="${ref}"]`).waitFor({ timeout: 10000 });
  await own.context().close();
  const other = watch(await consolePage(browser, server, 'guiyuan'));
  await other.locator('#queue-body tr').first().waitFor();
  check(await other.locator(`#queue-body tr[data-id="${ref}"]`).count() === 0, 'another street\'s case is not in the queue');
  check(!(await other.locator('#queue-body').textContent()).includes(ref), 'nor its number');
  await shot(other, 'whole-10-other-street-queue');
  await other.goto(server.base + '/#/case/' + ref);
  await other.locator('#case-fields .error').waitFor();
  check(!(await other.locator('#view-case').textContent()).includes(DESC_WORDS), 'the case is not shown by its address');
  check(await other.locator('#act-buttons button').count() === 0, 'no actions on a case out of scope');
  await shot(other, 'whole-11-other-street-denied');
  noErrors(other, 'other street', (u) => u.endsWith('/api/v1/cases/' + ref));
  await other.context().close();
}
