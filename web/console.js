// The command-centre console: login, the hash router, the live event stream, the case queue
// with filters and bulk actions, the case page, triage and alerts. The map, the scores charts
// and insights live in their own modules. No framework: plain DOM, all text through t().
import { t, label, applyStatic, setLang, getLang } from './console.i18n.js';
import { CityMap, caseColour } from './console.map.js';
import { showScores, showInsights } from './console.charts.js';

const $ = (sel, root = document) => root.querySelector(sel);
const PAGE_SIZE = 50;
const DONE = new Set(['closed', 'rated', 'rejected', 'merged']);
const STATUSES = ['reported', 'registered', 'dispatched', 'accepted', 'handled', 'verified', 'closed', 'rated',
  'rejected', 'suspended', 'merged'];

// Parameters each workflow action asks for: [name, kind, required].
const ACTION_PARAMS = {
  reject: [['reason', 'text', true]],
  return: [['reason', 'text', true]],
  handle: [['result', 'text', true]],
  verify: [['passed', 'bool', true]],
  rate: [['satisfaction', 'satisfaction', true]],
  reopen: [['reason', 'text', true]],
  suspend: [['reason', 'text', true]],
  extend_request: [['working_days', 'number', true]],
  extend_approve: [['approved', 'bool', true]],
  merge: [['into', 'text', true]],
  reassign: [['unit', 'unit', true]],
  dispatch: [['unit', 'unit', false]],
};

const S = {
  token: sessionStorage.getItem('citydesk.token'),
  user: null,
  page: 1,
  total: 0,
  filters: {},
  rows: new Map(),       // id -> case shown in the queue
  selected: new Set(),
  lastEventId: 0,
  streamAbort: null,
  units: [],
  streets: new Map(),    // code -> name
  communities: new Map(),
  categories: null,      // code -> {name, path}
  view: null,
  caseId: null,
  current: null,         // the case on the case page
  map: null,
  mini: null,
};

// ---- the API ----

export async function api(method, path, body) {
  const headers = {};
  if (S.token) headers.Authorization = 'Bearer ' + S.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  const ct = r.headers.get('Content-Type') || '';
  if (/^application\/(geo\+)?json/.test(ct)) data = await r.json();
  if (r.status === 401 && S.token && path !== '/api/v1/sessions') logout(false);
  return { status: r.status, data, ok: r.ok };
}

function errMessage(res) {
  return res.data && res.data.error ? res.data.error.message : 'HTTP ' + res.status;
}

// ---- small DOM helpers ----

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
  return e;
}

export function toast(msg, kind) {
  const box = $('#toasts');
  const n = el('div', { class: 'toast ' + (kind || ''), role: kind === 'alert' ? 'alert' : undefined, text: msg });
  box.append(n);
  setTimeout(() => n.remove(), kind === 'alert' ? 12000 : 5000);
  while (box.children.length > 5) box.firstChild.remove();
}

function fmtTime(iso) {
  if (!iso) return '';
  return iso.slice(0, 16).replace('T', ' ');
}

// The deadline's state for colour: over, warn, ok or done.
export function deadlineState(c) {
  if (DONE.has(c.status)) return 'done';
  if (c.overdue) return 'over';
  if (c.warned || (c.warn_at && Date.parse(c.warn_at) < Date.now())) return 'warn';
  return 'ok';
}

function statusBadge(c) {
  return el('span', { class: 'badge st-' + c.status, text: label('s', c.status) });
}

function areaName(c) {
  const s = c.street && (c.street.name || S.streets.get(c.street.code || c.street));
  const m = c.community && (c.community.name || S.communities.get(c.community.code || c.community));
  return [s, m].filter(Boolean).join(' · ');
}

function categoryName(c) {
  if (!c.category) return t('uncategorized');
  if (typeof c.category === 'string') return (S.categories && S.categories.get(c.category)?.name) || c.category;
  return c.category.name || c.category.code;
}

// ---- login ----

