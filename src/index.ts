/**
 * The two entry points, in one bundle: the GitHub Action (`run`, from
 * src/action/) and the command-line tool (`runCli`, from src/cli/).
 *
 * action.yml runs `node dist/index.cjs`: the action. bin/graceful-reload.js
 * (the npm package's `graceful-reload` command) sets CLI_MARK on globalThis,
 * then loads the same dist/index.cjs: the CLI. That mark is the whole
 * coupling between the two files; nothing else chooses.
 *
 * Why one bundle and not dist/action.cjs beside dist/cli.cjs: esbuild splits
 * shared code into chunks only for ES modules, and the bundle is CommonJS for
 * its start-up time (see scripts/bundle.mjs). Two CommonJS bundles would each
 * carry the whole engine, SSH and rsync (about 1.2 MB each), doubling dist/
 * and the npm package, and the freshness checks (scripts/test.mjs and the
 * release workflow) would have two bundles to keep equal to the sources.
 */
import { run } from './action/main.js';
import { runCli } from './cli/main.js';

/** Set by bin/graceful-reload.js before it loads the bundle: run as the CLI. */
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
