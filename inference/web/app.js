// pixelflow web page: upload → prediction with confidence bars (or the keypoints / mask drawn on the
// image, for those models), live feed, two small charts.
// Plain DOM and canvas; every server string goes in through textContent, never innerHTML.
// The experiment view (#experiments) is experiments.js, sharing this file's key handling.
import { setupExperiments } from '/web/experiments.js';
import { drawOverlay, showTaskResult } from '/web/task-overlay.js';

const $ = (id) => document.getElementById(id);
const COLORS = ['#3b5bdb', '#f08c00', '#2f9e44', '#ae3ec9', '#e03131', '#1098ad'];
const recent = [];

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') node.textContent = v;
    else if (k === 'style') Object.assign(node.style, v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// ---- API key -------------------------------------------------------------------------------
// When the server answers 401 the page asks for a key once, keeps it for this tab only
// (sessionStorage: gone when the tab closes) and sends it on every call; every call that met the
// 401 waits for the same answer and then tries again.
const KEY_STORE = 'pixelflow.apiKey';
let keyWaiters = null;

function askForKey(message) {
  if (!keyWaiters) {
    keyWaiters = [];
    $('key-note').textContent = message;
    $('key-form').hidden = false;
    $('key-input').focus();
  }
  return new Promise((resolve) => keyWaiters.push(resolve));
}

function setupKeyForm() {
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    $('key-input').value = '';
    $('key-form').hidden = true;
    const waiting = keyWaiters ?? [];
    keyWaiters = null;
    for (const resolve of waiting) resolve();
  });
}

async function api(url, init = {}) {
  for (;;) {
    const key = sessionStorage.getItem(KEY_STORE);
    const headers = new Headers(init.headers);
    if (key) headers.set('x-api-key', key);
    const res = await fetch(url, { ...init, headers });
    if (res.status !== 401) return res;
    if (key && sessionStorage.getItem(KEY_STORE) === key) sessionStorage.removeItem(KEY_STORE);
    await askForKey(key ? 'That key was refused; enter another.' : 'This server needs an API key.');
  }
}

async function getJson(url) {
  const res = await api(url, { headers: { accept: 'application/json' } });
  if (!res.ok) {
    const err = new Error(`${res.status}`);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

// ---- header ---------------------------------------------------------------------------------
async function refreshStatus() {
  try {
    const models = await getJson('/v1/models');
    const prod = models.loaded.production;
    const cand = models.loaded.candidate;
    const badge = $('model-badge');
    badge.textContent = prod ? `model ${prod}${cand ? ` · shadow ${cand}` : ''}` : 'no model yet';
    badge.className = `badge ${prod ? '' : 'muted'}`;
  } catch {
    $('model-badge').textContent = 'models unavailable';
  }
  const ready = $('ready-badge');
  try {
    const res = await fetch('/health/ready');
    ready.textContent = res.ok ? 'ready' : 'not ready';
    ready.className = `badge ${res.ok ? 'ok' : 'err'}`;
  } catch {
    ready.textContent = 'offline';
    ready.className = 'badge err';
  }
}

/** Input/prediction drift from the analytics API (issue #7), when it is mounted. */
async function refreshDrift() {
  const badge = $('drift-badge');
  try {
    const { rows } = await getJson('/v1/analytics/drift?since=1h');
    const rank = { significant: 2, moderate: 1 };
    const worst = rows.filter((r) => rank[r.status]).sort((a, b) => rank[b.status] - rank[a.status])[0];
    const judged = rows.some((r) => r.status !== 'insufficient_data');
    if (!judged) {
      badge.hidden = true;
      return;
    }
    badge.textContent = worst ? `${worst.status} drift: ${worst.feature}` : 'no drift';
    badge.title = rows
      .map((r) => `${r.feature}: PSI ${r.psi === null ? '–' : Number(r.psi).toFixed(3)} (${r.status})`)
      .join('\n');
    badge.className = `badge ${worst ? (worst.status === 'significant' ? 'err' : 'warn') : 'ok'}`;
    badge.hidden = false;
  } catch {
    badge.hidden = true;
  }
}

// ---- classify -------------------------------------------------------------------------------
function showResult(body) {
  const box = $('result');
  box.replaceChildren();
  const top = body.top_k[0];
  box.append(
    el('div', { class: 'head' }, [
      el('span', { class: 'top', id: 'top-label', text: top ? top.label : '?' }),
      el('span', {
        class: 'meta',
        text: `${body.model_version} · ${body.latency_ms.toFixed(1)} ms · batch of ${body.batch_size}`,
      }),
    ]),
  );
  for (const { label, p } of body.top_k) {
    box.append(
      el('div', { class: 'bar' }, [
        el('span', { text: label }),
        el('span', { class: 'track' }, [
          el('span', { class: 'fill', style: { width: `${(p * 100).toFixed(1)}%`, display: 'block' } }),
        ]),
        el('span', { class: 'pct', text: `${(p * 100).toFixed(1)}%` }),
      ]),
    );
  }
}

async function classify(file) {
  const preview = $('preview');
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $('drop-hint').textContent = file.name;
  const box = $('result');
  box.replaceChildren(el('p', { class: 'meta', text: 'classifying…' }));
  const form = new FormData();
  form.append('image', file);
  try {
    const res = await api('/v1/predict?k=5', { method: 'POST', body: form });
    const body = await res.json();
    if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
    const oldOverlay = $('overlay');
    if (oldOverlay) oldOverlay.remove();
    if (body.task === 'keypoints' || body.task === 'segmentation') {
      showTaskResult(body, el);
      await drawOverlay(file, body, el);
    } else showResult(body);
    pollFeed();
  } catch (err) {
    box.replaceChildren(el('p', { class: 'error', id: 'predict-error', text: err.message }));
  }
}

function setupUpload() {
  const drop = $('drop');
  $('file').addEventListener('change', (e) => e.target.files[0] && classify(e.target.files[0]));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) classify(e.dataTransfer.files[0]);
  });
}

