// Each scenario records one row; the suite's teardown renders the rows into docs/reliability.md
// (the full suite) or test/output/faults/reliability-short.md (the short run inside `npm test`).
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/core/config.ts';

export interface TopicCount {
  /** distinct ids of the images sent */
  distinct: number;
  /** every message in the topic (replays and poison included) */
  messages: number;
}

export interface FaultRow {
  scenario: string;
  sent: number;
  rawTopic: TopicCount;
  preprocessedTopic: TopicCount;
  /** rows in ClickHouse `images` after FINAL */
  images: number;
  /** production rows in ClickHouse `predictions` after FINAL */
  predictions: number;
  /** sent images missing from `images` or without a production prediction */
  lost: number;
  /** rows left over after FINAL beyond one per dedupe key, in both tables */
  duplicated: number;
  /** seconds from the fault until every image sent before its end had a prediction */
  recoverySeconds: number;
  /** what else the scenario showed (DLQ reasons, lag back to 0, run marked failed…) */
  note?: string;
}

/** The order of the table: the order the issue lists the faults in. */
export const SCENARIO_ORDER = [
  'kill -9 preprocess mid-stream',
  'kill -9 serve mid-batch',
  'kill -9 serve during a hot swap',
  'kill -9 trainer mid-epoch',
  'ClickHouse kill -9 and restart',
  'ClickHouse SIGSTOP 30 s',
  'Prometheus down',
  'poison bytes on every consumed topic',
  'single broker down 90 s',
  'kill -9 partition leader (3 brokers)',
];

export const resultsDir = join(REPO_ROOT, 'test', 'output', 'faults');
export const resultsFile = (mode: string) => join(resultsDir, `results-${mode}.jsonl`);

/** Appends the row (the worker's mode comes from PIXELFLOW_FAULTS_MODE) and prints it. */
export function recordRow(row: FaultRow): void {
  mkdirSync(resultsDir, { recursive: true });
  appendFileSync(resultsFile(process.env.PIXELFLOW_FAULTS_MODE ?? 'full'), `${JSON.stringify(row)}\n`);
  console.log(`fault row: ${formatRow(row)}`);
}

const topic = (t: TopicCount) => (t.messages === t.distinct ? `${t.distinct}` : `${t.distinct} (${t.messages} msgs)`);

function formatRow(r: FaultRow): string {
  return `| ${r.scenario} | ${r.sent} | ${topic(r.rawTopic)} | ${topic(r.preprocessedTopic)} | ${r.images} | ${r.predictions} | ${r.lost} | ${r.duplicated} | ${r.recoverySeconds.toFixed(1)} | ${r.note ?? ''} |`;
}

export function readRows(mode: string): FaultRow[] {
  let text = '';
  try {
    text = readFileSync(resultsFile(mode), 'utf8');
  } catch {
    return [];
  }
  const rows = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FaultRow);
  const rank = (s: string) => (SCENARIO_ORDER.includes(s) ? SCENARIO_ORDER.indexOf(s) : SCENARIO_ORDER.length);
  return rows.sort((a, b) => rank(a.scenario) - rank(b.scenario));
}

/** Scenarios with no row: they failed (a stuck consumer, a loss) or were not part of the run. */
function missing(rows: FaultRow[]): string {
  const absent = SCENARIO_ORDER.filter((s) => !rows.some((r) => r.scenario === s));
  return absent.length === 0
    ? ''
    : `\nNo row in this run (failed before it could count, or not run — see the test output): ${absent.join('; ')}.\n`;
}

export function renderReport(
  rows: FaultRow[],
  meta: { mode: string; when: string; seconds: number; load: string },
): string {
  return `# Reliability: the fault suite's results

Written by \`npm run test:faults\` (test/faults/) from its own measurements; do not edit by hand.
Last run: ${meta.when}, ${meta.mode} suite, ${meta.seconds.toFixed(0)} s, ${meta.load}.

Every scenario runs on a **private real stack** (its own Kafka, ClickHouse and Prometheus, own
state dir and ports, started with \`pixelflow up\` and removed with \`pixelflow down --purge\`),
under load: a producer streams real PNG images at a steady rate into images.raw; a real
\`pixelflow preprocess\` process writes images.preprocessed and ClickHouse \`images\`; a real
\`pixelflow serve\` process predicts every image from the stream into ClickHouse \`predictions\`.
The fault is injected while images flow; the scenario then waits (with a deadline) until every
image went end to end and both consumer groups are at lag 0, and counts.

- **in raw / preprocessed topic**: distinct ids of the images sent (every message, when more:
  at-least-once replays after a kill, poison records).
- **images / predictions**: rows in ClickHouse after \`FINAL\` (the tables' dedupe).
- **lost**: images sent and acknowledged by the broker that are missing from \`images\` or have
  no production prediction. Must be 0.
- **dup**: rows left over after \`FINAL\` beyond one per dedupe key (\`images\`: id;
  \`predictions\`: id, model version, role). Must be 0.
- **recovery s**: seconds from the fault until every image sent before the fault ended had a
  prediction in ClickHouse (includes the restart of a killed process).

| scenario | sent | in raw topic | in preprocessed topic | images | predictions | lost | dup | recovery s | also shown |
|---|---|---|---|---|---|---|---|---|---|
${rows.map(formatRow).join('\n')}
${missing(rows)}
## Re-run

\`\`\`
npm run test:faults           # the full suite; rewrites this file
npm run test:faults -- leader-kill   # some scenarios: writes test/output/faults/reliability-partial.md
PIXELFLOW_FAULTS_IMAGES=3000 PIXELFLOW_FAULTS_RATE=100 npm run test:faults   # more load
PIXELFLOW_FAULTS_PORTS=23000-23999 npm run test:faults   # keep the private stack in a port range
npm run test:soak             # 30 min soak (PIXELFLOW_SOAK_MINUTES to change)
\`\`\`

\`npm test\` runs a short version (a few scenarios, fewer images) and writes its table to
test/output/faults/reliability-short.md instead.
`;
}
