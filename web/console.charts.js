// Scores (the league table and three charts drawn as SVG by hand: cases per day, the category
// mix, the on-time rate by unit) and insights (recurring-problem clusters, hot spots, rising
// terms). Each chart also carries a text summary (<title>/<desc>) for screen readers.
import { t } from './console.i18n.js';

const NS = 'http://www.w3.org/2000/svg';
const PALETTE = ['#1565c0', '#2e7d32', '#e65100', '#6a1b9a', '#00838f', '#ad1457', '#5d4037', '#455a64', '#9e9d24'];

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function pct(x) { return (Math.round((x || 0) * 1000) / 10).toFixed(1) + '%'; }

function day(d) {
  const z = new Date(d.getTime() + 8 * 3600 * 1000); // Asia/Shanghai
  return z.toISOString().slice(0, 10);
}

// A chart's accessible frame: role=img with a title and a description.
function frame(w, ht, title, desc) {
  const id = 'c' + Math.random().toString(36).slice(2, 8);
  return svg('svg', { viewBox: `0 0 ${w} ${ht}`, role: 'img', 'aria-labelledby': id + 't ' + id + 'd', class: 'chart-svg' },
    svg('title', { id: id + 't' }, title), svg('desc', { id: id + 'd' }, desc));
}

// Lines of received and closed per day.
function trendChart(days) {
  const W = 520, H = 220, L = 40, B = 28, T = 12, R = 10;
  const step = Math.max(1, Math.ceil(Math.max(1, ...days.map((d) => Math.max(d.received, d.closed))) / 4));
  const max = step * 4;
  const x = (i) => L + (i * (W - L - R)) / Math.max(1, days.length - 1);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const total = days.reduce((s, d) => s + d.received, 0);
  const s = frame(W, H, t('ch_trend'), `${days.length} days, ${total} received; peak ${max}`);
  for (let k = 0; k <= 4; k++) {
    const v = step * k;
    s.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e0e0e0' }),
      svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, String(v)));
  }
  days.forEach((d, i) => {
    if (i % Math.ceil(days.length / 6) === 0) s.append(svg('text', { x: x(i), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, d.day.slice(5)));
  });
  for (const [key, colour, name] of [['received', PALETTE[0], t('received')], ['closed', PALETTE[1], t('closed')]]) {
    s.append(svg('polyline', { fill: 'none', stroke: colour, 'stroke-width': 2,
      points: days.map((d, i) => `${x(i).toFixed(1)},${y(d[key]).toFixed(1)}`).join(' ') }, svg('title', {}, name)));
  }
  s.append(svg('text', { x: L + 8, y: T + 4, fill: PALETTE[0], class: 'axis' }, '— ' + t('received')),
    svg('text', { x: L + 8, y: T + 18, fill: PALETTE[1], class: 'axis' }, '— ' + t('closed')));
  return s;
}

// A donut of received cases by category (top eight, then the rest).
function mixChart(rows) {
  const W = 520, H = 220, cx = 110, cy = 110, r = 90, ri = 52;
  const sorted = [...rows].sort((a, b) => b.received - a.received);
  const top = sorted.slice(0, 8).map((r0) => ({ name: r0.name || r0.key || t('uncategorized'), n: r0.received }));
  const rest = sorted.slice(8).reduce((s, r0) => s + r0.received, 0);
  if (rest) top.push({ name: '…', n: rest });
  const total = top.reduce((s, p) => s + p.n, 0);
  const s = frame(W, H, t('ch_mix'), top.map((p) => `${p.name} ${p.n}`).join('; '));
  if (!total) return s;
  let a0 = -Math.PI / 2;
  top.forEach((p, i) => {
    const a1 = a0 + (2 * Math.PI * p.n) / total;
    const large = a1 - a0 > Math.PI ? 1 : 0;
    const pt = (rad, a) => `${cx + rad * Math.cos(a)},${cy + rad * Math.sin(a)}`;
    const d = p.n === total
      ? `M${cx - r},${cy} a${r},${r} 0 1,0 ${2 * r},0 a${r},${r} 0 1,0 ${-2 * r},0 M${cx - ri},${cy} a${ri},${ri} 0 1,1 ${2 * ri},0 a${ri},${ri} 0 1,1 ${-2 * ri},0`
      : `M${pt(r, a0)} A${r},${r} 0 ${large},1 ${pt(r, a1)} L${pt(ri, a1)} A${ri},${ri} 0 ${large},0 ${pt(ri, a0)} Z`;
    s.append(svg('path', { d, fill: PALETTE[i % PALETTE.length], 'fill-rule': 'evenodd' }, svg('title', {}, `${p.name}: ${p.n}`)));
    s.append(svg('rect', { x: 240, y: 16 + i * 21, width: 12, height: 12, fill: PALETTE[i % PALETTE.length] }),
      svg('text', { x: 258, y: 27 + i * 21, class: 'axis' }, `${p.name.slice(0, 16)}  ${p.n} (${pct(p.n / total)})`));
    a0 = a1;
  });
  s.append(svg('text', { x: cx, y: cy + 5, 'text-anchor': 'middle', class: 'big' }, String(total)));
  return s;
}

