// The residents' app (/app) in real Chromium against a real citydesk: a resident reports with
// the form (category, description, a place tapped on the map, a photo, phone), gets a number,
// staff work the case through the API, the resident tracks it (not with another phone) and
// rates it from the app; the language switch and the news tab.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { check, shot } from './lib.mjs';

const PHONE = '13812345678';
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64)]);

export function setup(server) {
  server.addUser('admin', 'admin');
}

async function appPage(browser, server) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN', isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(server.base + '/app');
  await page.locator('#map path.district').waitFor();
  return page;
}

async function act(server, token, ref, action, extra = {}) {
  const r = await server.request('POST', `/api/v1/cases/${ref}/actions`, { action, ...extra }, token);
  check(r.status === 200, `${action}: ${r.status} ${r.text}`);
}

export async function test_resident_reports_tracks_and_rates(server, browser) {
  const page = await appPage(browser, server);
  await page.getByLabel('问题类别').selectOption({ index: 1 });
  await page.getByLabel('问题描述').fill('东门老街路口井盖缺失，晚上很危险，请尽快处理');
  // Tap the middle of the map: inside the district, placed on a street and a community.
  const box = await page.locator('#map').boundingBox();
  await page.locator('#map').click({ position: { x: box.width * 0.5, y: box.height * 0.55 } });
  await page.locator('#place').filter({ hasText: '街道' }).waitFor();
  const photo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cd-photo-')), 'well.png');
  fs.writeFileSync(photo, PNG);
  await page.locator('#photo').setInputFiles(photo);
  await page.locator('#thumbs img').waitFor();
  await page.locator('#pane-report').getByLabel('手机号').fill(PHONE);
  await page.getByRole('button', { name: '提交' }).click();
  await page.locator('#report-done').waitFor({ state: 'visible' });
  const ref = (await page.locator('#done-ref').textContent()).trim();
  check(/^LH\d{14}$/.test(ref), 'tracking number ' + ref);
  await shot(page, 'resident-reported');

  // Staff see it with the phone and the photo, and work it to closed.
  const token = await server.login('admin');
  const c = await server.request('GET', '/api/v1/cases/' + ref, undefined, token);
  check(c.status === 200 && c.json.channel === 'app', 'case as staff: ' + c.text);
  check(JSON.stringify(c.json).includes(PHONE), 'staff see the phone');
  for (const [a, extra] of [['register'], ['dispatch'], ['accept'], ['handle', { result: '已更换井盖' }],
    ['verify', { passed: true }], ['close']]) await act(server, token, ref, a, extra);

  // Tracking from the app: the number is remembered on this phone.
  await page.getByRole('button', { name: '查看进度' }).click();
  await page.locator('#case-status.st-closed').waitFor();
  const history = await page.locator('#case-history li').allTextContents();
  check(history.some((h) => h.includes('已更换井盖')), 'the unit\'s answer is shown: ' + history.join(' | '));
  check(!(await page.content()).includes(PHONE), 'the page never shows the phone in full');
  await page.getByRole('button', { name: '满意', exact: true }).click();
  await page.locator('#case-status.st-rated').waitFor();
  await page.locator('#rate-done').waitFor({ state: 'visible' });
  await shot(page, 'resident-rated');
  const after = await server.request('GET', '/api/v1/cases/' + ref, undefined, token);
  check(after.json.status === 'rated' && after.json.satisfaction === 'satisfied', 'rated: ' + after.text);

  // Another phone number does not open it.
  const pane = page.locator('#pane-track');
  await pane.getByLabel('工单编号').fill(ref);
  await pane.getByLabel('手机号').fill('13900000000');
  await page.getByRole('button', { name: '查询' }).click();
  await page.locator('#track-error').filter({ hasText: '没有找到' }).waitFor();
  check(page.errors.length === 0, 'no script errors: ' + page.errors.join('; '));
  await page.context().close();
}

export async function test_resident_app_in_english_with_news(server, browser) {
  const page = await appPage(browser, server);
  await page.getByRole('button', { name: 'Switch language / 切换语言' }).click();
  await page.getByRole('tab', { name: 'Community' }).click();
  await page.locator('#news li h3').first().waitFor();
  await page.getByRole('button', { name: 'Activities' }).click();
  await page.locator('#news li h3').first().waitFor();
  const meta = await page.locator('#news .meta').allTextContents();
  check(meta.length > 0 && !meta.some((m) => m.includes('已结束')), 'upcoming activities only: ' + meta.join(' | '));
  // Keyboard: the report tab's map takes arrow keys and places a point.
  await page.getByRole('tab', { name: 'Report' }).click();
  await page.locator('#map').focus();
  await page.keyboard.press('Enter');
  await page.locator('#map .marker').waitFor();
  await shot(page, 'resident-english');
  check(page.errors.length === 0, 'no script errors: ' + page.errors.join('; '));
  await page.context().close();
}
