// The district map on a canvas, drawn by hand (no tiles: the centre may have no internet):
// the outline, streets, communities and, zoomed in, the grid cells; cases as dots coloured by
// state and deadline, grouped into counted clusters while they would overlap; alerts as large
// pulsing rings. Pan by dragging or the arrow keys, zoom with the wheel or + and -.
const DONE = new Set(['closed', 'rated', 'rejected', 'merged']);
const COLOURS = { over: '#c62828', warn: '#e65100', ok: '#1565c0', done: '#2e7d32', alert: '#8e24aa' };
const CLUSTER_PX = 36;      // cases closer than this on screen are drawn as one cluster
const COMMUNITY_SCALE = 12000; // px per degree from which communities are drawn
const GRID_SCALE = 90000;   // ... and grid cells (fetched for the view)
const MAX_SCALE = 400000;

let geoPromise = null;

// The district, streets and communities, fetched once for every map on the page.
function loadGeo() {
  if (!geoPromise) {
    const get = (p) => fetch(p).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    geoPromise = Promise.all([get('/api/v1/map/district'), get('/api/v1/map/streets'), get('/api/v1/map/communities')])
      .then(([district, streets, communities]) => ({
        district: district ? [district] : [],
        streets: streets ? streets.features : [],
        communities: communities ? communities.features : [],
      }));
  }
  return geoPromise;
}

// The colour key of a case (or SSE payload): over, warn, ok or done.
export function caseColour(c) {
  if (DONE.has(c.status)) return 'done';
  if (c.overdue) return 'over';
  if (c.warned || (c.warn_at && Date.parse(c.warn_at) < Date.now())) return 'warn';
  return 'ok';
}

function rings(geom) {
  if (!geom) return [];
  if (geom.type === 'Polygon') return geom.coordinates;
  if (geom.type === 'MultiPolygon') return geom.coordinates.flat();
  return [];
}

function bboxOf(features) {
  let a = Infinity, b = Infinity, c = -Infinity, d = -Infinity;
  for (const f of features) {
    for (const ring of rings(f.geometry)) {
      for (const [x, y] of ring) {
        if (x < a) a = x; if (y < b) b = y; if (x > c) c = x; if (y > d) d = y;
      }
    }
  }
  return isFinite(a) ? [a, b, c, d] : [114.08, 22.53, 114.2, 22.62];
}

