// Which vitest command lines run the whole fault suite (and so may rewrite docs/reliability.md).
import { describe, expect, it } from 'vitest';
import { fileFilters } from '../../faults/global-setup.ts';

describe('fault suite file filters', () => {
  it('a bare run of the project has none', () => {
    expect(fileFilters(['node', 'vitest', 'run', '--project', 'faults'])).toEqual([]);
    expect(fileFilters(['node', 'vitest', 'run', '--project=faults', '--reporter', 'verbose'])).toEqual([]);
  });

  it('positional arguments after run are filters, values of flags are not', () => {
    expect(fileFilters(['node', 'vitest', 'run', '--project', 'faults', 'leader-kill'])).toEqual(['leader-kill']);
    expect(fileFilters(['node', 'vitest', 'run', 'a', '-t', 'kill', 'b', '--bail', '1'])).toEqual(['a', 'b']);
  });

  it('a command line without run has none', () => {
    expect(fileFilters(['node', 'vitest'])).toEqual([]);
  });
});
