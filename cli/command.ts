// What every `pixelflow <command>` module exports as `command`; cli/main.ts loads them on demand.
export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number | undefined>;
}
