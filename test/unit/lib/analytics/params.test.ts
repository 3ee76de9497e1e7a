import { describe, expect, it } from 'vitest';
import { MAX_PARAM_LENGTH, PARAM_NAMES, paramDocs, parseParams, parseTime } from '../../../../lib/analytics/params.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ALL = PARAM_NAMES;

function parse(raw: Record<string, unknown>, accepted = ALL) {
  return parseParams(raw, accepted, {}, NOW);
}

function badRequest(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toMatchObject({ code: 'BAD_REQUEST' });
    return (err as Error).message;
  }
  throw new Error('expected a BAD_REQUEST');
}

describe('parseParams', () => {
  it('parseParams applies the defaults when nothing is given', () => {
    const p = parse({});
    expect(p.until).toEqual(NOW);
    expect(p.since).toEqual(new Date(NOW.getTime() - 24 * 3600_000));
    expect(p).toMatchObject({
      bucket: 300,
      limit: 1000,
      run: 'latest',
      bins: 10,
      model: undefined,
      against: undefined,
    });
  });

  it('parseParams uses per-query defaults over the global ones', () => {
    const p = parseParams({}, ['since', 'model'], { since: '1h', model: 'production' }, NOW);
    expect(p.since).toEqual(new Date(NOW.getTime() - 3600_000));
    expect(p.model).toEqual({ kind: 'alias', alias: 'production' });
  });

  it.each([
    ['30s', 30_000],
    ['15m', 15 * 60_000],
    ['1h', 3600_000],
    ['7d', 7 * 86400_000],
    ['2w', 14 * 86400_000],
  ])('parseTime reads relative time %s', (value, ms) => {
    expect(parseTime('since', value, NOW).getTime()).toBe(NOW.getTime() - ms);
  });

  it.each([
    ['2025-05-31', '2025-05-31T00:00:00.000Z'],
    ['2025-05-31T10:15', '2025-05-31T10:15:00.000Z'],
    ['2025-05-31T10:15:30Z', '2025-05-31T10:15:30.000Z'],
    ['2025-05-31 10:15:30', '2025-05-31T10:15:30.000Z'],
    ['2025-05-31T10:15:30.250+02:00', '2025-05-31T08:15:30.250Z'],
  ])('parseTime reads ISO time %s as UTC unless a zone is given', (value, iso) => {
    expect(parseTime('since', value, NOW).toISOString()).toBe(iso);
  });

  it('parseParams reads model versions and aliases', () => {
    expect(parse({ model: 'v0002', against: 'candidate' })).toMatchObject({
      model: { kind: 'version', version: 'v0002' },
      against: { kind: 'alias', alias: 'candidate' },
    });
  });

  it('parseParams accepts bucket seconds and their short names from the allow-list', () => {
    expect(parse({ bucket: '60' }).bucket).toBe(60);
    expect(parse({ bucket: '1h' }).bucket).toBe(3600);
    expect(badRequest(() => parse({ bucket: '61' }))).toMatch(/bucket: expected one of 10, 60/);
  });

  it('parseParams refuses since at or after until', () => {
    expect(badRequest(() => parse({ since: '1h', until: '2h' }))).toMatch(/earlier than until/);
  });

  it('parseParams refuses a parameter the query does not take', () => {
    expect(badRequest(() => parseParams({ bins: '10' }, ['since'], {}, NOW))).toMatch(/bins: this query does not take/);
    expect(badRequest(() => parseParams({ 'since[]': '1h' }, ['since'], {}, NOW))).toMatch(/unknown parameter/);
  });

  it('parseParams refuses arrays, non-strings, empty and overlong values', () => {
    expect(badRequest(() => parse({ since: ['1h', '2h'] }))).toMatch(/since: give this parameter once/);
    expect(badRequest(() => parse({ limit: 5 }))).toMatch(/limit: expected a string/);
    expect(badRequest(() => parse({ model: { $ne: 1 } }))).toMatch(/model: expected a string/);
    expect(badRequest(() => parse({ run: '' }))).toMatch(/run: empty/);
    expect(badRequest(() => parse({ run: 'a'.repeat(MAX_PARAM_LENGTH + 1) }))).toMatch(/longer than/);
  });

  it.each([
    ['since', '0'],
    ['since', '1y'],
    ['since', '-1h'],
    ['since', '1970-01-01'],
    ['since', '2025-13-45'],
    ['until', 'yesterday'],
    ['model', 'v'],
    ['model', 'v1234567'],
    ['model', 'V0001'],
    ['model', 'latest'],
    ['limit', '0'],
    ['limit', '10001'],
    ['limit', '1e3'],
    ['limit', '12.5'],
    ['bins', '7'],
    ['run', '-starts-with-dash'],
    ['run', 'has space'],
  ])('parseParams refuses %s=%s', (name, value) => {
    expect(badRequest(() => parse({ [name]: value }))).toMatch(new RegExp(`^${name}:`));
  });

  const attacks = [
    "1h' OR '1'='1",
    "v0001'; DROP TABLE predictions; --",
    '1h; DROP TABLE images',
    '1h -- comment',
    '1h /* c */',
    "\\'",
    '1h\u0000',
    '1h\n',
    '１ｈ',
    'v٠١',
    'v0001\u202e',
    '🐱',
    'latest OR 1=1',
  ];
  it.each(PARAM_NAMES.flatMap((name) => attacks.map((a) => [name, a])))('parseParams refuses %s=%j', (name, value) => {
    badRequest(() => parse({ [name]: value }));
  });

  it('paramDocs describes each accepted parameter with its default and allowed values', () => {
    const docs = paramDocs(['bucket', 'model'], { model: 'production' });
    expect(docs[0]).toMatchObject({
      name: 'bucket',
      default: '300',
      allowed: ['10', '60', '300', '900', '3600', '21600', '86400'],
    });
    expect(docs[1]).toMatchObject({ name: 'model', type: 'model', default: 'production' });
  });
});
