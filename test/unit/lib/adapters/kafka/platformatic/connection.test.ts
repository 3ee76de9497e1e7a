// The @platformatic/kafka side of the adapter's pure parts: the message mapping both ways, the
// connection settings, and a partitioner that puts every key where kafkajs (and Java) put it.
import type { Message } from '@platformatic/kafka';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { resolveKafkaOptions } from '../../../../../../lib/adapters/kafka/options.ts';
import {
  fromPlatformaticMessage,
  platformaticBaseOptions,
  toPlatformaticMessage,
} from '../../../../../../lib/adapters/kafka/platformatic/connection.ts';
import { javaCompatiblePartitioner } from '../../../../../../lib/adapters/kafka/platformatic/producer.ts';

describe('platformatic kafka mapping', () => {
  it('a key lands on the partition kafkajs picks, for every partition count', () => {
    const ours = javaCompatiblePartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 2, 3, 7, 12]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
        partitionId: i,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      for (let i = 0; i < 300; i++) {
        const key = `img-${i}-${'é'.repeat(i % 4)}`;
        const expected = theirs({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(ours(undefined, Buffer.from(key)) % partitions, `${key} of ${partitions}`).toBe(expected);
      }
    }
  });

  it('keyless records go round-robin', () => {
    const p = javaCompatiblePartitioner();
    expect([0, 1, 2, 3].map(() => p(undefined, undefined) % 3)).toEqual([0, 1, 2, 0]);
  });

  it('an outgoing record keeps key, headers, partition and timestamp; a null key is no key', () => {
    const m = toPlatformaticMessage('t', {
      key: 'id-1',
      value: Buffer.from('v'),
      headers: { a: 'x' },
      partition: 2,
      timestamp: 1700000000000,
    });
    expect(m.topic).toBe('t');
    expect(m.key?.toString()).toBe('id-1');
    expect([...(m.headers as Map<Buffer, Buffer>)].map(([k, v]) => [k.toString(), v.toString()])).toEqual([['a', 'x']]);
    expect(m.partition).toBe(2);
    expect(m.timestamp).toBe(1700000000000n);
    const bare = toPlatformaticMessage('t', { key: null, value: Buffer.from('v') });
    expect(bare.key).toBeUndefined();
    expect('partition' in bare || 'timestamp' in bare).toBe(false);
  });

  it('a fetched message gives numbers for offset and timestamp and strings for key and headers', () => {
    const fetched = {
      topic: 't',
      partition: 1,
      offset: 41n,
      timestamp: 1700000000000n,
      key: Buffer.from('id-1'),
      value: Buffer.from('v'),
      headers: new Map([[Buffer.from('a'), Buffer.from('x')]]),
    } as unknown as Message;
    expect(fromPlatformaticMessage(fetched)).toEqual({
      topic: 't',
      partition: 1,
      offset: 41,
      key: 'id-1',
      value: Buffer.from('v'),
      headers: { a: 'x' },
      timestamp: 1700000000000,
    });
    // An empty key is what the client gives for none.
    expect(fromPlatformaticMessage({ ...fetched, key: Buffer.alloc(0) } as Message).key).toBeNull();
  });

  it('SASL mechanisms and TLS are passed on as the client spells them', () => {
    const s = resolveKafkaOptions({
      brokers: ['b:9092'],
      clientId: 'c',
      security: {
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
        tls: { rejectUnauthorized: true, ca: 'PEM' },
      },
    });
    expect(platformaticBaseOptions(s)).toMatchObject({
      clientId: 'c',
      bootstrapBrokers: ['b:9092'],
      retries: 8,
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
      tls: { rejectUnauthorized: true, ca: 'PEM' },
    });
    expect(platformaticBaseOptions(resolveKafkaOptions({ brokers: ['b:9092'], clientId: 'c' }))).not.toHaveProperty(
      'sasl',
    );
  });
});
