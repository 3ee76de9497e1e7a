import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONNECTION_VARS } from '../../../../lib/core/config/vars-connections.ts';
import { ML_VARS, PREDICT_SPLITS } from '../../../../lib/core/config/vars-ml.ts';
import { SERVING_VARS } from '../../../../lib/core/config/vars-serving.ts';
import { CONFIG_SPEC, describeConfig, loadConfig, parseEnvFile, REPO_ROOT } from '../../../../lib/core/config.ts';

const base = { PIXELFLOW_STATE_DIR: '/tmp/pixelflow-config-test-does-not-exist' };

describe('config', () => {
  it('loadConfig uses defaults and returns a frozen object', () => {
    const c = loadConfig(base);
    expect(c.kafkaBrokers).toEqual(['127.0.0.1:19092']);
    expect(c.httpPort).toBe(8080);
    expect(c.registryDir).toBe('/tmp/pixelflow-config-test-does-not-exist/models');
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    ['PIXELFLOW_HTTP_PORT', 'abc', /PIXELFLOW_HTTP_PORT: expected an integer in 0..65535, got 'abc'/],
    ['PIXELFLOW_HTTP_PORT', '70000', /PIXELFLOW_HTTP_PORT/],
    ['KAFKA_BROKERS', 'no-port', /KAFKA_BROKERS: expected a comma-separated list of host:port/],
    ['CLICKHOUSE_URL', 'ftp://x', /CLICKHOUSE_URL: expected an http\(s\) URL/],
    ['CLICKHOUSE_DATABASE', 'a;drop', /CLICKHOUSE_DATABASE/],
    [
      'PIXELFLOW_TF_BACKEND',
      'tpu',
      /PIXELFLOW_TF_BACKEND: expected one of auto, tensorflow-gpu, tensorflow, wasm, cpu/,
    ],
    ['PIXELFLOW_SHADOW', 'maybe', /PIXELFLOW_SHADOW: expected true or false/],
    [
      'PIXELFLOW_SPEC',
      'gray29',
      /^PIXELFLOW_SPEC: expected a preprocessing spec: gray28, rgb96, gray48, rgb96x64 \(or a version such as gray28@1\), got 'gray29'$/,
    ],
    [
      'PIXELFLOW_PREDICT_SPLITS',
      'test,unlabelled',
      /^PIXELFLOW_PREDICT_SPLITS: expected a comma-separated list of train, val, test, unlabeled, none, got 'test,unlabelled'$/,
    ],
  ])('loadConfig fails fast naming %s when it is %s', (name, value, message) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(message);
  });

  it('loadConfig refuses validation and test fractions that leave no room for training', () => {
    expect(() => loadConfig({ ...base, PIXELFLOW_VAL_FRACTION: '0.5', PIXELFLOW_TEST_FRACTION: '0.5' })).toThrow(
      'PIXELFLOW_VAL_FRACTION + PIXELFLOW_TEST_FRACTION: expected a sum below 1 (room for training), got 0.5 + 0.5',
    );
  });

  it('loadConfig takes a preprocessing spec by name or version, and predict splits from the Avro enum', () => {
    const c = loadConfig({ ...base, PIXELFLOW_SPEC: 'rgb96@1', PIXELFLOW_PREDICT_SPLITS: ' val , none ' });
    expect(c.spec).toBe('rgb96@1');
    expect(c.predictSplits).toEqual(['val', 'none']);
  });

  it('PREDICT_SPLITS are the Split symbols of the event schemas, and none', () => {
    const avsc = JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'avro', 'image-preprocessed.v3.avsc'), 'utf8'));
    // the Split enum, wherever the schema defines it
    const find = (node: unknown): string[] | undefined => {
      if (!node || typeof node !== 'object') return undefined;
      const n = node as { type?: unknown; name?: unknown; symbols?: string[] };
      if (n.type === 'enum' && n.name === 'Split') return n.symbols;
      for (const child of Object.values(node)) {
        const found = find(child);
        if (found) return found;
      }
      return undefined;
    };
    const symbols = find(avsc);
    expect(symbols).toBeDefined();
    expect([...PREDICT_SPLITS]).toEqual([...(symbols ?? []), 'none']);
  });

  it('every variable of the table is declared once: the parts by concern neither overlap nor repeat a name', () => {
    const parts = [CONNECTION_VARS, SERVING_VARS, ML_VARS].flatMap((p) => Object.keys(p));
    expect(parts.length).toBe(Object.keys(CONFIG_SPEC).length);
    const names = Object.values(CONFIG_SPEC).map((s) => s.env);
    expect(new Set(names).size).toBe(names.length);
  });

  it('parseEnvFile reads KEY=VALUE lines, ignoring comments and quotes', () => {
    expect(parseEnvFile('# c\nA=1\n B = "two" \n\nC=\n')).toEqual({ A: '1', B: 'two', C: '' });
  });

  it('describeConfig lists every variable with a doc line', () => {
    const rows = describeConfig();
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) expect(r.doc.length).toBeGreaterThan(3);
  });
});
