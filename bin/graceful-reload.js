#!/usr/bin/env node
// graceful-reload's command-line tool: the action's own bundle (dist/index.cjs),
// marked to run as the CLI. See `graceful-reload --help`.
globalThis[Symbol.for('graceful-reload.cli')] = true;
await import('../dist/index.cjs');
