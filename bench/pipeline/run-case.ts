// One case of bench/pipeline: the open-loop generator (its own process) posts one image per request
// at a fixed rate; each 202's ids are followed through the observer until every prediction and row
// showed up or the drain time ran out; the result is the timelines and what they say.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { waitUntil } from '../../lib/core/wait.ts';
import type { OpenLoopResponse } from '../open-loop-load.ts';
import type { UploadBody } from './fixtures.ts';
import type { Observer } from './observer.ts';
import { type Breakdown, breakdown, latencyTrend, notSustainedBecause, slowestStage, type Timeline } from './stats.ts';

const GENERATOR = resolve(import.meta.dirname, '..', 'open-loop-load.ts');

export interface CaseSpec {
  format: UploadBody['format'];
  rate: number;
  seconds: number;
  training: boolean;
  /** Longest wait after the last answer for the remaining predictions and rows. */
  drainMs: number;
}

export interface CaseResult extends CaseSpec {
  sent: number;
  accepted: number;
  rejected: Record<string, number>;
  /** Accepted uploads without a prediction in the topic when the last request was answered. */
  backlogAtEnd: number;
  /** From the last request's due time until the last prediction arrived (or the drain gave up). */
  drainedMs: number;
  breakdown: Breakdown;
  trend: { first: number; last: number };
  slowestStage?: string;
  /** Why the rate was not sustained (stats.ts SUSTAIN_RULE), absent when it was. */
  failure?: string;
}

interface Answer {
  i: number;
  due: number;
  accepted: number;
  status: number;
  ids: string[];
}

/** Runs the generator with --each and hands each answer to `onAnswer` as it arrives. */
async function generate(
  url: string,
  spec: CaseSpec,
  body: UploadBody,
  onStart: (start: number) => void,
  onAnswer: (a: Answer) => void,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pf-bench-body-'));
  const file = join(dir, 'body');
  writeFileSync(file, body.body);
  try {
    const child = spawn(
      process.execPath,
      // tsx as a loader, not this process' execArgv: under vitest those are the test worker's.
      ['--import', 'tsx', GENERATOR, '--each', url, String(spec.rate), String(spec.seconds), body.contentType, file],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: resolve(import.meta.dirname, '..', '..') },
    );
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    for await (const line of createInterface({ input: child.stdout })) {
      const msg = JSON.parse(line) as Partial<OpenLoopResponse> & { start?: number; sent?: number };
      if (msg.start !== undefined) onStart(msg.start);
      else if (msg.i !== undefined) {
        let ids: string[] = [];
        if (msg.status === 202) ids = (JSON.parse(msg.body ?? '{}') as { ids?: string[] }).ids ?? [];
        onAnswer({ i: msg.i, due: msg.due!, accepted: msg.due! + msg.ms!, status: msg.status!, ids });
      }
    }
    const code = await exited;
    if (code !== 0) throw new Error(`open-loop-load.ts exited with ${code}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runCase(
  baseUrl: string,
  spec: CaseSpec,
  body: UploadBody,
  observer: Observer,
): Promise<CaseResult> {
  const total = Math.round(spec.rate * spec.seconds);
  const answered = new Uint8Array(total);
  let lowWater = 0;
  let start: number | undefined;
  const accepted = new Map<string, number>();
  const answers: Answer[] = [];
  const rejected: Record<string, number> = {};
  // ClickHouse's poll reads rows predicted since the oldest upload whose row is still unseen: the
  // oldest unanswered request's due time, or the oldest accepted one not yet in ClickHouse.
  const pendingRows = new Map<string, number>();
  const since = () => {
    if (start === undefined) return undefined;
    while (lowWater < total && answered[lowWater]) lowWater++;
    let from = lowWater < total ? start + (lowWater * 1000) / spec.rate : Number.POSITIVE_INFINITY;
    for (const [id, due] of pendingRows) {
      if (observer.get(id)?.inClickHouse !== undefined) pendingRows.delete(id);
      else from = Math.min(from, due);
    }
    return Number.isFinite(from) ? from : Date.now() - 1000;
  };
  observer.startPolling(since);
  await generate(
    `${baseUrl}/v1/images`,
    spec,
    body,
    (s) => {
      start = s;
    },
    (a) => {
      answered[a.i] = 1;
      answers.push(a);
      if (a.status !== 202) rejected[a.status] = (rejected[a.status] ?? 0) + 1;
      for (const id of a.ids) {
        accepted.set(id, a.due);
        pendingRows.set(id, a.due);
      }
    },
  );
  const ids = [...accepted.keys()];
  const backlogAtEnd = ids.filter((id) => observer.get(id)?.inTopic === undefined).length;
  const lastDue = (start ?? Date.now()) + ((total - 1) * 1000) / spec.rate;
  await waitUntil(
    () =>
      ids.every((id) => {
        const s = observer.get(id);
        return s?.inTopic !== undefined && s.inClickHouse !== undefined;
      }),
    { what: 'every prediction and row', timeoutMs: spec.drainMs, intervalMs: 50 },
  ).catch(() => {});
  const byId = new Map(answers.flatMap((a) => a.ids.map((id) => [id, a] as const)));
  const timelines: Timeline[] = ids.map((id) => {
    const a = byId.get(id)!;
    const s = observer.get(id) ?? {};
    return { id, due: a.due, accepted: a.accepted, ...s };
  });
  const lastSeen = Math.max(lastDue, ...timelines.map((t) => t.inTopic ?? 0));
  const b = breakdown(timelines);
  const trend = latencyTrend(timelines);
  const sent = total;
  const result: CaseResult = {
    ...spec,
    sent,
    accepted: ids.length,
    rejected,
    backlogAtEnd,
    drainedMs: lastSeen - lastDue,
    breakdown: b,
    trend,
    slowestStage: slowestStage(b),
  };
  const failure = notSustainedBecause({ offered: spec.rate, sent, accepted: ids.length, breakdown: b, trend });
  if (failure) result.failure = failure;
  return result;
}