export class CityMap {
  constructor(canvas, opts) {
    this.opts = opts || {};
    this.mini = !!this.opts.mini;
    if (canvas.tagName !== 'CANVAS') {
      const c = document.createElement('canvas');
      c.className = 'map mini';
      c.setAttribute('aria-hidden', 'true');
      canvas.replaceChildren(c);
      canvas = c;
    }
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.cases = new Map();   // id -> {id, lat, lng, status, overdue, warned}
    this.alerts = new Map();  // id -> {lat, lng, at, title}
    this.grids = null;        // features for gridKey
    this.gridKey = '';
    this.view = null;         // {cx, cy, scale}
    this.hits = [];           // what was drawn where, for clicks: {x, y, r, ids}
    this.focus = null;
    this.loaded = false;
    this.pending = false;
    loadGeo().then((g) => { this.geo = g; this.bbox = bboxOf(g.district.length ? g.district : g.streets); this.reset(); });
    if (!this.mini) this.bind();
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  // The whole district in view.
  reset() {
    if (!this.bbox) return;
    const [a, b, c, d] = this.bbox;
    const w = this.canvas.clientWidth || 600, h = this.canvas.clientHeight || 400;
    const k = Math.cos(((b + d) / 2) * Math.PI / 180);
    this.view = { cx: (a + c) / 2, cy: (b + d) / 2, scale: 0.92 * Math.min(w / ((c - a) * k), h / (d - b)), k };
    this.draw();
  }

  project(lng, lat) {
    const v = this.view;
    return [this.w / 2 + (lng - v.cx) * v.scale * v.k, this.h / 2 - (lat - v.cy) * v.scale];
  }

  unproject(x, y) {
    const v = this.view;
    return [v.cx + (x - this.w / 2) / (v.scale * v.k), v.cy - (y - this.h / 2) / v.scale];
  }

  zoom(f, x, y) {
    if (!this.view) return;
    const v = this.view;
    const px = x ?? this.w / 2, py = y ?? this.h / 2;
    const [lng, lat] = this.unproject(px, py);
    v.scale = Math.max(200, Math.min(MAX_SCALE, v.scale * f));
    const [lng2, lat2] = this.unproject(px, py);
    v.cx += lng - lng2;
    v.cy += lat - lat2;
    this.draw();
  }

  pan(dx, dy) {
    if (!this.view) return;
    this.view.cx -= dx / (this.view.scale * this.view.k);
    this.view.cy += dy / this.view.scale;
    this.draw();
  }

  bind() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY, moved: 0 }; c.setPointerCapture(e.pointerId); });
    c.addEventListener('pointermove', (e) => {
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        drag.moved += Math.abs(dx) + Math.abs(dy);
        drag.x = e.clientX; drag.y = e.clientY;
        this.pan(dx, dy);
      } else this.hover(e);
    });
    c.addEventListener('pointerup', (e) => {
      if (drag && drag.moved < 4) this.click(e);
      drag = null;
    });
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      this.zoom(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    c.addEventListener('keydown', (e) => {
      const step = 60;
      const keys = { ArrowLeft: () => this.pan(step, 0), ArrowRight: () => this.pan(-step, 0), ArrowUp: () => this.pan(0, step),
        ArrowDown: () => this.pan(0, -step), '+': () => this.zoom(1.5), '=': () => this.zoom(1.5), '-': () => this.zoom(1 / 1.5),
        '0': () => this.reset() };
      if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
    });
    const btn = (id, fn) => { const b = document.getElementById(id); if (b) b.addEventListener('click', fn); };
    btn('zoom-in', () => this.zoom(1.5));
    btn('zoom-out', () => this.zoom(1 / 1.5));
    btn('zoom-reset', () => this.reset());
  }

  hitAt(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    for (let i = this.hits.length - 1; i >= 0; i--) {
      const h = this.hits[i];
      if ((h.x - x) ** 2 + (h.y - y) ** 2 <= (h.r + 3) ** 2) return [h, x, y];
    }
    return [null, x, y];
  }

  click(e) {
    const [h, x, y] = this.hitAt(e);
    if (!h) return;
    if (h.ids.length === 1) location.hash = '#/case/' + h.ids[0];
    else if (!h.ids.length) location.hash = '#/alerts';
    else this.zoom(3, x, y);
  }

  hover(e) {
    const tip = this.opts.tip;
    if (!tip) return;
    const [h, x, y] = this.hitAt(e);
    this.canvas.style.cursor = h ? 'pointer' : 'grab';
    if (!h) { tip.hidden = true; return; }
    tip.textContent = h.ids.length > 1 ? h.ids.length + ' ×' : h.label;
    tip.style.left = x + 12 + 'px';
    tip.style.top = y + 12 + 'px';
    tip.hidden = false;
  }

  // Loads the latest cases in scope (up to 2,000: four pages) the first time the map shows.
  async show() {
    this.draw();
    if (this.loaded || !this.opts.api) return;
    this.loaded = true;
    for (let page = 1; page <= 4; page++) {
      const r = await this.opts.api('GET', `/api/v1/cases?page=${page}&page_size=500`);
      if (!r.ok) break;
      for (const c of r.data.items) if (!this.cases.has(c.id)) this.add(c);
      this.draw();
      if (r.data.items.length < 500) break;
    }
  }

  add(c) {
    const lat = c.location ? c.location.lat : c.lat, lng = c.location ? c.location.lng : c.lng;
    if (lat == null || lng == null) return;
    this.cases.set(c.id, { id: c.id, lat, lng, status: c.status, overdue: c.overdue, warned: c.warned, warn_at: c.warn_at,
      label: c.id + ' ' + (c.status_label || c.status) + (c.title ? ' ' + c.title : '') });
  }

  // An SSE case payload: add or update the marker.
  upsert(d) {
    const old = this.cases.get(d.id);
    if (d.lat == null && old) { d = { ...d, lat: old.lat, lng: old.lng }; }
    this.add(d);
    this.schedule();
  }

  // An alert with a position: a ring, pulsing for two minutes when it is new.
  alert(a, fresh) {
    if (a.lat == null || a.lng == null) return;
    this.alerts.set(a.id, { lat: a.lat, lng: a.lng, at: fresh ? Date.now() : 0, label: a.title || a.id, level: a.level });
    this.schedule();
  }

  unalert(id) {
    this.alerts.delete(id);
    this.schedule();
  }

  focusCase(c) {
    this.focus = c.location ? { lat: c.location.lat, lng: c.location.lng, key: caseColour(c) } : null;
    const go = () => {
      if (this.focus && this.view) { this.view.cx = this.focus.lng; this.view.cy = this.focus.lat; this.view.scale = 40000; }
      this.draw();
    };
    if (this.geo) go(); else loadGeo().then(() => setTimeout(go, 0));
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  async fetchGrids() {
    const [a, d] = this.unproject(0, 0), [c, b] = this.unproject(this.w, this.h);
    const q = (x) => x.toFixed(3);
    const key = [q(a), q(b), q(c), q(d)].join(',');
    if (key === this.gridKey) return;
    this.gridKey = key;
    const r = await fetch('/api/v1/map/grids?bbox=' + key).catch(() => null);
    if (!r || !r.ok || key !== this.gridKey) return;
    this.grids = (await r.json()).features;
    this.draw();
  }

  path(geom) {
    const ctx = this.ctx;
    ctx.beginPath();
    for (const ring of rings(geom)) {
      ring.forEach(([x, y], i) => {
        const [px, py] = this.project(x, y);
        if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      });
      ctx.closePath();
    }
  }

  draw() {
    const c = this.canvas, ctx = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    this.w = c.clientWidth; this.h = c.clientHeight;
    if (!this.w || !this.h) return;
    if (c.width !== Math.round(this.w * dpr) || c.height !== Math.round(this.h * dpr)) {
      c.width = Math.round(this.w * dpr); c.height = Math.round(this.h * dpr);
      if (this.view && !this.mini && !this.drawnOnce) { this.drawnOnce = true; return this.reset(); }
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#eef2f5';
    ctx.fillRect(0, 0, this.w, this.h);
    if (!this.view || !this.geo) return;
    const s = this.view.scale;
    for (const f of this.geo.district) { this.path(f.geometry); ctx.fillStyle = '#ffffff'; ctx.fill(); ctx.strokeStyle = '#37474f'; ctx.lineWidth = 2; ctx.stroke(); }
    if (s >= COMMUNITY_SCALE) {
      ctx.strokeStyle = '#b0bec5'; ctx.lineWidth = 0.7;
      for (const f of this.geo.communities) { this.path(f.geometry); ctx.stroke(); }
    }
    if (s >= GRID_SCALE && !this.mini) {
      this.fetchGrids();
      if (this.grids) { ctx.strokeStyle = '#dfe5ea'; ctx.lineWidth = 0.5; for (const f of this.grids) { this.path(f.geometry); ctx.stroke(); } }
    }
    ctx.strokeStyle = '#607d8b'; ctx.lineWidth = 1.2;
    for (const f of this.geo.streets) { this.path(f.geometry); ctx.stroke(); }
    if (!this.mini) this.labels(s);
    this.hits = [];
    if (this.mini) {
      if (this.focus) {
        const [x, y] = this.project(this.focus.lng, this.focus.lat);
        ctx.beginPath(); ctx.arc(x, y, 8, 0, 2 * Math.PI);
        ctx.fillStyle = COLOURS[this.focus.key]; ctx.fill(); ctx.lineWidth = 3; ctx.strokeStyle = '#fff'; ctx.stroke();
      }
      return;
    }
    this.drawCases();
    this.drawAlerts();
    if (this.opts.count && this.opts.countText) this.opts.count.textContent = this.opts.countText(this.cases.size);
  }

  labels(s) {
    const ctx = this.ctx;
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillStyle = '#263238';
    ctx.textAlign = 'center';
    const list = s >= COMMUNITY_SCALE * 2 ? this.geo.communities : this.geo.streets;
    for (const f of list) {
      const [a, b, c, d] = bboxOf([f]);
      const [x, y] = this.project((a + c) / 2, (b + d) / 2);
      if (x > -50 && y > -20 && x < this.w + 50 && y < this.h + 20) ctx.fillText(f.properties.name || '', x, y);
    }
  }

  // Bins the cases on screen into CLUSTER_PX cells; a cell with one case is a dot, with more a
  // counted disc coloured by its most urgent member (overdue > due soon > open > done).
  drawCases() {
    const ctx = this.ctx;
    const bins = new Map();
    const rank = { over: 3, warn: 2, ok: 1, done: 0 };
    const cluster = this.view.scale < MAX_SCALE / 2;
    for (const m of this.cases.values()) {
      const [x, y] = this.project(m.lng, m.lat);
      if (x < -10 || y < -10 || x > this.w + 10 || y > this.h + 10) continue;
      const key = cluster ? Math.floor(x / CLUSTER_PX) + ':' + Math.floor(y / CLUSTER_PX) : m.id;
      let b = bins.get(key);
      if (!b) { b = { x: 0, y: 0, ids: [], worst: 'done', label: m.label }; bins.set(key, b); }
      b.x += x; b.y += y; b.ids.push(m.id);
      const k = caseColour(m);
      if (rank[k] > rank[b.worst]) b.worst = k;
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const b of bins.values()) {
      const n = b.ids.length, x = b.x / n, y = b.y / n;
      const r = n === 1 ? 5 : Math.min(22, 9 + Math.log2(n) * 2.2);
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = COLOURS[b.worst]; ctx.globalAlpha = n === 1 ? 0.95 : 0.8; ctx.fill(); ctx.globalAlpha = 1;
      ctx.lineWidth = 1.5; ctx.strokeStyle = '#fff'; ctx.stroke();
      if (n > 1) { ctx.fillStyle = '#fff'; ctx.font = 'bold 11px system-ui, sans-serif'; ctx.fillText(n > 999 ? Math.round(n / 1000) + 'k' : String(n), x, y); }
      this.hits.push({ x, y, r, ids: b.ids, label: b.label });
    }
    ctx.textBaseline = 'alphabetic';
  }

  drawAlerts() {
    const ctx = this.ctx;
    const now = Date.now();
    let live = false;
    for (const a of this.alerts.values()) {
      const [x, y] = this.project(a.lng, a.lat);
      const age = (now - a.at) / 1000;
      const pulse = age < 120 ? 14 + 8 * Math.abs(Math.sin(age * 2)) : 14;
      ctx.beginPath(); ctx.arc(x, y, pulse, 0, 2 * Math.PI);
      ctx.strokeStyle = COLOURS.alert; ctx.lineWidth = 4; ctx.stroke();
      ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.fillStyle = COLOURS.alert; ctx.fill();
      this.hits.push({ x, y, r: 10, ids: [], label: a.label });
      if (age < 120) live = true;
    }
    if (live) this.schedule();
  }

  // The colour legend, as text for screen readers too.
  static legend(t) {
    return [['ok', 'legend_ok'], ['warn', 'legend_warn'], ['over', 'legend_over'], ['done', 'legend_done'], ['alert', 'legend_alert']]
      .map(([k, key]) => ({ colour: COLOURS[k], text: t(key) }));
  }
}
