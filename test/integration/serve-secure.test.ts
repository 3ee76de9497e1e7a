// `pixelflow serve` as a real process with scoped keys and a certificate (self-signed, made here
// with openssl): it speaks HTTPS only, every operation of its own OpenAPI document refuses a
// missing and a wrong key and lets the right one through, admin requests land in ClickHouse
// admin_audit with the key id, and no secret (configured or guessed) appears in its stdout/stderr
// at debug level or in any response body.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { childEnv, createTestContext, eventually } from '../helpers/context.ts';
import { freePorts } from '../helpers/ports.ts';

const secret = (tag: string) => `${tag}-${randomBytes(12).toString('hex')}`;
const SECRETS = { read: secret('rd'), write: secret('wr'), admin: secret('ad') };
const WRONG = secret('guess');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Answer {
  status: number;
  body: string;
}

describe('serve with keys and a certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pf-serve-secure-'));
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serve answers HTTPS only, enforces every route, audits admin requests and never logs a key', async () => {
    const ctx = await createTestContext('serve-secure');
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      '/usr/bin/openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const ca = readFileSync(cert);
    const [port] = await freePorts(1);
    const logs: string[] = [];
    child = spawn(
      process.execPath,
      [join(REPO_ROOT, 'bin/pixelflow.js'), 'serve', '--no-stream', '--host', '127.0.0.1', '--port', String(port)],
      {
        env: childEnv(ctx.config, {
          PIXELFLOW_STATE_DIR: join(dir, 'state'),
          PIXELFLOW_REGISTRY_DIR: join(dir, 'models'),
          PIXELFLOW_API_KEYS: [
            `reader:read:${SECRETS.read}`,
            `writer:write:${SECRETS.write}`,
            `boss:admin:sha256:${sha(SECRETS.admin)}`,
          ].join(','),
          PIXELFLOW_TLS_CERT: cert,
          PIXELFLOW_TLS_KEY: key,
          PIXELFLOW_INFERENCE_WORKER: 'false',
          LOG_LEVEL: 'debug',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (d) => logs.push(String(d)));
    child.stderr?.on('data', (d) => logs.push(String(d)));
    const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));

    const call = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
      new Promise<Answer>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path, method, headers, ca, timeout: 10_000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
        req.on('error', reject);
        req.end(body);
      });

    await eventually(async () => (await call('GET', '/health/live').catch(() => ({ status: 0 }))).status === 200, {
      timeoutMs: 90_000,
      what: `serve on https://127.0.0.1:${port} (log: ${logs.join('').slice(-2000)})`,
    });

    // Plain HTTP on the same port gets no answer from the app.
    const plain = await new Promise<number | string>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/health/live', timeout: 5000 }, (res) =>
        resolve(res.statusCode ?? 0),
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => resolve(err.message));
      req.end();
    });
    expect(plain === 400 || typeof plain === 'string').toBe(true);

    // Every operation of the document the process serves: missing and wrong key refused, right key passes.
    const doc = JSON.parse((await call('GET', '/docs/json', { 'x-api-key': SECRETS.read })).body);
    const bodies: string[] = [];
    const failures: string[] = [];
    let operations = 0;
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { 'x-scope': string }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const scope = op['x-scope'] as keyof typeof SECRETS | 'public';
        const url = path.replace('{name}', 'confusion_matrix').replace('{*}', 'index.html');
        const json = method === 'post' && /train|promote/.test(path);
        const payload = path.endsWith('/promote') ? JSON.stringify({ version: 'v9999' }) : json ? '{}' : undefined;
        const base: Record<string, string> = json ? { 'content-type': 'application/json' } : {};
        const send = (extra: Record<string, string>) => call(method.toUpperCase(), url, { ...base, ...extra }, payload);
        operations++;
        if (scope === 'public') {
          const a = await send({});
          bodies.push(a.body);
          if ([401, 403].includes(a.status)) failures.push(`${method} ${path} public but ${a.status}`);
          continue;
        }
        const none = await send({});
        const wrong = await send({ 'x-api-key': WRONG });
        const right = await send({ authorization: `Bearer ${SECRETS[scope]}` });
        bodies.push(none.body, wrong.body, right.body);
        if (none.status !== 401) failures.push(`${method} ${path} without key: ${none.status}`);
        if (wrong.status !== 401) failures.push(`${method} ${path} wrong key: ${wrong.status}`);
        if ([401, 403, 429].includes(right.status)) failures.push(`${method} ${path} ${scope} key: ${right.status}`);
      }
    }
    expect(failures).toEqual([]);
    expect(operations).toBeGreaterThanOrEqual(15);

    // Admin requests, allowed and refused, in ClickHouse with the key id and never the key.
    const rows = (await eventually(
      async () => {
        const r = await ctx.clickhouse.query<{ key_id: string; action: string; target: string; outcome: string }>(
          'SELECT key_id, action, target, outcome FROM admin_audit ORDER BY at_ms, action',
        );
        return r.length >= 12 ? r : undefined;
      },
      { timeoutMs: 30_000, what: 'admin_audit rows' },
    )) as Array<{ key_id: string; action: string; target: string; outcome: string }>;
    const seen = new Set(rows.map((r) => `${r.key_id} ${r.action} ${r.outcome}`));
    for (const action of ['train', 'promote', 'rollback', 'reload']) {
      expect(seen).toContain(`anonymous ${action} refused`);
      expect(seen).toContain(`invalid ${action} refused`);
      expect([...seen].some((s) => s.startsWith(`boss ${action} `) && !s.endsWith('refused'))).toBe(true);
    }
    expect(rows.find((r) => r.action === 'promote' && r.key_id === 'boss')?.target).toBe('v9999');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const all = logs.join('') + bodies.join('\n') + JSON.stringify(rows);
    expect(logs.join('').length).toBeGreaterThan(200);
    for (const s of [...Object.values(SECRETS), WRONG]) expect(all).not.toContain(s);
  });
});
