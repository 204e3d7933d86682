// The residents' app (/app): report a problem (category, description, place on the map or the
// phone's position, photos, phone number), track it by number and phone, rate it once closed,
// and read community news and activities. Talks only to /api/v1/public, /api/v1/categories and
// /api/v1/map (none needs an account). No framework, no network beyond this server.
const I18N = window.APP_I18N;
const $ = (s) => document.querySelector(s);
const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const PHOTO_MAX = 3, PHOTO_BYTES = 1024 * 1024;
let lang = localStorage.getItem('citydesk.app.lang') || 'zh';
const state = { point: null, photos: [], view: null, kind: 'news', lastCase: null };

const t = (k) => (I18N[lang] && I18N[lang][k]) || I18N.zh[k] || k;

function applyLang() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.querySelectorAll('[data-i18n-aria]').forEach((el) => el.setAttribute('aria-label', t(el.dataset.i18nAria)));
  $('#lang').textContent = lang === 'en' ? '中文' : 'English';
  document.title = t('title');
  if (state.lastCase) showCase(state.lastCase);
  loadNews();
}

async function api(method, path, body, headers = {}) {
  const opt = { method, headers: { ...headers } };
  if (body instanceof Blob) opt.body = body;
  else if (body !== undefined) { opt.body = JSON.stringify(body); opt.headers['Content-Type'] = 'application/json'; }
  const r = await fetch(path, opt);
  let json = null;
  try { json = await r.json(); } catch (e) { /* not JSON */ }
  return { status: r.status, json };
}

function errorText(r) {
  if (r.status === 429) return t('too_many');
  if (r.status === 404) return t('not_found');
  return (r.json && r.json.error && r.json.error.message) || t('failed');
}

function showError(el, text) { el.textContent = text; el.hidden = !text; }

// ---- tabs ----
const tabs = ['report', 'track', 'news'];
function selectTab(name, focus) {
  for (const n of tabs) {
    const tab = $('#tab-' + n), on = n === name;
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    tab.tabIndex = on ? 0 : -1;
    $('#pane-' + n).hidden = !on;
    if (on && focus) tab.focus();
  }
}
tabs.forEach((n, i) => {
  const tab = $('#tab-' + n);
  tab.addEventListener('click', () => selectTab(n));
  tab.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      selectTab(tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length], true);
      e.preventDefault();
    }
  });
});

// ---- categories: two levels under each root ----
let categories = [];
async function loadCategories() {
  const r = await api('GET', '/api/v1/categories?max_depth=2');
  if (r.status !== 200) return;
  categories = r.json.items;
  const sel = $('#cat1');
  for (const c of categories.filter((x) => x.depth === 1)) sel.add(new Option(c.name, c.code));
}
$('#cat1').addEventListener('change', () => {
  const sel = $('#cat2'), parent = $('#cat1').value;
  sel.length = 1;
  for (const c of categories.filter((x) => x.parent === parent)) sel.add(new Option(c.name, c.code));
  sel.disabled = !parent;
});

