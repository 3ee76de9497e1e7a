// The experiment view's runs panel: training runs with parameters, data ranges and outcome (tick
// two to compare), their epoch curves overlaid with uPlot, and the parameter diff of the two.

import { $, cellMaker, short, time } from '/web/experiments-dom.js';
import { curveData, formatDuration, formatNumber, lineageText, paramDiff } from '/web/experiments-lib.js';
import uPlot from '/web/vendor/uplot.esm.js';

// Per run: a solid colour; train is the thin line, val the thick one.
const RUN_COLORS = ['#3b5bdb', '#f08c00'];

/** `state` is the view's shared state: runs, selected, epochs, charts, drawnKey are this panel's. */
export function createRunsPanel({ getJson, el, state }) {
  const cell = cellMaker(el);

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

  /** A classifier's test accuracy, or the task's own held-out score (PCK@0.05, mean IoU). */
  function heldOutScore(r) {
    const m = r.task_metrics ?? {};
    if (r.task === 'keypoints' && m.pck05 !== undefined) return `PCK ${formatNumber(m.pck05)}`;
    if (r.task === 'segmentation' && m.mean_iou !== undefined) return `IoU ${formatNumber(m.mean_iou)}`;
    return formatNumber(r.test_accuracy);
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
        cell(r.task && r.task !== 'classification' ? `${r.task} · ${r.trigger}` : r.trigger),
        cell(time(r.started_at_ms)),
        cell(formatDuration(r.duration_ms), 'num'),
        cell(lineageText(r.lineage), 'mono small'),
        cell(`${r.train_samples}/${r.val_samples}/${r.test_samples}`, 'num'),
        cell(String(r.epochs), 'num'),
        cell(formatNumber(r.val_loss), 'num'),
        cell(formatNumber(r.val_accuracy), 'num'),
        cell(heldOutScore(r), 'num'),
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

  return { loadRuns, drawCurves };
}

function statusTone(status) {
  return { succeeded: 'ok', running: 'warn', failed: 'err', aborted: 'err' }[status] ?? 'muted';
}

function paramsText(params) {
  return Object.entries(params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