async function login(ev) {
  ev.preventDefault();
  const f = ev.target;
  const err = $('#login-error');
  err.hidden = true;
  const r = await api('POST', '/api/v1/sessions', { username: f.username.value.trim(), password: f.password.value });
  if (r.status !== 201 && r.status !== 200) {
    err.textContent = r.status === 429 ? t('too_many') : t('login_failed');
    err.hidden = false;
    f.password.select();
    return;
  }
  S.token = r.data.token;
  sessionStorage.setItem('citydesk.token', S.token);
  f.password.value = '';
  S.user = r.data.user;
  await enter();
}

async function logout(callServer) {
  if (callServer && S.token) await api('DELETE', '/api/v1/sessions/current').catch(() => {});
  S.token = null;
  S.user = null;
  sessionStorage.removeItem('citydesk.token');
  if (S.streamAbort) S.streamAbort.abort();
  $('#shell').hidden = true;
  $('#login').hidden = false;
  $('#login-user').focus();
}

async function enter() {
  if (!S.user) {
    const r = await api('GET', '/api/v1/sessions/current');
    if (!r.ok) return logout(false);
    S.user = r.data.user || r.data;
  }
  $('#login').hidden = true;
  $('#shell').hidden = false;
  $('#whoami').textContent = (S.user.display_name || S.user.username) + ' · ' + (S.user.role_label || S.user.role);
  if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/queue';
  route();
  startStream();
  loadReference();
}

// Names for codes: streets and communities (public), units, categories (lazily).
async function loadReference() {
  const [st, cm, un] = await Promise.all([api('GET', '/api/v1/map/streets'), api('GET', '/api/v1/map/communities'),
    api('GET', '/api/v1/units')]);
  if (st.ok) {
    for (const f of st.data.features) S.streets.set(f.properties.code, f.properties.name);
    const sel = $('#f-street');
    for (const [code, name] of S.streets) sel.append(el('option', { value: code, text: name }));
  }
  if (cm.ok) for (const f of cm.data.features) S.communities.set(f.properties.code, f.properties.name);
  if (un.ok) S.units = un.data.items || [];
}

async function loadCategories() {
  if (S.categories) return S.categories;
  const r = await api('GET', '/api/v1/categories');
  const m = new Map();
  if (r.ok) for (const c of r.data.items) m.set(c.code, c);
  S.categories = m;
  return m;
}

// ---- the live stream: fetch (for the bearer header), SSE parsed by hand, reconnect ----

function setLive(state) {
  const live = $('#live');
  live.dataset.state = state;
  const key = state === 'on' ? 'live_on' : state === 'wait' ? 'live_wait' : 'live_off';
  $('#live-text').dataset.i18n = key;
  $('#live-text').textContent = t(key);
}

