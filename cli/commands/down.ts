import { parseFlags } from '../../lib/core/args.ts';
import type { Command } from '../command.ts';

export const command: Command = {
  summary: 'stop the local stack (--purge deletes its data)',
  usage: 'pixelflow down [--purge]',
  async run(args) {
    const { values } = parseFlags(args, { purge: { type: 'boolean', default: false } });
    const stack = await import('../../infra/stack/index.ts');
    await stack.down({ purge: values.purge, log: (line: string) => console.error(`  ${line}`) });
    console.log(values.purge ? 'pixelflow stack stopped; data deleted' : 'pixelflow stack stopped; data kept');
    return 0;
  },
};
