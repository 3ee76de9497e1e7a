// Start-up waits for a dependency: retried while the error is retriable, until the deadline.
import { describe, expect, it } from 'vitest';
import { PixelflowError } from '../../../../lib/core/errors.ts';
import { waitForDependency } from '../../../../lib/runtime/context.ts';

function recorder() {
  const lines: string[] = [];
  return { lines, log: { warn: (m: string) => lines.push(`warn ${m}`), info: (m: string) => lines.push(`info ${m}`) } };
}
const down = () => new PixelflowError('KAFKA_UNAVAILABLE', 'cannot reach Kafka at k:9092', { canRetry: true });
const noSleep = async () => {};

describe('waitForDependency', () => {
  it('retries a retriable failure, noting the wait once when it starts and once when it ends', async () => {
    const { lines, log } = recorder();
    let calls = 0;
    const value = await waitForDependency(
      'Kafka',
      'k:9092',
      Date.now() + 60_000,
      log,
      async () => {
        if (++calls < 4) throw down();
        return 'ok';
      },
      noSleep,
    );
    expect(value).toBe('ok');
    expect(calls).toBe(4);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^warn Kafka at k:9092 is not reachable \(cannot reach Kafka at k:9092\); waiting up to \d+ s/,
    );
    expect(lines[1]).toMatch(/^info Kafka at k:9092 is reachable after [\d.]+ s of waiting/);
  });

  it('fails at once on an error that retrying cannot fix', async () => {
    const { lines, log } = recorder();
    let calls = 0;
    const refused = new PixelflowError('KAFKA_AUTH_FAILED', 'the broker refused the SASL login');
    await expect(
      waitForDependency(
        'Kafka',
        'k',
        Date.now() + 60_000,
        log,
        async () => {
          calls++;
          throw refused;
        },
        noSleep,
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect(lines).toEqual([]);
  });

  it('gives up with the last error once the deadline has passed; a past deadline means no wait', async () => {
    const { log } = recorder();
    let calls = 0;
    await expect(
      waitForDependency(
        'Kafka',
        'k',
        Date.now() - 1,
        log,
        async () => {
          calls++;
          throw down();
        },
        noSleep,
      ),
    ).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    expect(calls).toBe(1);
  });
});