async function startStream() {
  if (S.streamAbort) S.streamAbort.abort();
  const ctl = new AbortController();
  S.streamAbort = ctl;
  while (!ctl.signal.aborted && S.token) {
    setLive('wait');
    try {
      const headers = { Authorization: 'Bearer ' + S.token, Accept: 'text/event-stream' };
      if (S.lastEventId) headers['Last-Event-ID'] = String(S.lastEventId);
      const r = await fetch('/api/v1/stream', { headers, signal: ctl.signal });
      if (r.status === 401) return logout(false);
      if (!r.ok || !r.body) throw new Error('stream ' + r.status);
      setLive('on');
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
        let cut;
        while ((cut = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          const f = { data: [] };
          for (const line of block.split('\n')) {
            if (!line || line.startsWith(':')) continue;
            const i = line.indexOf(':');
            const k = i < 0 ? line : line.slice(0, i);
            let v = i < 0 ? '' : line.slice(i + 1);
            if (v.startsWith(' ')) v = v.slice(1);
            if (k === 'data') f.data.push(v); else f[k] = v;
          }
          if (f.id) S.lastEventId = Number(f.id) || S.lastEventId;
          if (f.event) onEvent(f.event, f.data.join('\n'));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    setLive('off');
    await new Promise((res) => setTimeout(res, 3000));
  }
}

function onEvent(type, data) {
  let d = null;
  try { d = data ? JSON.parse(data) : null; } catch (e) { return; }
  if (type === 'resync') { refreshView(); return; }
  if (!d) return;
  if (type.startsWith('alert.')) {
    if (type === 'alert.raised') toast(t('alert_raised', { m: (d.title || d.type || d.id) + (d.level ? ' · ' + t('lv_' + d.level) : '') }),
      d.level === 'red' || d.level === 'orange' ? 'alert' : 'warn');
    const p = alertPoint(d);
    if (S.map && p) { if (type === 'alert.cleared') S.map.unalert(p.id); else S.map.alert(p, type === 'alert.raised'); }
    if (S.view === 'alerts') showAlerts();
    return;
  }
  if (!type.startsWith('case.') || !d.id) return;
  if (S.map) S.map.upsert(d);
  if (type === 'case.created') toast(t('new_case', { id: d.id }));
  queueEvent(type, d);
  if (S.view === 'case' && S.caseId === d.id && (!S.current || d.version !== S.current.version)) showCase(d.id);
  if (S.view === 'triage' && (type === 'case.created' || !d.category)) showTriage();
}

function refreshView() {
  route();
}

// ---- the queue ----

function queueQuery() {
  const q = new URLSearchParams({ page: S.page, page_size: PAGE_SIZE });
  for (const [k, v] of Object.entries(S.filters)) if (v) q.set(k, v);
  return q.toString();
}

function matchesFilters(d) {
  const f = S.filters;
  if (f.status && d.status !== f.status) return false;
  if (f.street && d.street !== f.street) return false;
  if (f.overdue && String(!!d.overdue) !== f.overdue) return false;
  if (f.q) return false; // text search: only the server knows
  return true;
}

async function showQueue() {
  const r = await api('GET', '/api/v1/cases?' + queueQuery());
  const body = $('#queue-body');
  if (!r.ok) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'error', text: t('error', { m: errMessage(r) }) })));
    return;
  }
  S.total = r.data.total;
  S.capped = !!r.data.total_capped;
  S.rows.clear();
  body.replaceChildren();
  for (const c of r.data.items) {
    S.rows.set(c.id, c);
    body.append(queueRow(c));
  }
  if (!r.data.items.length) body.append(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: t('empty') })));
  pageInfo();
  syncSelection();
}

// "page p of n, t cases"; past the server's count cap (10,000) totals read "10000+".
function pageInfo() {
  const pages = Math.max(1, Math.ceil(S.total / PAGE_SIZE));
  const more = S.capped ? '+' : '';
  $('#page-info').textContent = t('page_info', { p: S.page, n: pages + more, t: S.total + more });
  $('#prev').disabled = S.page <= 1;
  $('#next').disabled = S.page >= pages && !S.capped;
}

function queueRow(c) {
  const dl = deadlineState(c);
  const box = el('input', { type: 'checkbox', 'aria-label': t('select_case', { id: c.id }), 'data-id': c.id });
  box.checked = S.selected.has(c.id);
  box.addEventListener('change', () => {
    if (box.checked) S.selected.add(c.id); else S.selected.delete(c.id);
    syncSelection();
  });
  const desc = c.title || c.description || '';
  return el('tr', { 'data-id': c.id, class: 'dl-' + dl },
    el('td', {}, box),
    el('td', {}, el('a', { href: '#/case/' + c.id, text: c.id })),
    el('td', { class: 'status' }, statusBadge(c)),
    el('td', { text: categoryName(c) }),
    el('td', { text: areaName(c) }),
    el('td', { class: 'desc', text: desc.length > 60 ? desc.slice(0, 60) + '…' : desc }),
    el('td', { class: 'deadline dl-' + dl, text: fmtTime(c.deadline) + (dl === 'over' ? ' · ' + t('overdue') : '') }));
}

// A case event: refresh its row in place, or add a new matching case at the top of page 1.
async function queueEvent(type, d) {
  if (S.view !== 'queue') return;
  const old = S.rows.get(d.id);
  if (!old && !(type === 'case.created' && S.page === 1 && matchesFilters(d))) return;
  const r = await api('GET', '/api/v1/cases/' + encodeURIComponent(d.id));
  if (!r.ok) return;
  const c = r.data;
  S.rows.set(c.id, c);
  const row = queueRow(c);
  const tr = $(`#queue-body tr[data-id="${CSS.escape(c.id)}"]`);
  if (tr) tr.replaceWith(row);
  else {
    const empty = $('#queue-body td.muted');
    if (empty) empty.parentElement.remove();
    $('#queue-body').prepend(row);
    S.total++;
    pageInfo();
  }
  row.classList.add('flash');
}

