import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig, parseEnvFile } from '../../../lib/config.ts';

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
  ])('loadConfig fails fast naming %s when it is %s', (name, value, message) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(message);
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
