// The demo's report: read back from ClickHouse what the pipeline did, so the numbers are the ones
// a user's own queries would give (FINAL everywhere: redeliveries never count twice).
import type { ClickHouseAdapter } from '../../lib/adapters/clickhouse/client.ts';

export interface DemoReport {
  mode: 'quick' | 'full';
  wall_seconds: number;
  images: {
    sent: number;
    sent_via_rest: number;
    sent_corrupt: number;
    preprocessed: number;
    rejected: number;
    accounted_for: boolean;
  };
  rejected_by_reason: Record<string, number>;
  training_runs: Array<{
    run_id: string;
    trigger: string;
    status: string;
    model_version: string;
    promoted: boolean;
    train_samples: number;
    epochs: number;
    val_accuracy: number;
    test_accuracy: number;
    test_samples: number;
    duration_s: number;
  }>;
  models: { count: number; production: string | null; first_production: string | null };
  live_accuracy: Array<{
    model_version: string;
    predictions: number;
    accuracy: number;
    first_at: string;
    last_at: string;
  }>;
  live_accuracy_over_time: Array<{ minute: string; model_version: string; predictions: number; accuracy: number }>;
  predictions: { production: number; candidate_shadow: number; test_images_sent: number };
  throughput_per_second: { ingest: number; preprocess: number; predict: number };
  latency_ms: {
    upload_to_prediction: { p50: number; p90: number; p99: number };
    preprocess_per_image: { p50: number; p99: number };
    inference_batch: { p50: number; p99: number };
  };
  final_model: { version: string | null; test_accuracy: number | null; test_samples: number };
  next: Record<string, string>;
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

export async function buildReport(
  ch: ClickHouseAdapter,
  facts: {
    mode: 'quick' | 'full';
    startedAt: number;
    sent: number;
    sentViaRest: number;
    sentCorrupt: number;
    testImagesSent: number;
    firstProduction: string | null;
    production: string | null;
    baseUrl: string;
    prometheusUrl: string;
  },
): Promise<DemoReport> {
  const [img] = await ch.query<{ n: string; p: string }>(
    'SELECT count() AS n, quantile(0.5)(processing_ms) AS p FROM images FINAL',
  );
  const [pq] = await ch.query<{ p99: string }>('SELECT quantile(0.99)(processing_ms) AS p99 FROM images FINAL');
  const rejections = await ch.query<{ reason_code: string; n: string }>(
    "SELECT reason_code, count() AS n FROM rejections FINAL WHERE stage = 'preprocess' GROUP BY reason_code ORDER BY reason_code",
  );
  const rejected = rejections.reduce((s, r) => s + num(r.n), 0);
  const runs = await ch.query<Record<string, string | number>>(
    'SELECT run_id, trigger, status, model_version, promoted, train_samples, epochs, val_accuracy, test_accuracy, test_samples, duration_ms, started_at_ms FROM training_runs FINAL ORDER BY started_at_ms',
  );
  const live = await ch.query<{ model_version: string; n: string; acc: string; t0: string; t1: string }>(
    "SELECT model_version, count() AS n, avg(correct) AS acc, min(predicted_at_ms) AS t0, max(predicted_at_ms) AS t1 FROM predictions FINAL WHERE role = 'production' AND has_label = 1 GROUP BY model_version ORDER BY t0",
  );
  const overTime = await ch.query<{ minute: string; model_version: string; n: string; acc: string }>(
    "SELECT toString(toStartOfMinute(predicted_at)) AS minute, model_version, count() AS n, avg(correct) AS acc FROM predictions FINAL WHERE role = 'production' AND has_label = 1 GROUP BY minute, model_version ORDER BY minute, model_version",
  );
  const [pred] = await ch.query<{
    prod: string;
    cand: string;
    p50: string;
    p90: string;
    p99: string;
    i50: string;
    i99: string;
  }>(
    "SELECT countIf(role = 'production') AS prod, countIf(role = 'candidate') AS cand, " +
      "quantileIf(0.5)(latency_ms, role = 'production' AND origin = 'stream') AS p50, quantileIf(0.9)(latency_ms, role = 'production' AND origin = 'stream') AS p90, quantileIf(0.99)(latency_ms, role = 'production' AND origin = 'stream') AS p99, " +
      "quantileIf(0.5)(inference_ms, role = 'production') AS i50, quantileIf(0.99)(inference_ms, role = 'production') AS i99 FROM predictions FINAL",
  );
  // Peak sustained rate: the busiest 10-second window, since the demo idles between its steps.
  const peak = async (table: string, column: string, where = '1') => {
    const [row] = await ch.query<{ n: string }>(
      `SELECT max(c) AS n FROM (SELECT count() AS c FROM ${table} FINAL WHERE ${where} GROUP BY intDiv(${column}, 10000))`,
    );
    return Math.round(num(row?.n) / 10);
  };
  const last = runs.filter((r) => r.status === 'succeeded').at(-1);
  const preprocessed = num(img.n);
  const round = (v: number, d = 4) => Math.round(v * 10 ** d) / 10 ** d;
  return {
    mode: facts.mode,
    wall_seconds: Math.round((Date.now() - facts.startedAt) / 1000),
    images: {
      sent: facts.sent,
      sent_via_rest: facts.sentViaRest,
      sent_corrupt: facts.sentCorrupt,
      preprocessed,
      rejected,
      accounted_for: preprocessed + rejected === facts.sent,
    },
    rejected_by_reason: Object.fromEntries(rejections.map((r) => [r.reason_code, num(r.n)])),
    training_runs: runs.map((r) => ({
      run_id: String(r.run_id),
      trigger: String(r.trigger),
      status: String(r.status),
      model_version: String(r.model_version),
      promoted: num(r.promoted) === 1,
      train_samples: num(r.train_samples),
      epochs: num(r.epochs),
      val_accuracy: round(num(r.val_accuracy)),
      test_accuracy: round(num(r.test_accuracy)),
      test_samples: num(r.test_samples),
      duration_s: Math.round(num(r.duration_ms) / 100) / 10,
    })),
    models: {
      count: new Set(runs.map((r) => String(r.model_version)).filter(Boolean)).size,
      production: facts.production,
      first_production: facts.firstProduction,
    },
    live_accuracy: live.map((r) => ({
      model_version: r.model_version,
      predictions: num(r.n),
      accuracy: round(num(r.acc)),
      first_at: new Date(num(r.t0)).toISOString(),
      last_at: new Date(num(r.t1)).toISOString(),
    })),
    live_accuracy_over_time: overTime.map((r) => ({
      minute: r.minute,
      model_version: r.model_version,
      predictions: num(r.n),
      accuracy: round(num(r.acc)),
    })),
    predictions: {
      production: num(pred.prod),
      candidate_shadow: num(pred.cand),
      test_images_sent: facts.testImagesSent,
    },
    throughput_per_second: {
      ingest: await peak('images', 'ingested_at_ms'),
      preprocess: await peak('images', 'preprocessed_at_ms'),
      predict: await peak('predictions', 'predicted_at_ms', "role = 'production'"),
    },
    latency_ms: {
      upload_to_prediction: {
        p50: round(num(pred.p50), 1),
        p90: round(num(pred.p90), 1),
        p99: round(num(pred.p99), 1),
      },
      preprocess_per_image: { p50: round(num(img.p), 2), p99: round(num(pq.p99), 2) },
      inference_batch: { p50: round(num(pred.i50), 2), p99: round(num(pred.i99), 2) },
    },
    final_model: {
      version: last ? String(last.model_version) : null,
      test_accuracy: last ? round(num(last.test_accuracy)) : null,
      test_samples: last ? num(last.test_samples) : 0,
    },
    next: {
      web_page: `${facts.baseUrl}/`,
      swagger: `${facts.baseUrl}/docs`,
      prometheus: `${facts.prometheusUrl}/graph?g0.expr=rate(pixelflow_predictions_total[1m])`,
      accuracy_query: 'npx pixelflow query accuracy_over_time --since 1h',
      confusion_query: 'npx pixelflow query confusion_matrix --model production',
      raw_sql: `npx pixelflow query --sql "SELECT model_version, avg(correct) FROM predictions FINAL WHERE has_label GROUP BY model_version"`,
      own_data: 'npx pixelflow ingest ./my-images   # one sub-folder per class',
    },
  };
}

export function formatReport(r: DemoReport): string {
  const lines: string[] = [];
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  lines.push('', `pixelflow demo report (${r.mode}, ${r.wall_seconds} s)`, '');
  lines.push(
    `images   sent ${r.images.sent} (${r.images.sent_via_rest} via REST, ${r.images.sent_corrupt} corrupt on purpose)  preprocessed ${r.images.preprocessed}  rejected ${r.images.rejected}  ${r.images.accounted_for ? 'all accounted for' : 'NOT all accounted for'}`,
  );
  if (Object.keys(r.rejected_by_reason).length) {
    lines.push(
      `rejected ${Object.entries(r.rejected_by_reason)
        .map(([k, v]) => `${k}=${v}`)
        .join('  ')}`,
    );
  }
  lines.push('', 'training runs');
  lines.push('  version  trigger    status     samples epochs  val acc  test acc  promoted  seconds');
  for (const t of r.training_runs) {
    lines.push(
      `  ${t.model_version.padEnd(8)} ${t.trigger.padEnd(10)} ${t.status.padEnd(10)} ${String(t.train_samples).padStart(7)} ${String(t.epochs).padStart(6)}  ${pct(t.val_accuracy).padStart(7)}  ${(t.test_samples ? pct(t.test_accuracy) : '-').padStart(8)}  ${(t.promoted ? 'yes' : 'no').padEnd(8)}  ${String(t.duration_s).padStart(7)}`,
    );
  }
  lines.push('', 'live accuracy (production predictions with a known label)');
  for (const l of r.live_accuracy)
    lines.push(`  ${l.model_version.padEnd(8)} ${pct(l.accuracy).padStart(6)}  over ${l.predictions} predictions`);
  lines.push(
    '',
    `predictions  ${r.predictions.production} production (${r.predictions.test_images_sent} test images sent), ${r.predictions.candidate_shadow} shadow`,
    `peak rate    ingest ${r.throughput_per_second.ingest}/s  preprocess ${r.throughput_per_second.preprocess}/s  predict ${r.throughput_per_second.predict}/s`,
    `latency      upload → prediction p50 ${r.latency_ms.upload_to_prediction.p50} ms  p90 ${r.latency_ms.upload_to_prediction.p90} ms  p99 ${r.latency_ms.upload_to_prediction.p99} ms`,
    `             preprocess p50 ${r.latency_ms.preprocess_per_image.p50} ms/image   inference batch p50 ${r.latency_ms.inference_batch.p50} ms`,
    `final model  ${r.final_model.version ?? '-'}  test accuracy ${r.final_model.test_accuracy === null ? '-' : `${pct(r.final_model.test_accuracy)} on ${r.final_model.test_samples} test images`}`,
    '',
    'where to look next',
    ...Object.entries(r.next).map(([k, v]) => `  ${k.padEnd(16)} ${v}`),
    '',
  );
  return lines.join('\n');
}