function syncSelection() {
  for (const id of [...S.selected]) if (!S.rows.has(id)) S.selected.delete(id);
  $('#bulk-count').textContent = t('bulk_selected', { n: S.selected.size });
  $('#bulk-go').disabled = S.selected.size === 0;
  const all = $('#sel-all');
  all.checked = S.rows.size > 0 && S.selected.size === S.rows.size;
  all.indeterminate = S.selected.size > 0 && S.selected.size < S.rows.size;
}

async function bulkRun() {
  const action = $('#bulk-action').value;
  const ids = [...S.selected];
  $('#bulk-go').disabled = true;
  let ok = 0, fail = 0;
  for (const id of ids) {
    const c = S.rows.get(id);
    const r = await api('POST', `/api/v1/cases/${encodeURIComponent(id)}/actions`,
      { action, version: c ? c.version : undefined });
    if (r.ok) ok++; else fail++;
  }
  S.selected.clear();
  toast(t('bulk_done', { a: label('a', action), ok, fail }), fail ? 'warn' : '');
  showQueue();
}

// ---- the case page ----

async function showCase(id) {
  S.caseId = id;
  const r = await api('GET', '/api/v1/cases/' + encodeURIComponent(id));
  if (!r.ok) {
    S.current = null;
    $('#case-title').textContent = id;
    $('#case-fields').replaceChildren(el('p', { class: 'error', role: 'alert', text: t('error', { m: errMessage(r) }) }));
    $('#act-buttons').replaceChildren();
    $('#case-history').replaceChildren();
    return;
  }
  const c = r.data;
  S.current = c;
  $('#case-title').replaceChildren(document.createTextNode(c.id + ' '), statusBadge(c));
  const dl = deadlineState(c);
  const f = [
    ['category', categoryName(c)],
    ['c_desc', c.description],
    ['c_place', [areaName(c), c.grid && c.grid.code, c.address].filter(Boolean).join(' · ')],
    ['unit', c.unit && (c.unit.name || c.unit.code)],
    ['channel', c.channel],
    ['urgency', c.urgency],
    ['reported_at', fmtTime(c.reported_at)],
    ['deadline', fmtTime(c.deadline) + (dl === 'over' ? ' · ' + t('overdue') : dl === 'warn' ? ' · ' + t('warned') : '')],
    ['reporter', c.reporter && [c.reporter.name, c.reporter.phone].filter(Boolean).join(' ')],
    ['rework', String(c.rework_count || 0)],
    ['duplicate_of', c.duplicate_of],
    ['satisfaction', c.satisfaction && label('sat', c.satisfaction)],
  ];
  const dlist = $('#case-fields');
  dlist.replaceChildren();
  for (const [k, v] of f) {
    if (!v) continue;
    dlist.append(el('dt', { text: t(k) }), el('dd', { class: k === 'deadline' ? 'dl-' + dl : undefined }, 
      k === 'duplicate_of' ? el('a', { href: '#/case/' + v, text: v }) : v));
  }
  renderActions(c.allowed_actions || []);
  const hist = $('#case-history');
  hist.replaceChildren();
  for (const h of c.history || []) {
    hist.append(el('li', {},
      el('time', { datetime: h.at, text: fmtTime(h.at) }), ' ',
      el('strong', { text: label('a', h.action) }), ' ',
      el('span', { class: 'muted', text: h.actor + (h.to_status ? ' → ' + label('s', h.to_status) : '') }),
      h.comment ? el('div', { text: h.comment }) : null));
  }
  showPhotos(c);
  if (!S.mini) S.mini = new CityMap($('#case-map'), { mini: true });
  S.mini.focusCase(c);
}

