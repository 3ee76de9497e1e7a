// Command-line flags for cli/ and bench/: strict parsing on top of node:util parseArgs, and flag
// values checked by the parsers of the configuration table, so `--port abc` fails the way
// PIXELFLOW_HTTP_PORT=abc does: one line naming the flag, what it accepts and what it got. Both
// are usage errors, which the CLI and the bench scripts answer with exit status 2.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type Parser, parsers } from './config/parsers.ts';
import { type ErrorCode, isPixelflowError, PixelflowError } from './errors.ts';

export { type Parser, parsers };

/** Exit status of a command refused for how it was called: a bad flag, argument or variable. */
export const USAGE_EXIT_CODE = 2;

/** A variable (CONFIG_INVALID) or the command line (BAD_REQUEST) asked for something that cannot be. */
const USAGE_CODES: readonly ErrorCode[] = ['CONFIG_INVALID', 'BAD_REQUEST'];

export function isUsageError(err: unknown): err is PixelflowError {
  return isPixelflowError(err) && USAGE_CODES.includes(err.code);
}

export function usageError(message: string): PixelflowError {
  return new PixelflowError('BAD_REQUEST', message);
}

export type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, strict; a flag it does not know or a missing value is a usage error naming it. */
export function parseFlags<T extends FlagOptions>(
  args: readonly string[],
  options: T,
  { positionals = false }: { positionals?: boolean } = {},
) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw usageError(describeParseError(err as Error & { code?: string }, options));
  }
}

function describeParseError(err: Error & { code?: string }, options: FlagOptions): string {
  const flag = /'(--?[^' <]+)/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const known = Object.keys(options).map((name) => `--${name}`);
      return known.length
        ? `unknown flag '${flag}'; expected one of ${known.join(', ')}`
        : `unknown flag '${flag}'; this command takes no flags`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `${flag}: expected no value (it is a switch)`;
      if (/ambiguous/.test(err.message))
        return `${flag}: expected a value (one that starts with - is written ${flag}=-…)`;
      return `${flag}: expected a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'[^']*'/.exec(err.message)?.[0] ?? ''}; this command takes only flags`;
    default:
      return err.message;
  }
}

/**
 * The value of a flag: `raw` parsed by `parse` (one of `parsers`, or a CONFIG_SPEC entry's parse for
 * a flag that stands in for a variable), or `fallback` when the flag was not given.
 */
export function flagValue<T>(raw: string, flag: string, parse: Parser<T>): T;
export function flagValue<T>(raw: string | undefined, flag: string, parse: Parser<T>): T | undefined;
export function flagValue<T>(raw: string | undefined, flag: string, parse: Parser<T>, fallback: T): T;
export function flagValue<T>(raw: string | undefined, flag: string, parse: Parser<T>, fallback?: T): T | undefined {
  if (raw === undefined) return fallback;
  try {
    return parse(raw, flag);
  } catch (err) {
    // The parsers speak of variables (CONFIG_INVALID); on a command line it is the request that is wrong.
    throw isPixelflowError(err, 'CONFIG_INVALID') ? usageError(err.message) : err;
  }
}

/** A flag the command cannot do without. */
export function requiredFlag(raw: string | undefined, flag: string, what: string): string {
  if (raw === undefined || raw === '') throw usageError(`${flag}: required (${what})`);
  return raw;
}
