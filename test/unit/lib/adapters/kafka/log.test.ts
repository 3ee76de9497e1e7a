import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isOutageLine, kafkaLogLevel } from '../../../../../lib/adapters/kafka/log.ts';

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

  it('kafkaLogLevel demotes a starting broker that has no group coordinator yet', () => {
    expect(
      kafkaLogLevel(
        logLevel.ERROR,
        'Response GroupCoordinator(key: 10, version: 2)',
        'The group coordinator is not available',
      ),
    ).toBe('debug');
  });

  it('kafkaLogLevel passes warnings through and sends info and debug to debug', () => {
    expect(kafkaLogLevel(logLevel.WARN, 'x')).toBe('warn');
    expect(kafkaLogLevel(logLevel.INFO, 'x')).toBe('debug');
    expect(kafkaLogLevel(logLevel.DEBUG, 'x')).toBe('debug');
  });
});

describe('isOutageLine', () => {
  it('isOutageLine recognises the lines kafkajs logs per retry while a broker is down', () => {
    expect(isOutageLine('Connection error: connect ECONNREFUSED 127.0.0.1:9092', 'connect ECONNREFUSED')).toBe(true);
    expect(isOutageLine('Failed to connect to seed broker, trying another broker from the list: x')).toBe(true);
    expect(isOutageLine('Crash: KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED')).toBe(true);
    expect(isOutageLine('Request Fetch(key: 1, version: 11) timed out')).toBe(true);
    // A consumer joining while its broker is killed gives up on the coordinator before any connection error.
    expect(isOutageLine('Crash: KafkaJSGroupCoordinatorNotFound: Failed to find group coordinator', undefined)).toBe(
      true,
    );
  });

  it('isOutageLine leaves request-level errors of a reachable broker alone', () => {
    expect(
      isOutageLine(
        'Failed to send messages: This server is not the leader for that topic-partition',
        'This server is not the leader for that topic-partition',
      ),
    ).toBe(false);
    expect(isOutageLine('Offset out of range, resetting to default offset')).toBe(false);
    // A handler failing on ClickHouse is not a broker outage.
    expect(
      isOutageLine(
        'Crash: PixelflowError: ClickHouse unreachable during insert into predictions: connect ECONNREFUSED 127.0.0.1:18123',
      ),
    ).toBe(false);
  });
});
