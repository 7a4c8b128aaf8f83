import { run } from './action/main.js';
import { runCli } from './cli/main.js';

/**
 * One bundle, two ways in: the runner starts it as the action (node
 * dist/index.cjs); bin/graceful-reload.js sets this mark first, and the same
 * code runs as the command-line tool.
 */
const CLI_MARK = Symbol.for('graceful-reload.cli');

if ((globalThis as Record<symbol, unknown>)[CLI_MARK] === true) {
  runCli(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
} else void run();
