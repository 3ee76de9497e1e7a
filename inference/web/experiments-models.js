// The experiment view's models panel: model versions with aliases, lineage and their latest
// quality-gate verdict, promote and rollback (a gate refusal shown with its reasons and checks),
// and the list of recent verdicts.

import { $, cellMaker, short, time } from '/web/experiments-dom.js';
import { formatNumber, lineageText, promoteOutcome, verdictsState } from '/web/experiments-lib.js';

/**
 * `state.versions` and `state.verdicts` are this panel's; it reads `state.runs`. `onVersions` gets
 * every loaded version list; `onModelsChanged` runs after a promote or rollback.
 */
export function createModelsPanel({ api, getJson, el, state, onVersions, onModelsChanged }) {
  const cell = cellMaker(el);

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
    onVersions(models.versions);
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

  return { loadVersions, loadVerdicts, rollback: () => adminCall('rollback', '/v1/models/rollback') };
}
