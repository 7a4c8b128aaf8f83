// Bundles src/index.ts into the single dist/index.cjs that action.yml runs.
// ssh2's optional native add-ons (cpu-features, sshcrypto.node) are replaced
// by a module that throws, so ssh2 takes its pure JavaScript path and the
// bundle runs with no node_modules.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';

/**
 * An esbuild plugin that hands every import matching `filter` the module
 * `contents(path)` instead (resolved from the importer's directory); with
 * `importer`, only the imports of the modules whose path matches it.
 */
function standIn(namespace, filter, contents, importer = /.*/) {
  return {
    name: namespace,
    setup(builder) {
      builder.onResolve({ filter }, (args) => (importer.test(args.importer) ? { path: args.path, namespace, pluginData: args.resolveDir } : undefined));
      builder.onLoad({ filter: /.*/, namespace }, (args) => ({ contents: contents(args.path), resolveDir: args.pluginData, loader: 'js' }));
    },
  };
}

const nativeAddons = standIn(
  'no-native',
  /^cpu-features$|\.node$/,
  (path) => `throw new Error(${JSON.stringify(`native add-on ${path} is left out of the bundle`)});`,
);

// @actions/core imports its HTTP client (and with it undici) only for OIDC
// tokens, which this action never asks for; loading them cost about a third of
// the bundle's start-up. The stand-ins throw if anything ever does use them.
const noHttpClient = standIn('no-http-client', /^@actions\/http-client(\/lib\/auth)?$/, () =>
  ['HttpClient', 'BearerCredentialHandler']
    .map(
      (name) =>
        `export class ${name} { constructor() { throw new Error('@actions/http-client is left out of the graceful-reload bundle (no OIDC token is ever requested)'); } }`,
    )
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
const noMakeDir = standIn(
  'no-make-dir',
  /^make-dir$/,
  () => "export default function makeDir() { throw new Error('make-dir is left out of the graceful-reload bundle (no file is ever downloaded)'); }",
);

// ssh2's agent module runs programs only for Windows agents (Pageant, Cygwin),
// yet loading child_process for it cost about 3 ms of every start. It gets
// the two functions it takes, loading child_process when first called.
const lazyChildProcess = standIn(
  'lazy-child-process',
  /^child_process$/,
  () => ['execFile', 'spawn'].map((name) => `exports.${name} = (...args) => require('node:child_process').${name}(...args);`).join('\n'),
  /ssh2\/lib\/agent\.js$/,
);

// node-ssh never asks ssh2 for SFTP (the action runs commands and rsync), yet
// ssh2's client loads its SFTP module (a fifth of ssh2) at start-up.
const noSftp = standIn(
  'no-sftp',
  /\/protocol\/SFTP\.js$/,
  () =>
    "module.exports = { SFTP: class SFTP { constructor() { throw new Error('SFTP is left out of the graceful-reload bundle (no file is ever transferred over SFTP)'); } } };",
);

// The CLI's --version reads package.json; the bundle gets its version alone,
// not the scripts and dependency lists, so a devDependency bump leaves dist/ as it was.
const { version } = createRequire(import.meta.url)('../package.json');
const versionOnly = standIn('version-only', /\/package\.json$/, () => `module.exports = { version: ${JSON.stringify(version)} };`, /src\/cli\/version\.ts$/);

/**
 * `specifier` bundled on its own and kept in the bundle as text, compiled the
 * first time it is used. V8 scans every function of a script before running
 * any of it, but skips through a string. The stand-in has the module's
 * exports by name (read here): as getters, for a module imported as an ES
 * module, which esbuild turns into property reads at each use; or, with
 * `takenAtLoad` (an importer that keeps the module's functions when it
 * loads), each function as one that compiles the module when first called.
 */
async function compiledOnFirstUse(specifier, { takenAtLoad = false } = {}) {
  const real = createRequire(import.meta.url)(specifier);
  const functions = takenAtLoad ? Object.keys(real).filter((name) => typeof real[name] === 'function') : [];
  const getters = Object.keys(real).filter((name) => !functions.includes(name));
  const alone = await build({
    entryPoints: [specifier],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    write: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const text = alone.outputFiles[0].text;
  const filter = new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
  return standIn(`${specifier}-on-first-use`, filter, () =>
    [
      `const text = ${JSON.stringify(text)};`,
      'let loaded;',
      'function load() {',
      '  if (loaded === undefined) {',
      '    const module = { exports: {} };',
      `    require('node:vm').runInThisContext('(function (exports, require, module) {' + text + '\\n})', { filename: ${JSON.stringify(`${specifier} (compiled on first use)`)} })(module.exports, require, module);`,
      '    loaded = module.exports;',
      '  }',
      '  return loaded;',
      '}',
      `for (const name of ${JSON.stringify(getters)}) Object.defineProperty(module.exports, name, { enumerable: true, get: () => load()[name] });`,
      `for (const name of ${JSON.stringify(functions)}) module.exports[name] = function (...args) { return load()[name].apply(this, args); };`,
    ].join('\n'),
  );
}

// The YAML parser is a fifth of the bundle, and only an inventory file and the
// command-line tool's options need it: compiling it at every start cost about 7 ms.
const yamlOnFirstUse = await compiledOnFirstUse('yaml');

// bcrypt-pbkdf (with tweetnacl) decrypts a private key that has a passphrase,
// and nothing else; ssh2 takes its pbkdf function when it loads.
const bcryptOnFirstUse = await compiledOnFirstUse('bcrypt-pbkdf', { takenAtLoad: true });

// `node scripts/bundle.mjs <file>` writes elsewhere, so a test can compare a fresh build with dist/.
const outfile = process.argv[2] ?? 'dist/index.cjs';
if (outfile === 'dist/index.cjs') await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/index.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node24',
  // CommonJS, though the sources and @actions/core are ES modules: Node sets
  // up an ES module's built-in imports as namespaces, reading every export of
  // fs and crypto (and with them fs/promises, readline and webcrypto), about
  // 6 ms of every start. The .cjs name keeps it CommonJS in a "type": "module" package.
  format: 'cjs',
  // The PHP and shell programs that run on hosts live in src/remote/ and are inlined as text, as is action.yml (the CLI's options).
  loader: { '.php': 'text', '.sh': 'text', '.yml': 'text' },
  plugins: [nativeAddons, noHttpClient, ssh2ClientOnly, noMakeDir, noSftp, lazyChildProcess, versionOnly, yamlOnFirstUse, bcryptOnFirstUse],
  legalComments: 'none',
  logLevel: 'warning',
});
