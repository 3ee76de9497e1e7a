import type { Command } from '../main.ts';

export const command: Command = {
  summary: 'show the local stack and its endpoints',
  usage: 'pixelflow status',
  async run() {
    const stack = await import('../../infra/stack/index.ts');
    const rows = await stack.status();
    for (const r of rows) {
      const state = r.running ? (r.healthy ? 'running' : 'running, not healthy') : 'stopped';
      console.log(`${r.service.padEnd(11)} ${state.padEnd(22)} ${r.endpoint}${r.pid ? `  (pid ${r.pid})` : ''}`);
    }
    return rows.every((r) => r.running && r.healthy) ? 0 : 1;
  },
};
