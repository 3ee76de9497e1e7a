// The experiment view (#experiments): training runs with parameters, data ranges and outcome,
// epoch curves of two runs overlaid (uPlot) with their parameter diff, model versions with
// aliases and lineage, confusion matrix and per-class metrics per version, quality-gate verdicts,
// drift and DLQ panels, promote and rollback. The logic lives in experiments-lib.js; this file only
// builds elements, always through textContent.

import {
  confusionFromRows,
  curveData,
  formatDuration,
  formatNumber,
  lineageText,
  paramDiff,
  perClassMetrics,
  promoteOutcome,
  verdictsState,
} from '/web/experiments-lib.js';
import uPlot from '/web/vendor/uplot.esm.js';

const $ = (id) => document.getElementById(id);
// Per run: a solid colour; train is the thin line, val the thick one.
const RUN_COLORS = ['#3b5bdb', '#f08c00'];
// Run ids are UUIDs: the first 8 characters tell them apart on screen; the full id is the title.
const short = (runId) => (runId.length > 12 ? runId.slice(0, 8) : runId);

export function setupExperiments({ api, getJson, el, onModelsChanged }) {
  const state = { runs: [], selected: [], epochs: new Map(), charts: [], versions: [], verdicts: [], drawnKey: '' };
  let timer = null;

  async function jsonOrStatus(url, init) {
    const res = await api(url, { ...init, headers: { accept: 'application/json', ...(init?.headers ?? {}) } });
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    return { status: res.status, body };
  }

  const cell = (text, cls) => el('td', cls ? { class: cls, text } : { text });
  const time = (ms) => (ms ? new Date(ms).toLocaleString() : '–');

  // ---- runs -----------------------------------------------------------------------------------
  async function loadRuns() {
    try {
      state.runs = (await getJson('/v1/runs?limit=100')).runs;
    } catch (err) {
      $('runs-note').textContent = `runs unavailable (${err.message})`;
      return;
    }
    // Default comparison: the two newest runs that have epochs.
    if (state.selected.length === 0) {
      state.selected = state.runs
        .filter((r) => r.epochs > 0)
        .slice(0, 2)
        .map((r) => r.run_id);
    }
    $('runs-note').textContent = `${state.runs.length} newest first · tick two to compare`;
    renderRuns();
  }

  function renderRuns() {
    const rows = state.runs.map((r) => {
      const box = el('input', { type: 'checkbox', 'aria-label': `compare ${r.run_id}` });
      box.checked = state.selected.includes(r.run_id);
      box.addEventListener('change', () => toggleRun(r.run_id, box.checked));
      const model = r.model_version ? `${r.model_version}${r.promoted ? ' · promoted' : ''}` : '–';
      const tr = el('tr', { 'data-run': r.run_id }, [
        el('td', {}, [box]),
        el('td', { class: 'mono', title: r.run_id, text: short(r.run_id) }),
        el('td', {}, [el('span', { class: `badge ${statusTone(r.status)}`, text: r.status })]),
        cell(r.trigger),
        cell(time(r.started_at_ms)),
        cell(formatDuration(r.duration_ms), 'num'),
        cell(lineageText(r.lineage), 'mono small'),
        cell(`${r.train_samples}/${r.val_samples}/${r.test_samples}`, 'num'),
        cell(String(r.epochs), 'num'),
        cell(formatNumber(r.val_loss), 'num'),
        cell(formatNumber(r.val_accuracy), 'num'),
        cell(formatNumber(r.test_accuracy), 'num'),
        cell(model, 'mono'),
        cell(paramsText(r.params), 'small'),
      ]);
      if (r.error) tr.title = r.error;
      return tr;
    });
    $('runs').replaceChildren(
      ...(rows.length
        ? rows
        : [el('tr', { class: 'empty' }, [el('td', { colspan: '14', text: 'no training runs yet' })])]),
    );
  }

  function toggleRun(runId, on) {
    state.selected = state.selected.filter((id) => id !== runId);
    if (on) state.selected.push(runId);
    // Two runs at most: the newest tick replaces the oldest.
    while (state.selected.length > 2) state.selected.shift();
    renderRuns();
    void drawCurves(true);
  }

  // ---- curves and parameter diff ------------------------------------------------------------------
  async function epochsOf(runId) {
    const body = await getJson(`/v1/runs/${encodeURIComponent(runId)}/epochs`);
    state.epochs.set(runId, body.epochs);
    return body.epochs;
  }

  async function drawCurves(force = false) {
    const runs = [];
    for (const id of state.selected) {
      try {
        runs.push({ run_id: id, epochs: await epochsOf(id) });
      } catch {
        // A run deleted meanwhile: leave it out.
      }
    }
    const key = runs.map((r) => `${r.run_id}:${r.epochs.length}`).join(',');
    if (!force && key === state.drawnKey) return;
    state.drawnKey = key;
    for (const c of state.charts) c.destroy();
    state.charts = [];
    const points = runs.reduce((s, r) => s + r.epochs.length, 0);
    $('curves-note').textContent = runs.length
      ? `${runs.map((r) => short(r.run_id)).join(' vs ')} · ${points} points`
      : 'no run with epochs selected';
    for (const [id, field, title] of [
      ['chart-loss', 'loss', 'loss'],
      ['chart-acc', 'accuracy', 'accuracy'],
    ]) {
      const box = $(id);
      box.replaceChildren();
      const data = curveData(
        runs.map((r) => ({ ...r, run_id: short(r.run_id) })),
        field,
      );
      box.dataset.points = String(data.series.reduce((s, x) => s + x.values.filter((v) => v !== null).length, 0));
      if (data.x.length === 0) {
        box.append(el('p', { class: 'meta', text: 'no epochs yet' }));
        continue;
      }
      const width = Math.max(320, Math.floor(box.clientWidth || 520));
      const opts = {
        title,
        width,
        height: 220,
        scales: { x: { time: false } },
        legend: { live: false },
        // Whole epochs only on the x axis.
        axes: [{ label: 'epoch', incrs: [1, 2, 5, 10, 20, 50] }, {}],
        series: [
          { label: 'epoch' },
          ...data.series.map((s, i) => ({
            label: s.label,
            stroke: RUN_COLORS[Math.floor(i / 2) % RUN_COLORS.length],
            width: i % 2 ? 2.5 : 1.2,
            dash: i % 2 ? undefined : [6, 4],
            points: { show: true, size: 5 },
            value: (_u, v) => formatNumber(v, 4),
          })),
        ],
      };
      state.charts.push(new uPlot(opts, [data.x, ...data.series.map((s) => s.values)], box));
    }
    renderParamDiff();
  }

  function renderParamDiff() {
    const [a, b] = state.selected.map((id) => state.runs.find((r) => r.run_id === id)).filter(Boolean);
    const head = $('param-diff-head');
    const body = $('param-diff');
    if (!a) {
      head.replaceChildren();
      body.replaceChildren();
      return;
    }
    head.replaceChildren(
      el('tr', {}, [
        el('th', { text: 'parameter' }),
        el('th', { text: a.run_id }),
        el('th', { text: b?.run_id ?? '' }),
      ]),
    );
    const withRange = (r) => (r ? { ...r.params, data_range: lineageText(r.lineage), samples: r.train_samples } : {});
    const rows = paramDiff(withRange(a), withRange(b)).map((d) =>
      el('tr', { class: b && !d.same ? 'diff' : '' }, [
        cell(d.name, 'mono'),
        cell(d.a === null ? '–' : String(d.a), 'mono'),
        cell(b ? (d.b === null ? '–' : String(d.b)) : '', 'mono'),
      ]),
    );
    body.replaceChildren(...rows);
  }

  // ---- versions, lineage, promote / rollback --------------------------------------------------------
  async function loadVersions() {
    let models;
    try {
      models = await getJson('/v1/models');
    } catch (err) {
      $('versions-note').textContent = `models unavailable (${err.message})`;
      return;
    }
    state.versions = models.versions;
    const latestVerdict = new Map();
    // Verdicts come newest first: the first one per version is its latest.
    for (const v of state.verdicts) if (!latestVerdict.has(v.version)) latestVerdict.set(v.version, v);
    const rows = [...models.versions].reverse().map((v) => {
      const run = state.runs.find((r) => r.run_id === v.run_id);
      const verdict = latestVerdict.get(v.version);
      const isProd = v.aliases.includes('production');
      const actions = el('td');
      if (!isProd) {
        const btn = el('button', { type: 'button', class: 'promote', 'data-version': v.version, text: 'Promote' });
        btn.addEventListener('click', () => adminCall('promote', '/v1/models/promote', { version: v.version }));
        actions.append(btn);
      }
      return el('tr', { 'data-version': v.version }, [
        cell(v.version, 'mono'),
        el(
          'td',
          {},
          v.aliases.map((a) => el('span', { class: `badge ${a === 'production' ? 'ok' : 'warn'}`, text: a })),
        ),
        cell(lineageText(run?.lineage), 'mono small'),
        el('td', { class: 'mono', title: v.run_id, text: v.run_id ? short(v.run_id) : '–' }),
        cell(time(v.created_at)),
        cell(formatNumber(run?.test_accuracy ?? v.metrics?.test_accuracy ?? v.metrics?.val_accuracy), 'num'),
        el('td', {}, verdict ? [el('span', { class: `badge ${verdict.tone}`, text: verdict.verdict })] : ['–']),
        actions,
      ]);
    });
    $('versions').replaceChildren(
      ...(rows.length
        ? rows
        : [el('tr', { class: 'empty' }, [el('td', { colspan: '8', text: 'no model versions yet' })])]),
    );
    $('versions-note').textContent =
      `production ${models.aliases.production ?? '–'} · serving ${models.loaded.production ?? '–'}`;
    fillVersionSelect(models.versions);
  }

  async function adminCall(action, url, body) {
    const out = $('admin-result');
    out.className = 'meta';
    out.textContent = `${action}…`;
    $('gate-refusal').replaceChildren();
    const { status, body: answer } = await jsonOrStatus(url, {
      method: 'POST',
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const result = promoteOutcome(action, status, answer);
    out.className = result.ok ? 'good' : 'error';
    out.textContent = result.message;
    if (!result.ok && (result.failed.length || result.reasons?.length)) {
      $('gate-refusal').replaceChildren(
        ...(result.reasons ?? []).map((r) => el('p', { class: 'error', text: r })),
        checksTable(result.failed),
      );
    }
    await Promise.all([loadVerdicts(), onModelsChanged?.()]);
    await loadVersions();
  }

  // ---- quality gate verdicts ----------------------------------------------------------------------
  async function loadVerdicts() {
    let status;
    let body;
    try {
      ({ status, body } = await jsonOrStatus('/v1/models/verdicts?limit=20'));
    } catch (err) {
      ({ status, body } = { status: 0, body: { message: err.message } });
    }
    const view = verdictsState(status, body);
    state.verdicts = view.state === 'list' ? view.verdicts : [];
    const box = $('verdicts');
    if (view.state !== 'list') {
      box.replaceChildren(el('p', { class: 'meta', id: 'verdicts-empty', text: view.note }));
      return;
    }
    box.replaceChildren(
      ...view.verdicts.map((v) =>
        el('div', { class: `verdict ${v.tone}` }, [
          el('div', { class: 'head' }, [
            el('span', { class: `badge ${v.tone}`, text: v.verdict }),
            el('span', { text: v.title }),
            el('span', { class: 'meta', text: v.at ? ` · ${new Date(v.at).toLocaleString()}` : '' }),
          ]),
          ...v.reasons.map((r) => el('p', { class: 'meta', text: r })),
          checksTable(v.checks),
        ]),
      ),
    );
  }

  function checksTable(checks) {
    if (!checks.length) return el('span');
    return el('table', { class: 'checks' }, [
      el('thead', {}, [
        el(
          'tr',
          {},
          ['check', 'passed', 'value', 'threshold'].map((t) => el('th', { text: t })),
        ),
      ]),
      el(
        'tbody',
        {},
        checks.map((c) =>
          el('tr', { class: c.passed ? '' : 'failed' }, [
            cell(c.name, 'mono'),
            cell(c.passed ? '✓' : '✗', c.passed ? 'good' : 'bad'),
            cell(c.value, 'num'),
            cell(c.threshold, 'num'),
          ]),
        ),
      ),
    ]);
  }

  // ---- confusion matrix and per-class metrics --------------------------------------------------------
  function fillVersionSelect(versions) {
    const select = $('confusion-version');
    const current = select.value;
    select.replaceChildren(
      ...[...versions]
        .reverse()
        .map((v) => el('option', { value: v.version, text: `${v.version} ${v.aliases.join(' ')}` })),
    );
    const prod = versions.find((v) => v.aliases.includes('production'));
    select.value = versions.some((v) => v.version === current)
      ? current
      : (prod?.version ?? versions.at(-1)?.version ?? '');
    if (select.value !== current) void loadConfusion();
  }

  async function loadConfusion() {
    const version = $('confusion-version').value;
    const source = $('confusion-source').value;
    const box = $('confusion');
    const note = $('confusion-note');
    if (!version) {
      box.replaceChildren(el('p', { class: 'meta', text: 'no model versions yet' }));
      return;
    }
    let cm = null;
    try {
      if (source === 'test') {
        const v = state.versions.find((x) => x.version === version);
        if (v?.run_id) cm = (await getJson(`/v1/runs/${encodeURIComponent(v.run_id)}`)).confusion;
        note.textContent = `the run\u2019s held-out ${cm?.split ?? 'test'} split (ClickHouse training_runs)`;
      } else {
        const { rows } = await getJson(`/v1/analytics/confusion_matrix?model=${encodeURIComponent(version)}&since=30d`);
        cm = rows.length ? confusionFromRows(rows) : null;
        note.textContent = 'labelled live predictions, last 30 days (ClickHouse predictions)';
      }
    } catch (err) {
      note.textContent = `unavailable (${err.message})`;
    }
    if (!cm || cm.labels.length === 0) {
      box.replaceChildren(el('p', { class: 'meta', text: 'no confusion matrix for this version' }));
      $('per-class').replaceChildren();
      return;
    }
    box.replaceChildren(confusionTable(cm));
    const m = perClassMetrics(cm.labels, cm.matrix);
    $('per-class').replaceChildren(
      el('thead', {}, [
        el(
          'tr',
          {},
          ['class', 'precision', 'recall', 'F1', 'support'].map((t) => el('th', { text: t })),
        ),
      ]),
      el('tbody', {}, [
        ...m.classes.map((c) =>
          el('tr', {}, [
            cell(c.label),
            cell(formatNumber(c.precision), 'num'),
            cell(formatNumber(c.recall), 'num'),
            cell(formatNumber(c.f1), 'num'),
            cell(String(c.support), 'num'),
          ]),
        ),
        el('tr', { class: 'total' }, [
          cell('accuracy'),
          cell(formatNumber(m.accuracy), 'num'),
          cell(''),
          cell(''),
          cell(String(m.total), 'num'),
        ]),
      ]),
    );
  }

  function confusionTable({ labels, matrix }) {
    const max = Math.max(1, ...matrix.flat());
    return el('table', { class: 'confusion', id: 'confusion-table' }, [
      el('thead', {}, [
        el('tr', {}, [
          el('th', { text: 'true \u2193 / predicted \u2192' }),
          ...labels.map((l) => el('th', { text: l })),
        ]),
      ]),
      el(
        'tbody',
        {},
        labels.map((l, i) =>
          el('tr', {}, [
            el('th', { text: l }),
            ...labels.map((_, j) => {
              const n = matrix[i]?.[j] ?? 0;
              const alpha = n ? 0.12 + (0.75 * n) / max : 0;
              const color = i === j ? `rgba(47, 158, 68, ${alpha})` : `rgba(224, 49, 49, ${alpha})`;
              return el('td', { class: 'num', text: String(n), style: { background: color } });
            }),
          ]),
        ),
      ),
    ]);
  }

  // ---- drift and DLQ -----------------------------------------------------------------------------
  async function loadDrift() {
    const body = $('drift');
    try {
      const { rows } = await getJson('/v1/analytics/drift?since=1h');
      body.replaceChildren(
        ...rows.map((r) =>
          el('tr', {}, [
            cell(r.feature, 'mono'),
            cell(formatNumber(r.psi), 'num'),
            cell(formatNumber(r.noise_floor), 'num'),
            el('td', {}, [el('span', { class: `badge ${driftTone(r.status)}`, text: r.status })]),
            cell(`${r.reference_count} / ${r.live_count}`, 'num'),
          ]),
        ),
      );
    } catch (err) {
      body.replaceChildren(el('tr', {}, [el('td', { colspan: '5', text: `drift unavailable (${err.message})` })]));
    }
  }

  async function loadDlq() {
    const box = $('dlq');
    try {
      const { rows } = await getJson('/v1/analytics/dlq_reasons?since=24h&bucket=1h');
      const totals = new Map();
      for (const r of rows) {
        const k = `${r.stage} · ${r.reason_code}`;
        totals.set(k, (totals.get(k) ?? 0) + Number(r.n));
      }
      const sorted = [...totals.entries()].sort((a, b) => b[1] - a[1]);
      const max = Math.max(1, ...sorted.map(([, n]) => n));
      box.replaceChildren(
        ...(sorted.length
          ? sorted.map(([k, n]) =>
              el('div', { class: 'bar' }, [
                el('span', { class: 'mono', text: k }),
                el('span', { class: 'track' }, [
                  el('span', { class: 'fill bad', style: { width: `${(100 * n) / max}%`, display: 'block' } }),
                ]),
                el('span', { class: 'pct', text: String(n) }),
              ]),
            )
          : [el('p', { class: 'meta', text: 'no rejected images in the last 24 hours' })]),
      );
    } catch (err) {
      box.replaceChildren(el('p', { class: 'meta', text: `DLQ unavailable (${err.message})` }));
    }
  }

  // ---- tabs and refresh ------------------------------------------------------------------------------
  async function refresh() {
    await loadRuns();
    await loadVerdicts();
    await loadVersions();
    await drawCurves();
    await Promise.all([loadDrift(), loadDlq()]);
  }

  function show() {
    const exp = location.hash === '#experiments';
    $('view-live').hidden = exp;
    $('view-experiments').hidden = !exp;
    $('tab-live').classList.toggle('active', !exp);
    $('tab-experiments').classList.toggle('active', exp);
    clearInterval(timer);
    timer = null;
    if (exp) {
      state.drawnKey = '';
      void refresh().then(loadConfusion);
      timer = setInterval(refresh, 10_000);
    }
  }

  $('rollback-btn').addEventListener('click', () => adminCall('rollback', '/v1/models/rollback'));
  $('confusion-version').addEventListener('change', loadConfusion);
  $('confusion-source').addEventListener('change', loadConfusion);
  window.addEventListener('hashchange', show);
  show();
}

function statusTone(status) {
  return { succeeded: 'ok', running: 'warn', failed: 'err', aborted: 'err' }[status] ?? 'muted';
}

function driftTone(status) {
  return { stable: 'ok', moderate: 'warn', significant: 'err' }[status] ?? 'muted';
}

function paramsText(params) {
  return Object.entries(params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