// ---- the map: the district and its communities as SVG, a point by tap, keys or GPS ----
const SVGNS = 'http://www.w3.org/2000/svg';
function rings(geom) {
  if (!geom) return [];
  if (geom.type === 'Polygon') return geom.coordinates;
  if (geom.type === 'MultiPolygon') return geom.coordinates.flat();
  return [];
}
function pathOf(geom, proj) {
  return rings(geom).map((ring) => ring.map(([x, y], i) => (i ? 'L' : 'M') + proj(x, y).join(',')).join('') + 'Z').join('');
}
async function loadMap() {
  const [d, c] = await Promise.all([api('GET', '/api/v1/map/district'), api('GET', '/api/v1/map/communities')]);
  if (d.status !== 200) return;
  const geom = d.json.geometry || (d.json.features && d.json.features[0].geometry);
  let minX = 180, minY = 90, maxX = -180, maxY = -90;
  for (const ring of rings(geom)) for (const [x, y] of ring) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  const s = Math.min(980 / ((maxX - minX) * k), 600 / (maxY - minY));
  const ox = (1000 - (maxX - minX) * k * s) / 2, oy = (620 - (maxY - minY) * s) / 2;
  const proj = (x, y) => [+(ox + (x - minX) * k * s).toFixed(1), +(oy + (maxY - y) * s).toFixed(1)];
  const unproj = (px, py) => [minX + (px - ox) / (k * s), maxY - (py - oy) / s];
  state.view = { proj, unproj };
  const svg = $('#map');
  const add = (cls, dstr) => { const p = document.createElementNS(SVGNS, 'path'); p.setAttribute('class', cls); p.setAttribute('d', dstr); svg.appendChild(p); };
  add('district', pathOf(geom, proj));
  if (c.status === 200) {
    for (const f of c.json.features) add('community', pathOf(f.geometry, proj));
    const sel = $('#news-community');
    for (const f of c.json.features) sel.add(new Option(f.properties.name, f.properties.code));
  }
  svg.addEventListener('click', (e) => {
    const pt = svg.createSVGPoint();
    pt.x = e.clientX; pt.y = e.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    const [lng, lat] = unproj(p.x, p.y);
    setPoint(lat, lng, 'map');
  });
  svg.addEventListener('keydown', (e) => {
    const step = { ArrowUp: [0, -8], ArrowDown: [0, 8], ArrowLeft: [-8, 0], ArrowRight: [8, 0] }[e.key];
    if (!step && e.key !== 'Enter') return;
    e.preventDefault();
    const cur = state.point ? proj(state.point.lng, state.point.lat) : [500, 310];
    const [lng, lat] = unproj(cur[0] + (step ? step[0] : 0), cur[1] + (step ? step[1] : 0));
    setPoint(lat, lng, 'map');
  });
}
let locateSeq = 0;
async function setPoint(lat, lng, source) {
  state.point = { lat, lng, source };
  const svg = $('#map');
  let m = svg.querySelector('.marker');
  if (!m) { m = document.createElementNS(SVGNS, 'circle'); m.setAttribute('class', 'marker'); m.setAttribute('r', '11'); svg.appendChild(m); }
  if (state.view) { const [x, y] = state.view.proj(lng, lat); m.setAttribute('cx', x); m.setAttribute('cy', y); }
  const seq = ++locateSeq;
  const r = await api('GET', `/api/v1/map/locate?lat=${lat.toFixed(6)}&lng=${lng.toFixed(6)}`);
  if (seq !== locateSeq) return;
  const place = $('#place');
  if (r.status === 200) {
    place.textContent = `${r.json.street.name} · ${r.json.community ? r.json.community.name : ''}`;
    state.point.ok = true;
  } else {
    place.textContent = t('place_outside');
    state.point.ok = false;
  }
}
$('#geo').addEventListener('click', () => {
  if (!navigator.geolocation) { $('#place').textContent = t('place_denied'); return; }
  $('#place').textContent = t('place_locating');
  navigator.geolocation.getCurrentPosition(
    (p) => setPoint(p.coords.latitude, p.coords.longitude, 'gps'),  // the browser gives WGS-84
    () => { $('#place').textContent = t('place_denied'); },
    { enableHighAccuracy: true, timeout: 10000 });
});

// ---- photos: type and size checked here and again by the server ----
function renderThumbs() {
  const ul = $('#thumbs');
  ul.textContent = '';
  state.photos.forEach((f, i) => {
    const li = document.createElement('li');
    const img = document.createElement('img');
    img.src = URL.createObjectURL(f);
    img.alt = f.name;
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = t('remove');
    b.setAttribute('aria-label', `${t('remove')} ${f.name}`);
    b.addEventListener('click', () => { state.photos.splice(i, 1); renderThumbs(); });
    li.append(img, b);
    ul.appendChild(li);
  });
}
$('#photo').addEventListener('change', (e) => {
  const err = $('#report-error');
  showError(err, '');
  for (const f of e.target.files) {
    if (!PHOTO_TYPES.includes(f.type)) { showError(err, t('photo_type')); continue; }
    if (f.size > PHOTO_BYTES) { showError(err, t('photo_size')); continue; }
    if (state.photos.length >= PHOTO_MAX) { showError(err, t('photo_max')); break; }
    state.photos.push(f);
  }
  e.target.value = '';
  renderThumbs();
});