async function showPhotos(c) {
  const box = $('#case-photos');
  box.replaceChildren();
  const ids = (c.attachments || []).map((a) => (typeof a === 'string' ? a : a.id)).filter(Boolean);
  if (!ids.length) return;
  box.append(el('h3', { text: t('photos') }));
  for (const id of ids) {
    const r = await fetch('/api/v1/files/' + encodeURIComponent(id), { headers: { Authorization: 'Bearer ' + S.token } });
    if (!r.ok) continue;
    const url = URL.createObjectURL(await r.blob());
    box.append(el('a', { href: url, target: '_blank', rel: 'noopener' },
      el('img', { src: url, alt: t('photos') + ' ' + id, loading: 'lazy' })));
  }
}

function renderActions(allowed) {
  const box = $('#act-buttons');
  box.replaceChildren();
  $('#act-params').replaceChildren();
  $('#act-error').hidden = true;
  if (!allowed.length) box.append(el('p', { class: 'muted', text: t('no_actions') }));
  for (const a of allowed) {
    box.append(el('button', { type: 'button', 'data-action': a, text: label('a', a), onclick: () => chooseAction(a) }));
  }
}

function paramInput(name, kind, required) {
  const id = 'p-' + name;
  let input;
  if (kind === 'bool') {
    input = el('select', { id, name }, el('option', { value: 'true', text: t('yes') }), el('option', { value: 'false', text: t('no') }));
  } else if (kind === 'satisfaction') {
    input = el('select', { id, name }, ...['satisfied', 'basically_satisfied', 'dissatisfied'].map(
      (s) => el('option', { value: s, text: label('sat', s) })));
  } else if (kind === 'unit') {
    input = el('select', { id, name }, el('option', { value: '', text: required ? '' : t('dispatch_unit') }),
      ...S.units.map((u) => el('option', { value: u.code, text: u.name })));
  } else {
    input = el('input', { id, name, type: kind === 'number' ? 'number' : 'text', min: kind === 'number' ? 1 : undefined, required });
  }
  return [el('label', { for: id, text: t(name === 'unit' ? 'unit' : name) }), input];
}

function chooseAction(a) {
  const params = ACTION_PARAMS[a];
  if (!params) return runAction(a, {});
  const box = $('#act-params');
  box.replaceChildren(...params.flatMap(([n, k, req]) => paramInput(n, k, req)),
    el('button', { type: 'button', class: 'primary', 'data-confirm': a, text: label('a', a), onclick: () => {
      const body = {};
      for (const [n, k, req] of params) {
        const v = $('#p-' + n).value;
        if (!v) { if (req) { $('#p-' + n).focus(); return; } continue; }
        body[n] = k === 'bool' ? v === 'true' : k === 'number' ? Number(v) : v;
      }
      runAction(a, body);
    } }));
  box.querySelector('input,select').focus();
}

async function runAction(a, params) {
  const c = S.current;
  if (!c) return;
  const body = { action: a, version: c.version, ...params };
  const comment = $('#act-comment').value.trim();
  if (comment) body.comment = comment;
  const r = await api('POST', `/api/v1/cases/${encodeURIComponent(c.id)}/actions`, body);
  const err = $('#act-error');
  if (r.ok) {
    $('#act-comment').value = '';
    toast(t('action_ok', { a: label('a', a) }));
    await showCase(c.id);
    $('#act-buttons button, #case-title')?.focus?.();
    return;
  }
  const allowed = r.data && r.data.error && r.data.error.allowed_actions;
  const stale = r.data && r.data.error && r.data.error.code === 'version_conflict';
  err.textContent = stale ? t('stale') : r.status === 409 && allowed
    ? t('conflict', { list: allowed.map((x) => label('a', x)).join('、') || t('none') })
    : t('error', { m: errMessage(r) });
  err.hidden = false;
  if (r.status === 409) { await showCase(c.id); err.hidden = false; }
}

// ---- triage ----

async function showTriage() {
  const box = $('#triage-list');
  const [r, cats] = await Promise.all([api('GET', '/api/v1/cases?triage=true&page_size=100'), loadCategories()]);
  if (!r.ok) { box.replaceChildren(el('p', { class: 'error', text: t('error', { m: errMessage(r) }) })); return; }
  if (!document.getElementById('cat-list')) {
    const dl = el('datalist', { id: 'cat-list' });
    for (const c of cats.values()) if (c.depth >= 2) dl.append(el('option', { value: c.code, text: c.code + ' ' + c.name }));
    document.body.append(dl);
  }
  box.replaceChildren();
  if (!r.data.items.length) box.append(el('p', { class: 'muted', text: t('triage_empty') }));
  for (const c of r.data.items) box.append(triageCard(c));
}

