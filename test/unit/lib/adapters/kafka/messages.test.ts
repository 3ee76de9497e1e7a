import { describe, expect, it } from 'vitest';
import { toIncomingMessage, toKafkaMessage } from '../../../../../lib/adapters/kafka/messages.ts';

describe('kafka messages', () => {
  it('toIncomingMessage gives numbers for offset and timestamp and strings for key and headers', () => {
    const m = toIncomingMessage('t', 2, {
      key: Buffer.from('id-1'),
      value: Buffer.from('v'),
      offset: '41',
      timestamp: '1700000000000',
      attributes: 0,
      headers: { a: Buffer.from('x'), b: 'y', c: [Buffer.from('first'), 'second'], d: undefined },
    });
    expect(m).toEqual({
      topic: 't',
      partition: 2,
      offset: 41,
      key: 'id-1',
      value: Buffer.from('v'),
      headers: { a: 'x', b: 'y', c: 'first' },
      timestamp: 1_700_000_000_000,
    });
  });

  it('toIncomingMessage maps a missing key to null and keeps a tombstone value null', () => {
    const m = toIncomingMessage('t', 0, {
      key: null,
      value: null,
      offset: '0',
      timestamp: '1',
      attributes: 0,
      size: 0,
    });
    expect(m.key).toBeNull();
    expect(m.value).toBeNull();
    expect(m.headers).toEqual({});
  });

  it('toKafkaMessage puts the chosen partition on the record and the timestamp as kafkajs takes it', () => {
    expect(toKafkaMessage({ key: 'k', value: Buffer.from('v'), timestamp: 5, headers: { h: '1' } }, 3)).toEqual({
      key: 'k',
      value: Buffer.from('v'),
      headers: { h: '1' },
      partition: 3,
      timestamp: '5',
    });
    expect(toKafkaMessage({ key: null, value: Buffer.alloc(0) }, 0).timestamp).toBeUndefined();
  });
});
