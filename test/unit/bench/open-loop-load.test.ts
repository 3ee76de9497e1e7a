import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { quantile, runOpenLoop } from '../../../bench/open-loop-load.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A local HTTP server whose first answer takes `stallMs`, every other one none. */
async function stallingServer(stallMs: number): Promise<string> {
  let first = true;
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const delay = first ? stallMs : 0;
      first = false;
      if (delay === 0) return res.end('ok');
      // Hold the whole process, as a synchronous kernel or a GC pause would.
      const until = Date.now() + delay;
      while (Date.now() < until);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`;
}

describe('quantile', () => {
  it('quantile returns the nearest-rank value when given sorted samples', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(xs, 0.5)).toBe(50);
    expect(quantile(xs, 0.99)).toBe(99);
    expect(quantile(xs, 1)).toBe(100);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('runOpenLoop', () => {
  it('runOpenLoop charges a stall to every request that was due during it when the server blocks', async () => {
    const url = await stallingServer(200);
    const r = await runOpenLoop({ url, rate: 100, seconds: 1, contentType: 'text/plain', body: Buffer.from('x') });
    expect(r.sent).toBe(100);
    expect(r.ok).toBe(100);
    expect(r.errors + r.non2xx).toBe(0);
    // A closed-loop client would see one slow answer; due-time latency sees the ~20 requests that
    // were due during the 200 ms stall wait, the earliest for nearly all of it.
    const held = r.latencies.filter((ms) => ms > 50).length;
    expect(held).toBeGreaterThanOrEqual(10);
    expect(quantile(r.latencies, 1)).toBeGreaterThanOrEqual(150);
    expect(quantile(r.latencies, 0.5)).toBeLessThan(50);
  });

  it('runOpenLoop keeps the asked rate when the server answers quickly', async () => {
    const url = await stallingServer(0);
    const started = performance.now();
    const r = await runOpenLoop({ url, rate: 200, seconds: 1, contentType: 'text/plain', body: Buffer.from('x') });
    const seconds = (performance.now() - started) / 1000;
    expect(r.ok).toBe(200);
    expect(seconds).toBeGreaterThan(0.95);
    expect(seconds).toBeLessThan(2);
  });

  it('runOpenLoop reports each answer with its index, due time and body when given onResponse', async () => {
    const url = await stallingServer(0);
    const answers: Array<{ i: number; due: number; status: number; body: string }> = [];
    let start = 0;
    const r = await runOpenLoop({
      url,
      rate: 50,
      seconds: 0.2,
      contentType: 'text/plain',
      body: Buffer.from('x'),
      onStart: (s) => {
        start = s;
      },
      onResponse: (a) => answers.push(a),
    });
    expect(r.ok).toBe(10);
    expect(answers.map((a) => a.i).sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    expect(answers.every((a) => a.status === 200 && a.body === 'ok')).toBe(true);
    // Request i is due at start + i / rate, on the epoch clock.
    for (const a of answers) expect(a.due).toBeCloseTo(start + a.i * 20, 0);
    expect(Math.abs(start - Date.now())).toBeLessThan(5000);
  });
});
