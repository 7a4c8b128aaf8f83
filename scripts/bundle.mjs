// Bundles src/index.ts into the single dist/index.js that action.yml runs.
// ssh2's optional native add-ons (cpu-features, sshcrypto.node) are replaced
// by a module that throws, so ssh2 takes its pure JavaScript path and the
// bundle runs with no node_modules.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

/**
 * An esbuild plugin that hands every import matching `filter` the module
 * `contents(path)` instead (resolved from the importer's directory).
 */
function standIn(namespace, filter, contents) {
  return {
    name: namespace,
    setup(builder) {
      builder.onResolve({ filter }, (args) => ({ path: args.path, namespace, pluginData: args.resolveDir }));
      builder.onLoad({ filter: /.*/, namespace }, (args) => ({ contents: contents(args.path), resolveDir: args.pluginData, loader: 'js' }));
    },
  };
}

const nativeAddons = standIn('no-native', /^cpu-features$|\.node$/, (path) => `throw new Error(${JSON.stringify(`native add-on ${path} is left out of the bundle`)});`);

// @actions/core imports its HTTP client (and with it undici) only for OIDC
// tokens, which this action never asks for; loading them cost about a third of
// the bundle's start-up. The stand-ins throw if anything ever does use them.
const noHttpClient = standIn('no-http-client', /^@actions\/http-client(\/lib\/auth)?$/, () =>
  ['HttpClient', 'BearerCredentialHandler']
    .map((name) => `export class ${name} { constructor() { throw new Error('@actions/http-client is left out of the graceful-reload bundle (no OIDC token is ever requested)'); } }`)
    .join('\n'),
);

// node-ssh takes only Client from ssh2, but ssh2's index also loads its
// server, key generator and HTTP agents, and with them Node's http, https and
// tls: about 20 ms of every start spent on code that never runs. The action
// gets ssh2's client module alone.
const ssh2ClientOnly = standIn('ssh2-client-only', /^ssh2$/, () => "module.exports = { Client: require('ssh2/lib/client.js') };");

// node-ssh creates local directories with make-dir (and make-dir checks
// Node's version with semver) only when it downloads files, which this action
// never does; loading them cost about 7 ms of every start.
const noMakeDir = standIn('no-make-dir', /^make-dir$/, () => "export default function makeDir() { throw new Error('make-dir is left out of the graceful-reload bundle (no file is ever downloaded)'); }");

// `node scripts/bundle.mjs <file>` writes elsewhere, so a test can compare a fresh build with dist/.
const outfile = process.argv[2] ?? 'dist/index.js';
if (outfile === 'dist/index.js') await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/index.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // CommonJS dependencies (ssh2) call require() for Node built-ins.
  banner: {
    js: [
      "import { createRequire as __createRequire } from 'node:module';",
      "import { fileURLToPath as __fileURLToPath } from 'node:url';",
      "import { dirname as __pathDirname } from 'node:path';",
      'const require = __createRequire(import.meta.url);',
      'const __filename = __fileURLToPath(import.meta.url);',
      'const __dirname = __pathDirname(__filename);',
    ].join(' '),
  },
  // The PHP programs that run on hosts live in src/remote/*.php and are inlined as text, as is action.yml (the CLI's options).
  loader: { '.php': 'text', '.yml': 'text' },
  plugins: [nativeAddons, noHttpClient, ssh2ClientOnly, noMakeDir],
  legalComments: 'none',
  logLevel: 'warning',
});
