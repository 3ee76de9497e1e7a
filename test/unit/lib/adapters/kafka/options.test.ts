import { describe, expect, it } from 'vitest';
import { resolveKafkaOptions } from '../../../../../lib/adapters/kafka/options.ts';
import { loadConfig } from '../../../../../lib/core/config.ts';
import { isPixelflowError } from '../../../../../lib/core/errors.ts';
import { kafkaOptions } from '../../../../../lib/runtime/context.ts';

describe('kafka adapter options', () => {
  it('resolveKafkaOptions applies the documented defaults and freezes the result', () => {
    const s = resolveKafkaOptions({ brokers: ['b:9092'], clientId: 'c' });
    expect(s).toMatchObject({
      retries: 8,
      acks: 'all',
      adminTimeoutMs: 10_000,
      readIdleTimeoutMs: 30_000,
      reconnectMaxMs: 30_000,
    });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('resolveKafkaOptions refuses an empty broker list and a non-positive deadline, naming the option', () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err;
      }
      throw new Error('expected a refusal');
    };
    const empty = refusal(() => resolveKafkaOptions({ brokers: [], clientId: 'c' }));
    expect(isPixelflowError(empty, 'CONFIG_INVALID')).toBe(true);
    expect((empty as Error).message).toMatch(/brokers/);
    const zero = refusal(() => resolveKafkaOptions({ brokers: ['b:9092'], clientId: 'c', adminTimeoutMs: 0 }));
    expect(isPixelflowError(zero, 'CONFIG_INVALID')).toBe(true);
    expect((zero as Error).message).toMatch(/adminTimeoutMs/);
  });

  it('the client defaults to kafkajs, and an unknown one is refused naming the choices', () => {
    expect(resolveKafkaOptions({ brokers: ['b:9092'], clientId: 'c' }).client).toBe('kafkajs');
    expect(resolveKafkaOptions({ brokers: ['b:9092'], clientId: 'c', client: 'platformatic' }).client).toBe(
      'platformatic',
    );
    expect(() => resolveKafkaOptions({ brokers: ['b:9092'], clientId: 'c', client: 'rdkafka' as 'kafkajs' })).toThrow(
      /client must be one of kafkajs, platformatic, hybrid, got "rdkafka"/,
    );
  });

  it('PIXELFLOW_KAFKA_CLIENT picks the client; a bad value fails config with the choices', () => {
    expect(loadConfig({}).kafkaClient).toBe('kafkajs');
    expect(loadConfig({ PIXELFLOW_KAFKA_CLIENT: 'platformatic' }).kafkaClient).toBe('platformatic');
    expect(kafkaOptions(loadConfig({ PIXELFLOW_KAFKA_CLIENT: 'platformatic' })).client).toBe('platformatic');
    expect(kafkaOptions(loadConfig({ PIXELFLOW_KAFKA_CLIENT: 'hybrid' })).client).toBe('hybrid');
    expect(() => loadConfig({ PIXELFLOW_KAFKA_CLIENT: 'librdkafka' })).toThrow(
      /PIXELFLOW_KAFKA_CLIENT: expected one of kafkajs, platformatic, hybrid/,
    );
  });
});