// Horizontal bars of the on-time rate for the units with the most cases.
function onTimeChart(rows) {
  const top = [...rows].filter((r) => r.closed > 0).sort((a, b) => b.received - a.received).slice(0, 12);
  const W = 520, rowH = 18, L = 170, H = Math.max(60, 16 + top.length * rowH + 20);
  const s = frame(W, H, t('ch_ontime'), top.map((r) => `${r.name} ${pct(r.on_time_rate)}`).join('; '));
  top.forEach((r, i) => {
    const y = 8 + i * rowH;
    const w = (W - L - 60) * (r.on_time_rate || 0);
    const colour = r.on_time_rate >= 0.9 ? PALETTE[1] : r.on_time_rate >= 0.7 ? PALETTE[2] : '#c62828';
    s.append(svg('text', { x: L - 6, y: y + 12, 'text-anchor': 'end', class: 'axis' }, (r.name || r.key).slice(0, 14)),
      svg('rect', { x: L, y: y + 2, width: Math.max(1, w), height: rowH - 5, fill: colour }, svg('title', {}, `${r.name}: ${pct(r.on_time_rate)}`)),
      svg('text', { x: L + w + 4, y: y + 12, class: 'axis' }, pct(r.on_time_rate)));
  });
  return s;
}

// Received and closed per day over the last `n` days, from one scores call per day (each a
// sum over the day's statistics rows, not a scan of cases), six at a time.
async function dailyCounts(api, n) {
  const days = [];
  const now = Date.now();
  for (let i = n - 1; i >= 0; i--) days.push({ day: day(new Date(now - i * 86400000)), received: 0, closed: 0 });
  for (let i = 0; i < days.length; i += 6) {
    await Promise.all(days.slice(i, i + 6).map(async (d) => {
      const r = await api('GET', `/api/v1/scores?by=street&from=${d.day}&to=${d.day}`);
      if (!r.ok) return;
      for (const row of r.data.rows || []) { d.received += row.received || 0; d.closed += row.closed || 0; }
    }));
  }
  return days;
}

export async function showScores(api) {
  const form = document.getElementById('scores-form');
  if (!form.dataset.bound) {
    form.dataset.bound = '1';
    form.addEventListener('submit', (ev) => { ev.preventDefault(); showScores(api); });
  }
  const by = form.by.value || 'unit';
  const q = new URLSearchParams({ by });
  if (form.from.value) q.set('from', form.from.value);
  if (form.to.value) q.set('to', form.to.value);
  const table = document.getElementById('scores-table');
  const [r, units, cats] = await Promise.all([api('GET', '/api/v1/scores?' + q), api('GET', '/api/v1/scores?by=unit'),
    api('GET', '/api/v1/scores?by=category')]);
  if (!r.ok) {
    table.tBodies[0].replaceChildren(h('tr', {}, h('td', { class: 'error', text: r.status === 403 ? t('no_scores') : 'HTTP ' + r.status })));
    return;
  }
  const cols = ['rank', 'name', 'received', 'closed', 'on_time_rate', 'closure_rate', 'satisfaction_rate', 'rework_rate', 'score'];
  table.tHead.replaceChildren(h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: t(c) }))));
  table.tBodies[0].replaceChildren(...r.data.rows.map((row) => h('tr', { class: row.small_sample ? 'small' : undefined },
    h('td', { text: String(row.rank) }),
    h('td', {}, row.name || row.key || t('uncategorized'), row.small_sample ? h('span', { class: 'muted', text: ' · ' + t('small_sample') }) : null),
    h('td', { class: 'num', text: String(row.received) }), h('td', { class: 'num', text: String(row.closed) }),
    h('td', { class: 'num', text: pct(row.on_time_rate) }), h('td', { class: 'num', text: pct(row.closure_rate) }),
    h('td', { class: 'num', text: pct(row.satisfaction_rate) }), h('td', { class: 'num', text: pct(row.rework_rate) }),
    h('td', { class: 'num', text: (row.score || 0).toFixed(1) }))));
  if (cats.ok) document.getElementById('ch-mix').replaceChildren(mixChart(cats.data.rows));
  if (units.ok) document.getElementById('ch-ontime').replaceChildren(onTimeChart(units.data.rows));
  const trend = document.getElementById('ch-trend');
  trend.replaceChildren(h('p', { class: 'muted', text: t('loading') }));
  trend.replaceChildren(trendChart(await dailyCounts(api, 30)));
}