// ---- report ----
$('#desc').addEventListener('input', (e) => { $('#desc-count').textContent = `${e.target.value.length} / 2000`; });
const phoneOk = (s) => /^[+\d][\d\s-]{6,19}$/.test(s.trim()) && s.replace(/\D/g, '').length >= 7;

$('#report-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('#report-error');
  const desc = $('#desc').value.trim(), phone = $('#phone').value.trim(), address = $('#address').value.trim();
  if (!desc) { showError(err, t('need_desc')); $('#desc').focus(); return; }
  if (!state.point && !address) { showError(err, t('need_place')); $('#map').focus(); return; }
  if (state.point && state.point.ok === false && !address) { showError(err, t('place_outside')); $('#map').focus(); return; }
  if (!phoneOk(phone)) { showError(err, t('need_phone')); $('#phone').focus(); return; }
  showError(err, '');
  const btn = $('#submit');
  btn.disabled = true;
  btn.textContent = t('submitting');
  try {
    const ids = [];
    for (const f of state.photos) {
      const r = await api('POST', '/api/v1/public/files', f, { 'Content-Type': f.type });
      if (r.status !== 201) { showError(err, errorText(r)); return; }
      ids.push(r.json.id);
    }
    const body = { description: desc, phone };
    const cat = $('#cat2').value || $('#cat1').value;
    if (cat) body.category = cat;
    if (state.point && state.point.ok !== false) { body.lat = state.point.lat; body.lng = state.point.lng; }
    if (address) body.address = address;
    if ($('#name').value.trim()) body.name = $('#name').value.trim();
    if (ids.length) body.attachments = ids;
    const r = await api('POST', '/api/v1/public/reports', body);
    if (r.status !== 201) { showError(err, errorText(r)); return; }
    remember(r.json.ref, phone);
    $('#done-ref').textContent = r.json.ref;
    $('#report-form').hidden = true;
    $('#report-done').hidden = false;
    $('#report-done').focus();
  } finally {
    btn.disabled = false;
    btn.textContent = t('submit');
  }
});
$('#done-new').addEventListener('click', () => {
  $('#report-form').reset();
  state.photos = [];
  renderThumbs();
  $('#report-done').hidden = true;
  $('#report-form').hidden = false;
  $('#desc').focus();
});
$('#done-track').addEventListener('click', () => {
  const mine = myReports()[0];
  $('#track-ref').value = mine.ref;
  $('#track-phone').value = mine.phone;
  selectTab('track');
  track(mine.ref, mine.phone);
});

// The reports made on this phone, kept only in this browser, so a resident can look them up.
function myReports() { try { return JSON.parse(localStorage.getItem('citydesk.app.mine') || '[]'); } catch (e) { return []; } }
function remember(ref, phone) {
  const list = [{ ref, phone }, ...myReports().filter((m) => m.ref !== ref)].slice(0, 20);
  localStorage.setItem('citydesk.app.mine', JSON.stringify(list));
  renderMine();
}
function renderMine() {
  const ul = $('#mine');
  ul.textContent = '';
  for (const m of myReports()) {
    const li = document.createElement('li'), b = document.createElement('button');
    b.type = 'button';
    b.textContent = m.ref;
    b.addEventListener('click', () => { $('#track-ref').value = m.ref; $('#track-phone').value = m.phone; track(m.ref, m.phone); });
    li.appendChild(b);
    ul.appendChild(li);
  }
}

