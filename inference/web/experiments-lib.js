// The experiment view's logic without the DOM: parameter diffs, per-class metrics, lineage text,
// quality-gate verdicts and promote outcomes. Pure functions, so test/unit/inference/web-experiments
// checks them in Node; experiments.js only turns their results into elements.

/** Every parameter of two runs, side by side, the ones that differ first. */
export function paramDiff(a = {}, b = {}) {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const rows = names.map((name) => {
    const va = name in a ? a[name] : null;
    const vb = name in b ? b[name] : null;
    return { name, a: va, b: vb, same: String(va) === String(vb) };
  });
  return [...rows.filter((r) => !r.same), ...rows.filter((r) => r.same)];
}

/**
 * Precision, recall, F1 and support per class from a confusion matrix (rows: true label,
 * columns: predicted). A class never predicted has precision null, never seen has recall null.
 */
export function perClassMetrics(labels, matrix) {
  const n = labels.length;
  let total = 0;
  let correct = 0;
  const classes = labels.map((label, i) => {
    const row = matrix[i] ?? [];
    const support = row.reduce((s, v) => s + (v ?? 0), 0);
    let predicted = 0;
    for (let r = 0; r < n; r++) predicted += matrix[r]?.[i] ?? 0;
    const tp = row[i] ?? 0;
    total += support;
    correct += tp;
    const precision = predicted ? tp / predicted : null;
    const recall = support ? tp / support : null;
    const f1 =
      precision !== null && recall !== null && precision + recall > 0
        ? (2 * precision * recall) / (precision + recall)
        : null;
    return { label, support, predicted, precision, recall, f1 };
  });
  return { classes, total, accuracy: total ? correct / total : null };
}

/** A confusion matrix from the analytics confusion_matrix rows ({label, predicted_label, n}). */
export function confusionFromRows(rows) {
  const labels = [...new Set(rows.flatMap((r) => [r.label, r.predicted_label]))].sort();
  const index = new Map(labels.map((l, i) => [l, i]));
  const matrix = labels.map(() => labels.map(() => 0));
  for (const r of rows) matrix[index.get(r.label)][index.get(r.predicted_label)] += Number(r.n);
  return { labels, matrix };
}

/** "images.preprocessed.v1 p0 0–159, p1 0–80" — the offsets a run read, per topic. */
export function lineageText(lineage) {
  if (!lineage || lineage.length === 0) return '–';
  const byTopic = new Map();
  for (const r of lineage) {
    if (!byTopic.has(r.topic)) byTopic.set(r.topic, []);
    byTopic.get(r.topic).push(`p${r.partition} ${r.from_offset}–${r.to_offset}`);
  }
  return [...byTopic.entries()].map(([topic, parts]) => `${topic} ${parts.join(', ')}`).join('; ');
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

export function formatNumber(v, digits = 3) {
  return v === null || v === undefined || !Number.isFinite(Number(v)) ? '–' : Number(v).toFixed(digits);
}

const VERDICT_TONE = { passed: 'ok', refused: 'err', forced: 'warn' };

function checkLine(c) {
  const value = typeof c.value === 'number' ? formatNumber(c.value, 4) : String(c.value ?? '–');
  const threshold = typeof c.threshold === 'number' ? formatNumber(c.threshold, 4) : String(c.threshold ?? '–');
  return { name: String(c.name), passed: Boolean(c.passed), value, threshold };
}

/**
 * One quality-gate verdict as the view shows it: a tone, a headline, the reasons and the checks
 * (failed first). Follows the gate's contract: { version, verdict: passed|refused|forced, reasons,
 * checks: [{ name, passed, value, threshold }], candidate, production, actor, reason, evaluated_at }.
 */
export function verdictView(v) {
  const verdict = String(v.verdict ?? 'unknown');
  const checks = (Array.isArray(v.checks) ? v.checks : []).map(checkLine);
  const failed = checks.filter((c) => !c.passed);
  // GateVerdict (trainer/quality-gate.ts): production_version names the model it was judged
  // against; production and candidate hold their golden-set metrics.
  const against = v.production_version ? ` against ${v.production_version}` : '';
  let title = `${v.version ?? '?'} ${verdict}${against}`;
  if (verdict === 'forced') title += ` by ${v.actor || 'someone'}${v.reason ? `: ${v.reason}` : ''}`;
  return {
    version: String(v.version ?? ''),
    tone: VERDICT_TONE[verdict] ?? 'muted',
    verdict,
    title,
    reasons: (Array.isArray(v.reasons) ? v.reasons : []).map(String),
    checks: [...failed, ...checks.filter((c) => c.passed)],
    failed,
    at: v.evaluated_at ?? null,
  };
}

/**
 * What GET /v1/models/verdicts answered, as a list or the "no verdicts" state: a 404 (no gate
 * mounted) or an empty list both mean nothing has been judged yet.
 */
export function verdictsState(status, body) {
  if (status === 404) return { state: 'none', note: 'no quality gate on this server: no verdicts' };
  if (status < 200 || status >= 300)
    return { state: 'error', note: `verdicts unavailable (${body?.message ?? `HTTP ${status}`})` };
  const list = Array.isArray(body?.verdicts) ? body.verdicts : [];
  if (list.length === 0) return { state: 'none', note: 'no verdicts yet' };
  return { state: 'list', verdicts: list.map(verdictView) };
}

/**
 * The answer to a promote or rollback click, for the user: a gate refusal (409 GATE_REFUSED) shows
 * the gate's message and the checks that failed; a missing admin key says so; anything else its
 * message.
 */
export function promoteOutcome(action, status, body) {
  if (status >= 200 && status < 300) {
    const moved = (body?.changes ?? []).map((c) => `${c.version} → ${(c.aliases ?? []).join(', ') || 'no alias'}`);
    return {
      ok: true,
      tone: 'ok',
      message: `${action} done${moved.length ? `: ${moved.join('; ')}` : ''}`,
      failed: [],
    };
  }
  if (status === 409 && body?.error === 'GATE_REFUSED') {
    const view = body.verdict ? verdictView(body.verdict) : null;
    return {
      ok: false,
      tone: 'err',
      // The reasons are listed under the message, so the message only names the version.
      message: view
        ? `quality gate refused ${view.version}`
        : `quality gate refused: ${body.message ?? 'the candidate did not pass'}`,
      failed: view ? view.failed : [],
      reasons: view ? view.reasons : [],
    };
  }
  if (status === 403) return { ok: false, tone: 'err', message: `${action} needs an admin key`, failed: [] };
  return { ok: false, tone: 'err', message: `${action} failed: ${body?.message ?? `HTTP ${status}`}`, failed: [] };
}

/** uPlot data for the curves of up to two runs: x = epoch, one series per run and curve. */
export function curveData(runs, field) {
  const epochs = [...new Set(runs.flatMap((r) => r.epochs.map((e) => e.epoch)))].sort((a, b) => a - b);
  const series = [];
  for (const r of runs) {
    for (const [key, label] of [
      [field, 'train'],
      [`val_${field}`, 'val'],
    ]) {
      const byEpoch = new Map(r.epochs.map((e) => [e.epoch, e[key]]));
      series.push({ label: `${r.run_id} ${label}`, values: epochs.map((x) => byEpoch.get(x) ?? null) });
    }
  }
  return { x: epochs, series };
}
