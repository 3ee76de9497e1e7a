// The experiment view's quality panels: confusion matrix and per-class metrics of a chosen version
// (from its run's held-out split or from labelled live predictions), feature drift, and DLQ reasons.

import { $, cellMaker } from '/web/experiments-dom.js';
import { confusionFromRows, formatNumber, perClassMetrics } from '/web/experiments-lib.js';

/** Reads `state.versions` (the models panel loads them). */
export function createQualityPanels({ getJson, el, state }) {
  const cell = cellMaker(el);

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

  return { fillVersionSelect, loadConfusion, loadDrift, loadDlq };
}

function driftTone(status) {
  return { stable: 'ok', moderate: 'warn', significant: 'err' }[status] ?? 'muted';
}