// ---- track and rate ----
const fmt = (iso) => (iso ? new Date(iso).toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '—');
let tracked = null;
async function track(ref, phone) {
  const err = $('#track-error');
  const r = await api('POST', '/api/v1/public/track', { ref: ref.trim().toUpperCase(), phone: phone.trim() });
  if (r.status !== 200) { showError(err, errorText(r)); $('#case').hidden = true; return; }
  showError(err, '');
  tracked = { ref: r.json.ref, phone: phone.trim() };
  $('#rate-done').hidden = true;
  showCase(r.json);
}
function showCase(c) {
  state.lastCase = c;
  $('#case').hidden = false;
  $('#case-ref').textContent = c.ref;
  const st = $('#case-status');
  st.textContent = lang === 'en' ? c.status.replace(/_/g, ' ') : c.status_label;
  st.className = 'badge st-' + c.status;
  $('#case-cat').textContent = c.category ? c.category.name : '—';
  $('#case-where').textContent = [c.street && c.street.name, c.community && c.community.name, c.address].filter(Boolean).join(' · ') || '—';
  $('#case-time').textContent = fmt(c.reported_at);
  $('#case-deadline').textContent = fmt(c.deadline);
  $('#case-reporter').textContent = [c.reporter.name, c.reporter.phone].filter(Boolean).join(' ');
  $('#case-desc').textContent = c.description;
  const ol = $('#case-history');
  ol.textContent = '';
  for (const h of c.history) {
    const li = document.createElement('li'), time = document.createElement('time'), what = document.createElement('strong');
    time.dateTime = h.at;
    time.textContent = fmt(h.at);
    what.textContent = lang === 'en' ? h.action.replace(/_/g, ' ') : h.label;
    li.append(time, what);
    if (h.comment) { const cm = document.createElement('span'); cm.className = 'c'; cm.textContent = h.comment; li.appendChild(cm); }
    ol.appendChild(li);
  }
  $('#rate').hidden = !c.can_rate;
}
$('#track-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const ref = $('#track-ref').value, phone = $('#track-phone').value;
  if (!ref.trim() || !phoneOk(phone)) { showError($('#track-error'), t('need_phone')); return; }
  track(ref, phone);
});
document.querySelectorAll('#rate button').forEach((b) => b.addEventListener('click', async () => {
  if (!tracked) return;
  const body = { phone: tracked.phone, satisfaction: b.dataset.sat };
  const comment = $('#rate-comment').value.trim();
  if (comment) body.comment = comment;
  const r = await api('POST', `/api/v1/public/reports/${encodeURIComponent(tracked.ref)}/rating`, body);
  if (r.status !== 200) { showError($('#track-error'), errorText(r)); return; }
  showCase(r.json);
  const done = $('#rate-done');
  done.textContent = b.dataset.sat === 'dissatisfied' ? t('rated_reopen') : t('rated');
  done.hidden = false;
}));

// ---- news and activities ----
async function loadNews() {
  const community = $('#news-community').value;
  const r = await api('GET', `/api/v1/public/news?kind=${state.kind}&page_size=50${community ? '&community=' + community : ''}`);
  const ul = $('#news');
  ul.textContent = '';
  const items = r.status === 200 ? r.json.items : [];
  if (!items.length) { const li = document.createElement('li'); li.textContent = t('no_items'); ul.appendChild(li); return; }
  for (const it of items) {
    const li = document.createElement('li'), h = document.createElement('h3'), meta = document.createElement('p'), p = document.createElement('p');
    h.textContent = (lang === 'en' && it.en_title) || it.title;
    meta.className = 'meta';
    meta.textContent = [it.date, it.time, it.place].filter(Boolean).join(' · ');
    p.textContent = (lang === 'en' && it.en_summary) || it.summary || '';
    li.append(h, meta, p);
    ul.appendChild(li);
  }
}
document.querySelectorAll('.seg button').forEach((b) => b.addEventListener('click', () => {
  state.kind = b.dataset.kind;
  document.querySelectorAll('.seg button').forEach((x) => x.setAttribute('aria-pressed', x === b ? 'true' : 'false'));
  loadNews();
}));
$('#news-community').addEventListener('change', loadNews);

$('#lang').addEventListener('click', () => {
  lang = lang === 'en' ? 'zh' : 'en';
  localStorage.setItem('citydesk.app.lang', lang);
  applyLang();
});

applyLang();
renderMine();
loadCategories();
loadMap();