// ---- live feed ------------------------------------------------------------------------------
async function pollFeed() {
  let body;
  try {
    body = await getJson('/v1/predictions/recent?limit=15');
  } catch {
    $('feed-note').textContent = 'feed unavailable';
    return;
  }
  for (const p of body.predictions) {
    if (!recent.some((r) => r.id === p.id && r.model_version === p.model_version)) recent.push(p);
  }
  recent.sort((a, b) => a.predicted_at - b.predicted_at);
  recent.splice(0, Math.max(0, recent.length - 500));
  const rows = body.predictions.map((p) => {
    // keypoints and mask predictions have no class: a dash, not a question mark
    const top = p.top_k[0] ?? { label: '–', p: 0 };
    const truth = p.label
      ? el('span', {
          class: p.label === top.label ? 'good' : 'bad',
          text: `${p.label === top.label ? '✓' : '✗'} ${p.label}`,
        })
      : el('span', { class: 'meta', text: '–' });
    return el('tr', {}, [
      el('td', { text: new Date(p.predicted_at).toLocaleTimeString() }),
      el('td', { text: top.label }),
      el('td', { class: 'num' }, [
        el('span', { class: 'mini' }, [el('i', { style: { width: `${top.p * 100}%` } })]),
        `${(top.p * 100).toFixed(0)}%`,
      ]),
      el('td', {}, [truth]),
      el('td', { text: p.model_version }),
      el('td', { text: p.origin }),
      el('td', {
        class: 'num',
        text: p.latency_ms < 1000 ? `${p.latency_ms.toFixed(0)} ms` : `${(p.latency_ms / 1000).toFixed(1)} s`,
      }),
    ]);
  });
  const feed = $('feed');
  if (rows.length) feed.replaceChildren(...rows);
  $('feed-note').textContent = rows.length ? `${rows.length} most recent` : '';
}

// ---- charts ---------------------------------------------------------------------------------
function toMs(t) {
  if (typeof t === 'number') return t < 1e12 ? t * 1000 : t;
  const s = String(t);
  const ms = Date.parse(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(s) ? `${s.replace(' ', 'T')}Z` : s);
  return Number.isNaN(ms) ? Number(s) * 1000 : ms;
}

