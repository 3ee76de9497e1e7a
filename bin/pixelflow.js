#!/usr/bin/env node
// The one CLI entry. TypeScript sources run through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
const code = await main(process.argv.slice(2));
// A finished command ends the process even if a client it used left a socket or timer behind
// (a failed set-up must not hang a terminal or a CI job). Long-running commands return only
// after their own orderly shutdown.
process.stdout.write('', () => process.exit(code));
