import { afterEach, describe, expect, it, vi } from 'vitest';
import { benchArgs } from '../../../bench/harness.ts';
import { flagValue, parseFlags, parsers } from '../../../lib/core/args.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

/** How bench/clickhouse-insert.ts reads its arguments. */
const read = (argv: string[]) => {
  const { values } = parseFlags(argv, { quick: { type: 'boolean' }, rows: { type: 'string' } });
  return { rows: flagValue(values.rows, '--rows', parsers.int(1, 100_000_000), values.quick ? 12_000 : 48_000) };
};

/** benchArgs with process.exit and stderr caught: what it printed and the status it exited with. */
function refused(argv: string[]): { status: unknown; err: string } {
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Error(`exit ${code}`);
  });
  expect(() => benchArgs('clickhouse-insert', read, argv)).toThrow(/^exit 2$/);
  return { status: exit.mock.calls[0]?.[0], err: err.mock.calls.map((c) => String(c[0])).join('') };
}

describe('benchArgs', () => {
  it('gives what the reader makes of the arguments', () => {
    expect(benchArgs('clickhouse-insert', read, [])).toEqual({ rows: 48_000 });
    expect(benchArgs('clickhouse-insert', read, ['--quick'])).toEqual({ rows: 12_000 });
    expect(benchArgs('clickhouse-insert', read, ['--rows=5000'])).toEqual({ rows: 5000 });
  });

  it.each([
    [['--rows', 'many'], "bench/clickhouse-insert.ts: --rows: expected an integer in 1..100000000, got 'many'\n"],
    [['--row', '5'], "bench/clickhouse-insert.ts: unknown flag '--row'; expected one of --quick, --rows\n"],
    [['5000'], "bench/clickhouse-insert.ts: unexpected argument '5000'; this command takes only flags\n"],
  ])('refuses %j with one line naming the flag and exit status 2', (argv, message) => {
    expect(refused(argv)).toEqual({ status: 2, err: message });
  });

  it('lets an error that is not about the arguments through', () => {
    const boom = new Error('boom');
    expect(() =>
      benchArgs('x', () => {
        throw boom;
      }),
    ).toThrow(boom);
  });
});
