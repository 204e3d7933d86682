// The alert panel with the IoT side on: another district system pushes a red fire alarm
// (POST /api/v1/ingest/{system}); the console on the map pops a toast and draws a ring, the
// panel lists it with its case, and acknowledge then clear move it along.
import { check, consolePage, freePort, shot } from './lib.mjs';

export async function serverEnv() {
  return { CITYDESK_IOT: 'on', CITYDESK_MQTT_LISTEN: '127.0.0.1:' + await freePort(),
    CITYDESK_GB26875_LISTEN: '127.0.0.1:' + await freePort() };
}

let key = null;

export function setup(server) {
  server.addUser('disp', 'district_dispatcher');
  const out = server.cli(['ingest', 'add', '--system', 'fire119']);
  const m = out.match(/cdi_[0-9a-f]{64}/);
  check(m, 'ingest key printed: ' + out);
  key = m[0];
}

export async function test_fire_alarm_reaches_the_console(server, browser) {
  const page = await consolePage(browser, server, 'disp');
  await page.getByRole('link', { name: '实时地图' }).click();
  await page.locator('#map-legend .key').first().waitFor();
  const r = await server.request('POST', '/api/v1/ingest/fire119', {
    id: 'F-e2e-1', type: 'fire_alarm', level: 'red', title: '119 接警：东门 3 号楼火警',
    lat: 22.5453, lng: 114.1157,
  }, undefined, { 'X-Api-Key': key });
  check(r.status === 202, 'ingest: ' + r.status + ' ' + r.text);
  await page.locator('.toast.alert', { hasText: '东门 3 号楼火警' }).waitFor({ timeout: 15000 });
  const ring = await page.evaluate(() => {
    const cv = document.getElementById('map');
    const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    let purple = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 120 && d[i] < 160 && d[i + 1] < 60 && d[i + 2] > 150) purple++;
    return purple;
  });
  check(ring > 30, 'the alert ring is drawn: ' + ring);
  await shot(page, 'alert-map');
  await page.getByRole('link', { name: '告警' }).click();
  const item = page.locator('li.alert', { hasText: '东门 3 号楼火警' });
  await item.waitFor();
  check(await item.locator('.badge.lv-red').count() === 1, 'red level shown');
  await item.getByRole('button', { name: '确认' }).click();
  await page.locator('li.alert', { hasText: '已确认' }).waitFor();
  await page.locator('li.alert').getByRole('button', { name: '解除' }).click();
  await page.locator('#alerts-list p.muted').waitFor(); // active list is empty once cleared
  await shot(page, 'alerts');
  await page.context().close();
}