let areaNames = null;

// Street and community names by code (public map data), fetched once.
function loadAreaNames() {
  if (!areaNames) {
    areaNames = Promise.all(['/api/v1/map/streets', '/api/v1/map/communities'].map((p) =>
      fetch(p).then((r) => (r.ok ? r.json() : { features: [] })).catch(() => ({ features: [] }))))
      .then((fcs) => new Map(fcs.flatMap((fc) => fc.features.map((f) => [f.properties.code, f.properties.name]))));
  }
  return areaNames;
}

// A hot spot's name: its own, else (a grid cell) its community's name and the cell's number.
function placeName(names, i) {
  if (i.name) return i.name;
  const community = names.get(i.code.slice(0, 12));
  return community && i.code.length > 12 ? `${community} ${t('lv_grid')}${i.code.slice(12)}` : i.code;
}

function trendWord(tr) {
  return tr === 'rising' || tr === 'up' ? t('trend_up') : tr === 'falling' || tr === 'down' ? t('trend_down') : t('trend_flat');
}

export async function showInsights(api) {
  const level = document.getElementById('hot-level');
  if (!level.dataset.bound) {
    level.dataset.bound = '1';
    level.addEventListener('change', () => showInsights(api));
  }
  const [cl, hot, terms, names] = await Promise.all([api('GET', '/api/v1/insights/clusters'),
    api('GET', '/api/v1/insights/hotspots?level=' + level.value), api('GET', '/api/v1/insights/terms'), loadAreaNames()]);
  const cbox = document.getElementById('clusters');
  cbox.replaceChildren();
  if (cl.ok) {
    if (!cl.data.items.length) cbox.append(h('p', { class: 'muted', text: t('none') }));
    for (const c of cl.data.items.slice(0, 30)) {
      const places = [...(c.streets || []), ...(c.communities || [])].map((p) => p.name).filter(Boolean).join('、');
      cbox.append(h('article', { class: 'card cluster' },
        h('h4', {}, c.label, ' ', h('span', { class: 'badge', text: t('cases_n', { n: c.count }) }), ' ',
          h('span', { class: 'muted', text: trendWord(c.trend) })),
        h('p', { class: 'muted', text: [c.category && c.category.name, places, (c.first_seen || '').slice(0, 10) + ' – ' + (c.last_seen || '').slice(0, 10)].filter(Boolean).join(' · ') }),
        h('p', {}, ...(c.members || []).slice(0, 8).map((m) => [h('a', { href: '#/case/' + m.ref, text: m.ref }), ' ']))));
    }
  } else cbox.append(h('p', { class: 'error', text: 'HTTP ' + cl.status }));
  const hbox = document.getElementById('hotspots');
  hbox.replaceChildren();
  if (hot.ok) {
    const max = Math.max(1, ...hot.data.items.map((i) => i.count));
    const list = h('ol', { class: 'bars' });
    for (const i of hot.data.items.slice(0, 20)) {
      list.append(h('li', {}, h('span', { class: 'bar-label', text: placeName(names, i) }),
        h('span', { class: 'bar', style: `width:${(100 * i.count) / max}%`, 'aria-hidden': 'true' }),
        h('span', { class: 'num', text: `${i.count} (${i.growth >= 0 ? '+' : ''}${pct(i.growth)})` })));
    }
    hbox.append(list);
  }
  const tbox = document.getElementById('terms');
  tbox.replaceChildren();
  if (terms.ok) {
    if (!terms.data.items.length) tbox.append(h('p', { class: 'muted', text: t('none') }));
    for (const i of terms.data.items) tbox.append(h('span', { class: 'chip', text: `${i.term} ×${i.count}` }), ' ');
  }
}
