import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildUsersXml } from '../../../infra/stack/clickhouse-users.ts';

const PACKAGED = `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default><max_memory_usage>10000000000</max_memory_usage></default>
        <!-- </profiles> in a comment must not matter: the last closing tag is used -->
    </profiles>
    <users>
        <default><password></password><profile>default</profile><quota>default</quota></default>
    </users>
    <quotas><default></default></quotas>
</yandex>`;
const reader = {
  name: 'pixelflow_reader',
  password: 'pw',
  databases: ['pixelflow'],
  maxResultRows: 10,
  maxExecutionSeconds: 5,
};

describe('buildUsersXml', () => {
  it('adds a readonly=1 profile and a user confined to its databases, keeping the packaged ones', () => {
    const xml = buildUsersXml(PACKAGED, reader);
    const profiles = xml.slice(xml.indexOf('<profiles>'), xml.lastIndexOf('</profiles>'));
    expect(profiles).toMatch(/<pixelflow_reader>\s*<readonly>1<\/readonly>/);
    expect(profiles).toContain('<enable_debug_queries>1</enable_debug_queries>');
    const users = xml.slice(xml.indexOf('<users>'), xml.indexOf('</users>'));
    expect(users).toContain('<default><password></password>');
    expect(users).toContain('<allow_databases><database>pixelflow</database></allow_databases>');
    expect(users).toContain(
      `<password_sha256_hex>${createHash('sha256').update('pw').digest('hex')}</password_sha256_hex>`,
    );
    expect(xml).not.toContain('>pw<');
  });

  it('works on the packaged users.xml of this machine', () => {
    const xml = buildUsersXml(readFileSync('/etc/clickhouse-server/users.xml', 'utf8'), reader);
    expect(xml.match(/<pixelflow_reader>/g)).toHaveLength(2);
  });

  it('refuses an empty database list (which ClickHouse reads as every database) and odd names', () => {
    expect(() => buildUsersXml(PACKAGED, { ...reader, databases: [] })).toThrow(/needs a database/);
    expect(() => buildUsersXml(PACKAGED, { ...reader, databases: ['a</database>'] })).toThrow(
      /not a plain ClickHouse name/,
    );
  });
});
