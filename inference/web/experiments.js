// The experiment view (#experiments): training runs with parameters, data ranges and outcome,
// epoch curves of two runs overlaid (uPlot) with their parameter diff, model versions with
// aliases and lineage, confusion matrix and per-class metrics per version, quality-gate verdicts,
// drift and DLQ panels, promote and rollback. The logic lives in experiments-lib.js; the panels in
// experiments-runs.js, experiments-models.js and experiments-panels.js build elements, always
// through textContent. This file holds their shared state, the tab switch and the refresh.

import { $ } from '/web/experiments-dom.js';
import { createModelsPanel } from '/web/experiments-models.js';
import { createQualityPanels } from '/web/experiments-panels.js';
import { createRunsPanel } from '/web/experiments-runs.js';

export function setupExperiments({ api, getJson, el, onModelsChanged }) {
  const state = { runs: [], selected: [], epochs: new Map(), charts: [], versions: [], verdicts: [], drawnKey: '' };
  let timer = null;

  const runs = createRunsPanel({ getJson, el, state });
  const quality = createQualityPanels({ getJson, el, state });
  const models = createModelsPanel({
    api,
    getJson,
    el,
    state,
    onVersions: quality.fillVersionSelect,
    onModelsChanged,
  });

  // Runs first: the versions table shows each version's run; verdicts before versions for their badges.
  async function refresh() {
    await runs.loadRuns();
    await models.loadVerdicts();
    await models.loadVersions();
    await runs.drawCurves();
    await Promise.all([quality.loadDrift(), quality.loadDlq()]);
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
      void refresh().then(quality.loadConfusion);
      timer = setInterval(refresh, 10_000);
    }
  }

  $('rollback-btn').addEventListener('click', models.rollback);
  $('confusion-version').addEventListener('change', quality.loadConfusion);
  $('confusion-source').addEventListener('change', quality.loadConfusion);
  window.addEventListener('hashchange', show);
  show();
}