function triageCard(c) {
  const id = 'tri-' + c.id;
  const input = el('input', { id, list: 'cat-list', autocomplete: 'off', placeholder: 'UM06010' });
  const sugg = el('div', { class: 'sugg' });
  const card = el('article', { class: 'card triage', 'data-id': c.id },
    el('h3', {}, el('a', { href: '#/case/' + c.id, text: c.id }), ' ', statusBadge(c)),
    el('p', { text: c.description }), el('p', { class: 'muted', text: areaName(c) + ' · ' + fmtTime(c.reported_at) }),
    sugg, el('label', { for: id, text: t('triage_pick') }), input,
    el('button', { type: 'button', class: 'primary', text: t('triage_register'), onclick: async () => {
      const code = input.value.trim().split(/\s+/)[0];
      if (!code) { input.focus(); return; }
      const action = c.status === 'reported' ? 'register' : null;
      const r = action
        ? await api('POST', `/api/v1/cases/${encodeURIComponent(c.id)}/actions`, { action, category: code, version: c.version })
        : { ok: false, status: 409, data: null };
      if (r.ok) { toast(t('action_ok', { a: label('a', 'register') })); card.remove(); }
      else toast(t('error', { m: errMessage(r) }), 'warn');
    } }));
  api('POST', '/api/v1/classify', { text: c.description || c.title || '' }).then((r) => {
    if (!r.ok || !r.data) return;
    const first = r.data.category ? { ...r.data.category, confidence: r.data.confidence } : null;
    const alts = (r.data.alternatives || []).map((a) => (a.category ? { ...a.category, confidence: a.confidence } : a));
    const opts = [first, ...alts].filter((x) => x && x.code).slice(0, 4);
    for (const o of opts) {
      sugg.append(el('button', { type: 'button', class: 'chip', text: `${o.code} ${o.name || ''} ${o.confidence != null ? Math.round(o.confidence * 100) + '%' : ''}`,
        onclick: () => { input.value = o.code; input.focus(); } }));
    }
  });
  return card;
}

// ---- alerts ----

const LEVELS = ['red', 'orange', 'yellow', 'blue'];

function alertPoint(a) {
  return a.point ? { id: String(a.id), lat: a.point.lat, lng: a.point.lng, title: a.title, level: a.level } : null;
}

async function alertAct(a, action) {
  const r = await api('POST', `/api/v1/alerts/${encodeURIComponent(a.id)}/actions`, { action });
  if (r.ok) toast(t('action_ok', { a: t('al_' + action) }));
  else toast(t('error', { m: errMessage(r) }), 'warn');
  showAlerts();
}

