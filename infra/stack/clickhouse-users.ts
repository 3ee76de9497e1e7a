// users.xml for the local ClickHouse: the packaged file plus a read-only user for analytics and
// `pixelflow query --sql`. What confines that user is the server, not our code (checked on the
// packaged 18.16):
//   readonly=1          refuses writes, DDL, SET, and table functions (remote(), url(), file(),
//                       merge()), which would otherwise read around allow_databases. readonly=2
//                       would let it change settings, and with them use those table functions.
//   allow_databases     refuses every database not listed (Code 291), except `system`, which
//                       18.16 lets every user read; <databases> row filters do not exist in 18.16.
//                       lib/adapters/clickhouse/reader.ts refuses system tables from the server's parse tree.
// On a current server the same user is `CREATE USER … SETTINGS readonly = 1` with
// `GRANT SELECT ON <db>.* TO …` (README › Secured connections).
import { createHash } from 'node:crypto';
import { StackError } from './errors.ts';

export interface ReaderUser {
  name: string;
  password: string;
  /** The only databases it may read, besides `system`. */
  databases: string[];
  /** Server-side cap on one query's result (the profile's max_result_rows). */
  maxResultRows: number;
  /** Server-side deadline of one query, seconds. */
  maxExecutionSeconds: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function insertBefore(xml: string, closingTag: string, text: string): string {
  const at = xml.lastIndexOf(closingTag);
  if (at < 0) throw new StackError('STACK_CONFIG_INVALID', `users.xml has no ${closingTag}`);
  return `${xml.slice(0, at)}${text}${xml.slice(at)}`;
}

/** The packaged users.xml with the reader's profile and user added; everything else untouched. */
export function buildUsersXml(systemXml: string, reader: ReaderUser): string {
  // An empty allow_databases means every database.
  if (reader.databases.length === 0) throw new StackError('STACK_CONFIG_INVALID', 'the reader needs a database');
  for (const name of [reader.name, ...reader.databases]) {
    if (!NAME.test(name)) throw new StackError('STACK_CONFIG_INVALID', `'${name}' is not a plain ClickHouse name`);
  }
  const profile = `    <${reader.name}>
            <readonly>1</readonly>
            <!-- The server's parse tree (AST), which the reader's checks read; a readonly user cannot turn it on itself. -->
            <enable_debug_queries>1</enable_debug_queries>
            <max_result_rows>${reader.maxResultRows}</max_result_rows>
            <result_overflow_mode>break</result_overflow_mode>
            <max_execution_time>${reader.maxExecutionSeconds}</max_execution_time>
        </${reader.name}>
    `;
  const databases = reader.databases.map((d) => `<database>${d}</database>`).join('');
  const user = `    <${reader.name}>
            <password_sha256_hex>${createHash('sha256').update(reader.password).digest('hex')}</password_sha256_hex>
            <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
            <profile>${reader.name}</profile>
            <quota>default</quota>
            <allow_databases>${databases}</allow_databases>
        </${reader.name}>
    `;
  return insertBefore(insertBefore(systemXml, '</profiles>', profile), '</users>', user);
}
