import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tlsFiles } from '../../../cli/commands/serve.ts';

describe('serve TLS files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pf-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tlsFiles is undefined without either file and reads both when given', () => {
    expect(tlsFiles({ tlsCert: '', tlsKey: '' })).toBeUndefined();
    writeFileSync(join(dir, 'c.pem'), 'CERT');
    writeFileSync(join(dir, 'k.pem'), 'KEY');
    const got = tlsFiles({ tlsCert: join(dir, 'c.pem'), tlsKey: join(dir, 'k.pem') });
    expect(got?.cert.toString()).toBe('CERT');
    expect(got?.key.toString()).toBe('KEY');
  });

  it('tlsFiles refuses one file without the other and names an unreadable file', () => {
    expect(() => tlsFiles({ tlsCert: join(dir, 'c.pem'), tlsKey: '' })).toThrow(/go together; only the certificate/);
    expect(() => tlsFiles({ tlsCert: join(dir, 'missing.pem'), tlsKey: join(dir, 'k.pem') })).toThrow(
      /PIXELFLOW_TLS_CERT: cannot read .*missing\.pem/,
    );
  });
});
