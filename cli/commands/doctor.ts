// Checks that the configured services answer, one line each; the exit code says whether all do.

import { createClickHouseAdapter } from '../../lib/adapters/clickhouse/client.ts';
import { createClickHouseReader } from '../../lib/adapters/clickhouse/reader.ts';
import { createKafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import { parseFlags } from '../../lib/core/args.ts';
import { loadConfig } from '../../lib/core/config.ts';
import { describeKafkaSecurity, kafkaSecurityFromConfig } from '../../lib/core/connection-security.ts';
import { describeError, isPixelflowError } from '../../lib/core/errors.ts';
import type { Command } from '../command.ts';

async function check(name: string, where: string, probe: () => Promise<string>): Promise<boolean> {
  try {
    const detail = await probe();
    console.log(`ok    ${name.padEnd(11)} ${where}  ${detail}`);
    return true;
  } catch (err) {
    console.log(
      `FAIL  ${name.padEnd(11)} ${where}  ${isPixelflowError(err) ? `${err.code}: ` : ''}${describeError(err)}`,
    );
    return false;
  }
}

export const command: Command = {
  summary: 'check that Kafka, ClickHouse and Prometheus answer at the configured endpoints',
  usage: 'pixelflow doctor',
  async run(args) {
    parseFlags(args, {});
    const config = loadConfig();
    const results = await Promise.all([
      check('kafka', config.kafkaBrokers.join(','), async () => {
        const security = kafkaSecurityFromConfig(config);
        const kafka = createKafkaAdapter({
          brokers: config.kafkaBrokers,
          clientId: 'pixelflow-doctor',
          retries: 1,
          security,
        });
        try {
          return `${(await kafka.listTopics()).length} topics (${describeKafkaSecurity(security)})`;
        } finally {
          await kafka.close();
        }
      }),
      check('clickhouse', config.clickhouseUrl, async () => {
        const ch = await createClickHouseAdapter({
          url: config.clickhouseUrl,
          database: config.clickhouseDatabase,
          username: config.clickhouseUser,
          password: config.clickhousePassword,
          requestTimeoutMs: 5000,
        });
        try {
          const [row] = await ch.query<{ v: string }>('SELECT version() AS v');
          return `version ${row.v}`;
        } finally {
          await ch.close();
        }
      }),
      check('ch-reader', config.clickhouseUrl, async () => {
        // Analytics and `query --sql` connect as this user; a wrong password shows here first.
        const ch = await createClickHouseReader(config, { requestTimeoutMs: 5000 });
        try {
          await ch.query('SELECT 1 AS ok', { readonly: true });
          return config.clickhouseReaderUser
            ? `read-only user ${config.clickhouseReaderUser} on ${config.clickhouseDatabase}`
            : `no CLICKHOUSE_READER_USER: analytics read as ${config.clickhouseUser} with readonly=1`;
        } finally {
          await ch.close();
        }
      }),
      check('prometheus', config.prometheusUrl, async () => {
        const res = await fetch(`${config.prometheusUrl}/-/ready`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return 'ready';
      }),
    ]);
    return results.every(Boolean) ? 0 : 1;
  },
};
