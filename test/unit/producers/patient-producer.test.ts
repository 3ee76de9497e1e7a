import { describe, expect, it } from 'vitest';
import type { OutgoingMessage, PixelflowProducer } from '../../../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../../../lib/core/errors.ts';
import { createPatientProducer } from '../../../producers/patient-producer.ts';

function flakyProducer(failures: number, err: () => Error) {
  const calls: number[] = [];
  const producer: PixelflowProducer = {
    async send(topic, messages: OutgoingMessage[]) {
      calls.push(messages.length);
      if (calls.length <= failures) throw err();
      return [{ topic, partition: 0, baseOffset: 0 }];
    },
    close: async () => {},
  };
  return { producer, calls };
}

const outage = () => new PixelflowError('KAFKA_UNAVAILABLE', 'connect ECONNREFUSED', { canRetry: true });

describe('createPatientProducer', () => {
  it('createPatientProducer resends on a growing backoff through an outage and resolves once the broker takes the batch', async () => {
    const { producer, calls } = flakyProducer(4, outage);
    let t = 0;
    const sleeps: number[] = [];
    const patient = createPatientProducer({
      producer,
      maxWaitMs: 60_000,
      backoff: { initialMs: 100, maxMs: 1000, jitter: 0 },
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    });
    const r = await patient.send('raw', [{ key: 'a', value: Buffer.from('x') }]);
    expect(r).toEqual([{ topic: 'raw', partition: 0, baseOffset: 0 }]);
    expect(calls).toEqual([1, 1, 1, 1, 1]);
    expect(sleeps).toEqual([100, 200, 400, 800]);
  });

  it('createPatientProducer fails with KAFKA_UNAVAILABLE naming --max-wait when the outage outlasts it', async () => {
    const { producer } = flakyProducer(1000, outage);
    let t = 0;
    const patient = createPatientProducer({
      producer,
      maxWaitMs: 3000,
      backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 },
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    });
    await expect(patient.send('raw', [{ key: 'a', value: Buffer.from('x') }])).rejects.toThrow(
      /did not take the images for 3 s \(the limit set by --max-wait\)/,
    );
  });

  it('createPatientProducer does not retry an error a retry cannot fix', async () => {
    const { producer, calls } = flakyProducer(1, () => new PixelflowError('TOO_LARGE', 'message too large'));
    const patient = createPatientProducer({ producer, maxWaitMs: 60_000, sleep: async () => {} });
    await expect(patient.send('raw', [{ key: 'a', value: Buffer.from('x') }])).rejects.toThrow('message too large');
    expect(calls.length).toBe(1);
  });
});
