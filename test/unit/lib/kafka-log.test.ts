import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaLogLevel } from '../../../lib/kafka.ts';

describe('kafkaLogLevel', () => {
  it('kafkaLogLevel keeps real kafkajs errors at error level', () => {
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Failed to send messages: This server is not the leader for that topic-partition',
        'This server is not the leader for that topic-partition',
      ),
    ).toBe('error');
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection error', 'connect ECONNREFUSED')).toBe('error');
  });

  it('kafkaLogLevel demotes the refusals a fresh topic gives while its leaders start when they are expected', () => {
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Response ListOffsets(key: 2, version: 3)',
        'This server is not the leader for that topic-partition',
      ),
    ).toBe('debug');
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Response Metadata(key: 3, version: 6)',
        'This server does not host this topic-partition',
      ),
    ).toBe('debug');
  });

  it('kafkaLogLevel passes warnings through and sends info and debug to debug', () => {
    expect(kafkaLogLevel(logLevel.WARN, 'x')).toBe('warn');
    expect(kafkaLogLevel(logLevel.INFO, 'x')).toBe('debug');
    expect(kafkaLogLevel(logLevel.DEBUG, 'x')).toBe('debug');
  });
});
