import { describe, expect, it } from 'vitest';
import {
  flagValue,
  isUsageError,
  parseFlags,
  parsers,
  requiredFlag,
  USAGE_EXIT_CODE,
} from '../../../../lib/core/args.ts';
import { PixelflowError } from '../../../../lib/core/errors.ts';

const OPTIONS = { port: { type: 'string' }, purge: { type: 'boolean' } } as const;

/** The error fn throws, for assertions on its code and exact message. */
function thrown(fn: () => unknown): PixelflowError {
  try {
    fn();
  } catch (err) {
    return err as PixelflowError;
  }
  throw new Error('expected a throw');
}

describe('parseFlags', () => {
  it('parses flags and, when allowed, positionals', () => {
    expect(parseFlags(['--port', '80', '--purge'], OPTIONS).values).toEqual({ port: '80', purge: true });
    expect(parseFlags(['promote', 'v0001'], OPTIONS, { positionals: true }).positionals).toEqual(['promote', 'v0001']);
  });

  it.each([
    [['--colour', 'red'], "unknown flag '--colour'; expected one of --port, --purge"],
    [['-x'], "unknown flag '-x'; expected one of --port, --purge"],
    [['--port'], '--port: expected a value'],
    [['--port', '-1'], '--port: expected a value (one that starts with - is written --port=-…)'],
    [['--purge=yes'], '--purge: expected no value (it is a switch)'],
    [['extra'], "unexpected argument 'extra'; this command takes only flags"],
  ])('refuses %j as a usage error naming the flag: %s', (args, message) => {
    const err = thrown(() => parseFlags(args, OPTIONS));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message });
    expect(isUsageError(err)).toBe(true);
  });

  it('says so when a command takes no flags at all', () => {
    expect(thrown(() => parseFlags(['--verbose'], {})).message).toBe(
      "unknown flag '--verbose'; this command takes no flags",
    );
  });
});

describe('flagValue', () => {
  it('gives the fallback when the flag is absent and the parsed value when present', () => {
    expect(flagValue(undefined, '--port', parsers.int(0, 65535), 8080)).toBe(8080);
    expect(flagValue(undefined, '--port', parsers.int(0, 65535))).toBeUndefined();
    expect(flagValue('0', '--port', parsers.int(0, 65535), 8080)).toBe(0);
  });

  it.each([
    ['--port', 'abc', parsers.int(0, 65535), "--port: expected an integer in 0..65535, got 'abc'"],
    ['--port', '70000', parsers.int(0, 65535), "--port: expected an integer in 0..65535, got '70000'"],
    ['--rate', '-1', parsers.number(0, 1000), "--rate: expected a number in 0..1000, got '-1'"],
    ['--rate', '', parsers.number(0, 1000), "--rate: expected a number in 0..1000, got ''"],
    ['--format', 'xml', parsers.oneOf('table', 'json'), "--format: expected one of table, json, got 'xml'"],
    [
      '--sections',
      'raw,gpu',
      parsers.listOf('raw', 'rest'),
      "--sections: expected a comma-separated list of raw, rest, got 'raw,gpu'",
    ],
    ['--batches', '64,x', parsers.intList(1, 8192), "--batches: expected an integer in 1..8192, got 'x'"],
    [
      '--batches',
      ',',
      parsers.intList(1, 8192),
      "--batches: expected a comma-separated list of integers in 1..8192, got ','",
    ],
  ] as const)('%s %j is refused as a usage error: %s', (flag, raw, parse, message) => {
    const err = thrown(() => flagValue(raw, flag, parse as (raw: string, name: string) => unknown));
    // The parsers speak CONFIG_INVALID for variables; on a command line it is the request that is wrong.
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message });
  });

  it('lets an error that is not a refused value through as it is', () => {
    const boom = new Error('boom');
    expect(
      thrown(() =>
        flagValue('x', '--x', () => {
          throw boom;
        }),
      ),
    ).toBe(boom);
  });

  it('parses list flags into values', () => {
    expect(flagValue('64, 128', '--batches', parsers.intList(1, 8192))).toEqual([64, 128]);
    expect(flagValue('raw', '--sections', parsers.listOf('raw', 'rest'))).toEqual(['raw']);
  });
});

describe('usage errors', () => {
  it('are what a variable or the command line got wrong, and exit 2', () => {
    expect(USAGE_EXIT_CODE).toBe(2);
    expect(isUsageError(new PixelflowError('CONFIG_INVALID', 'x'))).toBe(true);
    expect(isUsageError(new PixelflowError('BAD_REQUEST', 'x'))).toBe(true);
    expect(isUsageError(new PixelflowError('KAFKA_UNAVAILABLE', 'x'))).toBe(false);
    expect(isUsageError(new Error('x'))).toBe(false);
  });

  it('requiredFlag names the missing flag and what it is for', () => {
    expect(requiredFlag('d', '--out', 'the folder to write into')).toBe('d');
    expect(thrown(() => requiredFlag(undefined, '--out', 'the folder to write into')).message).toBe(
      '--out: required (the folder to write into)',
    );
  });
});