async function showAlerts() {
  const box = $('#alerts-list');
  const status = $('#alert-status') ? $('#alert-status').value : 'active';
  const r = await api('GET', '/api/v1/alerts?page_size=100' + (status ? '&status=' + status : ''));
  if (r.status === 404 && !(r.data && r.data.error && r.data.error.code !== 'not_found')) {
    box.replaceChildren(el('p', { class: 'muted', text: t('alerts_missing') }));
    return;
  }
  if (!r.ok) { box.replaceChildren(el('p', { class: 'error', text: t('error', { m: errMessage(r) }) })); return; }
  const items = r.data.items || [];
  const sel = el('select', { id: 'alert-status', onchange: showAlerts },
    el('option', { value: 'active', text: t('al_active') }), el('option', { value: '', text: t('all') }));
  sel.value = status;
  box.replaceChildren(el('div', { class: 'filters' }, el('div', { class: 'field' },
    el('label', { for: 'alert-status', text: t('f_status') }), sel)));
  if (!items.length) box.append(el('p', { class: 'muted', text: t('alerts_none') }));
  const list = el('ul', { class: 'alerts' });
  const canAct = S.user && S.user.role !== 'auditor';
  for (const a of items) {
    list.append(el('li', { class: 'alert lv-' + (a.level || 'blue'), 'data-id': a.id },
      el('strong', { text: a.title || a.type }), ' ',
      el('span', { class: 'badge lv-' + a.level, text: t('lv_' + a.level) }), ' ',
      el('span', { class: 'badge', text: t('al_' + a.status) }), ' ',
      el('span', { class: 'muted', text: [a.device || a.system, fmtTime(a.raised_at), a.count > 1 ? '×' + a.count : ''].filter(Boolean).join(' · ') }),
      a.detail ? el('div', { text: a.detail }) : null,
      el('div', { class: 'act-buttons' },
        a.case_ref ? el('a', { href: '#/case/' + a.case_ref, text: a.case_ref }) : null,
        canAct && a.status === 'open' ? el('button', { type: 'button', text: t('al_acknowledge'), onclick: () => alertAct(a, 'acknowledge') }) : null,
        canAct && a.status !== 'cleared' ? el('button', { type: 'button', text: t('al_clear'), onclick: () => alertAct(a, 'clear') }) : null)));
  }
  box.append(list);
}

// Active alerts with a position, for the map when it opens.
async function loadMapAlerts() {
  const r = await api('GET', '/api/v1/alerts?status=active&page_size=200');
  if (!r.ok || !S.map) return;
  for (const a of r.data.items || []) { const p = alertPoint(a); if (p) S.map.alert(p, false); }
}

// ---- router ----

function route() {
  if (!S.token) return;
  const h = location.hash.replace(/^#\/?/, '');
  const [view, arg] = h.split('/');
  const v = ['queue', 'case', 'map', 'triage', 'scores', 'alerts', 'insights'].includes(view) ? view : 'queue';
  S.view = v;
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== 'view-' + v;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === v) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (v === 'queue') showQueue();
  else if (v === 'case') showCase(decodeURIComponent(arg || ''));
  else if (v === 'map') {
    if (!S.map) S.map = new CityMap($('#map'), { tip: $('#map-tip'), count: $('#map-count'), api, countText: (n) => t('map_count', { n }) });
    $('#map-legend').replaceChildren(...CityMap.legend(t).map((l) => el('span', { class: 'key' },
      el('span', { class: 'swatch', style: 'background:' + l.colour, 'aria-hidden': 'true' }), l.text)));
    if (!S.map.loaded) loadMapAlerts();
    S.map.show();
  } else if (v === 'triage') showTriage();
  else if (v === 'scores') showScores(api);
  else if (v === 'alerts') showAlerts();
  else if (v === 'insights') showInsights(api);
}

// ---- start ----

function init() {
  applyStatic(document);
  const st = $('#f-status');
  for (const s of STATUSES) st.append(el('option', { value: s, 'data-status': s, text: label('s', s) }));
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', () => logout(true));
  for (const b of document.querySelectorAll('[data-lang-switch]')) {
    b.addEventListener('click', () => {
      setLang(getLang() === 'zh' ? 'en' : 'zh');
      for (const o of document.querySelectorAll('#f-status option[data-status]')) o.textContent = label('s', o.dataset.status);
      if (S.token) route();
    });
  }
  $('#filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    S.filters = Object.fromEntries([...fd.entries()].filter(([, v]) => v));
    S.page = 1;
    showQueue();
  });
  $('#prev').addEventListener('click', () => { if (S.page > 1) { S.page--; showQueue(); } });
  $('#next').addEventListener('click', () => { S.page++; showQueue(); });
  $('#sel-all').addEventListener('change', (ev) => {
    S.selected = ev.target.checked ? new Set(S.rows.keys()) : new Set();
    for (const b of document.querySelectorAll('#queue-body input[type=checkbox]')) b.checked = ev.target.checked;
    syncSelection();
  });
  $('#bulk-go').addEventListener('click', bulkRun);
  window.addEventListener('hashchange', route);
  if (S.token) enter();
  else { $('#login').hidden = false; $('#login-user').focus(); }
}

export { caseColour, deadlineState as caseDeadlineState };
init();