function drawChart(canvas, series, opts) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const pad = { l: 44, r: 10, t: 10, b: 22 };
  const pts = series.flatMap((s) => s.points);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#6b7280';
  if (pts.length === 0) {
    g.fillText('no data yet', w / 2 - 28, h / 2);
    return;
  }
  const xs = pts.map((p) => p.x);
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x1 === x0) {
    x0 -= 60_000;
    x1 += 60_000;
  }
  const y1 = opts.yMax ?? Math.max(1e-9, ...pts.map((p) => p.y)) * 1.1;
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (y) => h - pad.b - (y / y1) * (h - pad.t - pad.b);
  g.strokeStyle = '#e4e7ec';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = (y1 * i) / 4;
    g.beginPath();
    g.moveTo(pad.l, Y(y));
    g.lineTo(w - pad.r, Y(y));
    g.stroke();
    g.fillText(opts.format(y), 4, Y(y) + 4);
  }
  g.fillText(new Date(x0).toLocaleTimeString(), pad.l, h - 6);
  const end = new Date(x1).toLocaleTimeString();
  g.fillText(end, w - pad.r - g.measureText(end).width, h - 6);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    g.strokeStyle = color;
    g.fillStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    s.points.forEach((p, j) => {
      if (j) g.lineTo(X(p.x), Y(p.y));
      else g.moveTo(X(p.x), Y(p.y));
    });
    g.stroke();
    for (const p of s.points) {
      g.beginPath();
      g.arc(X(p.x), Y(p.y), s.points.length === 1 ? 4 : 2.5, 0, Math.PI * 2);
      g.fill();
    }
    // A lone point is easy to miss: say its value.
    if (s.points.length === 1) g.fillText(opts.format(s.points[0].y), X(s.points[0].x) + 7, Y(s.points[0].y) + 4);
    if (series.length > 1 || s.name) g.fillText(s.name, w - pad.r - 70, pad.t + 12 + i * 13);
  });
}

/** Buckets of the page's own feed, for when the analytics API is not there. */
function localBuckets(bucketMs) {
  const byBucket = new Map();
  for (const p of recent) {
    const b = Math.floor(p.predicted_at / bucketMs) * bucketMs;
    const e = byBucket.get(b) ?? { n: 0, labelled: 0, correct: 0 };
    e.n++;
    if (p.label) {
      e.labelled++;
      if (p.top_k[0]?.label === p.label) e.correct++;
    }
    byBucket.set(b, e);
  }
  return [...byBucket.entries()].sort((a, b) => a[0] - b[0]);
}

async function refreshCharts() {
  const local = 'from this page\u2019s live feed (analytics API unavailable)';
  try {
    const body = await getJson('/v1/analytics/throughput?since=30m&bucket=10');
    const points = body.rows
      .filter((r) => r.stage === 'predicted')
      .map((r) => ({ x: toMs(r.bucket_start), y: Number(r.per_second) }));
    drawChart($('chart-throughput'), [{ name: '', points }], { format: (v) => v.toFixed(v < 10 ? 1 : 0) });
    $('throughput-note').textContent = 'last 30 minutes, per 10 s (ClickHouse)';
  } catch {
    const points = localBuckets(10_000).map(([x, e]) => ({ x, y: e.n / 10 }));
    drawChart($('chart-throughput'), [{ name: '', points }], { format: (v) => v.toFixed(1) });
    $('throughput-note').textContent = local;
  }
  try {
    const body = await getJson('/v1/analytics/accuracy_over_time?since=6h&bucket=60');
    const byModel = new Map();
    for (const r of body.rows) {
      if (!byModel.has(r.model_version)) byModel.set(r.model_version, []);
      byModel.get(r.model_version).push({ x: toMs(r.bucket_start), y: Number(r.accuracy) });
    }
    const series = [...byModel.entries()].map(([name, points]) => ({ name, points }));
    drawChart($('chart-accuracy'), series, { yMax: 1, format: (v) => `${(v * 100).toFixed(0)}%` });
    $('accuracy-note').textContent = 'last 6 hours, per minute and model version (ClickHouse)';
  } catch {
    const points = localBuckets(10_000)
      .filter(([, e]) => e.labelled > 0)
      .map(([x, e]) => ({ x, y: e.correct / e.labelled }));
    drawChart($('chart-accuracy'), [{ name: '', points }], { yMax: 1, format: (v) => `${(v * 100).toFixed(0)}%` });
    $('accuracy-note').textContent = local;
  }
}

setupKeyForm();
setupUpload();
setupExperiments({ api, getJson, el, onModelsChanged: refreshStatus });
refreshStatus();
pollFeed().then(refreshCharts);
setInterval(refreshStatus, 5000);
setInterval(pollFeed, 2000);
setInterval(refreshCharts, 10_000);
refreshDrift();
setInterval(refreshDrift, 30_000);
