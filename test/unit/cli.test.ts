import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { actionInputs, cliOptions, helpText, LIST_INPUTS, parseArguments, PATH_INPUTS, SECRET_INPUTS, UsageError } from '../../src/cli/options.js';
import { liveProgress, terminalText } from '../../src/cli/progress.js';
import { parseConfig, resolveInputs } from '../../src/cli/settings.js';
import { runCli } from '../../src/cli/main.js';

const actionYml = readFileSync(join(import.meta.dirname, '../../action.yml'), 'utf8');
const declared = (parse(actionYml) as { inputs: Record<string, { description: string; default?: string }> }).inputs;

test('every input of action.yml is an option of the same name (a secret as <name>-file), with its description and default', () => {
  const options = cliOptions();
  for (const [name, input] of Object.entries(declared)) {
    const option = options.find((candidate) => candidate.input === name && candidate.flag !== 'known-hosts-file');
    assert.ok(option, `an option sets ${name}`);
    assert.equal(option.flag, (SECRET_INPUTS as readonly string[]).includes(name) ? `${name}-file` : name);
    assert.ok(option.description.endsWith(input.description.trim()), `${name}'s description is action.yml's`);
    assert.equal(option.default, input.default === '' || input.default === undefined ? undefined : String(input.default));
  }
  assert.deepEqual(
    actionInputs().map((input) => input.name),
    Object.keys(declared),
  );
  for (const name of [...SECRET_INPUTS, ...LIST_INPUTS, ...PATH_INPUTS]) assert.ok(name in declared, `${name} is an input of action.yml`);
  assert.equal(options.find((option) => option.flag === 'dry-run')?.kind, 'boolean', 'a true/false default makes a boolean option');
  assert.equal(options.find((option) => option.flag === 'hosts')?.kind, 'list');
});

test('arguments: --name value, --name=value, a boolean alone, a list repeated', () => {
  const given = parseArguments(['--hosts', 'web1', '--hosts=web2', '--target=/srv/app', '--dry-run', '--canary=false', '--private-key-file', 'key']);
  assert.deepEqual(Object.fromEntries(given), {
    hosts: ['web1', 'web2'],
    target: ['/srv/app'],
    'dry-run': ['true'],
    canary: ['false'],
    'private-key-file': ['key'],
  });
  // A value may start with "-" when it is given with "=" or is not an option itself.
  assert.deepEqual(parseArguments(['--exclude', '-x']).get('exclude'), ['-x']);
});

test('arguments: each mistake is a UsageError naming the option', () => {
  const refused: [string[], RegExp][] = [
    [['--hots', 'web1'], /^unknown option --hots \(did you mean --hosts\?\)$/],
    [['--frobnicate'], /^unknown option --frobnicate$/],
    [['--password', 'hunter2'], /^--password: a secret is never taken on the command line .*--password-file <file>, or set GRACEFUL_RELOAD_PASSWORD$/],
    [['--target'], /^--target needs a value$/],
    [['--target', '--hosts', 'web1'], /^--target needs a value$/],
    [['--target', '/a', '--target', '/b'], /^--target is given twice; it takes one value$/],
    [['--dry-run=yes'], /^--dry-run: "yes" is not true or false$/],
    [['deploy'], /^unexpected argument "deploy"/],
    [['--', '--hosts'], /^unexpected argument "--"/],
  ];
  for (const [argv, expected] of refused) {
    assert.throws(
      () => parseArguments(argv),
      (error: unknown) => error instanceof UsageError && expected.test(error.message),
      argv.join(' '),
    );
  }
});

test('--help: every option, its default, the secrets and the exit statuses', () => {
  const help = helpText();
  for (const option of cliOptions()) assert.ok(help.includes(`  --${option.flag}`), option.flag);
  assert.match(help, /^ {2}--reload-mode <value> {3}\(default: auto\)$/m);
  assert.match(help, /^ {2}--dry-run\[=true\|false\] {3}\(default: false\)$/m);
  assert.match(help, /GRACEFUL_RELOAD_PRIVATE_KEY, GRACEFUL_RELOAD_PASSPHRASE,\s+GRACEFUL_RELOAD_PASSWORD/);
  assert.match(help, /Exit status: 0 every host done/);
  for (const line of help.split('\n')) assert.ok(line.length <= 80, `wrapped at 80: ${line}`);
});

test('--version prints the version of package.json alone and exits 0, before any other option is read', async () => {
  const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
  assert.match(version, /^\d+\.\d+\.\d+$/);
  let out = '';
  let err = '';
  const stream = (write: (text: string) => void) => ({ write: (text: string) => (write(text), true), isTTY: false }) as unknown as NodeJS.WriteStream;
  const streams = { out: stream((text) => (out += text)), err: stream((text) => (err += text)), env: {} };
  // --target / alone would be refused (exit 2): --version answers without validating the rest.
  assert.equal(await runCli(['--version', '--target', '/'], streams), 0);
  assert.equal(out, `${version}\n`);
  assert.equal(err, '');
});

test('config file: scalars, numbers, booleans and lists; every problem names the file and the key', () => {
  const given = parseConfig('hosts:\n  - web1\n  - web2\ntarget: /srv/app\nport: 2222\ndry-run: true\nprivate-key-file: ~/.ssh/deploy\n', 'deploy.yml');
  assert.deepEqual(Object.fromEntries(given), {
    hosts: ['web1', 'web2'],
    target: ['/srv/app'],
    port: ['2222'],
    'dry-run': ['true'],
    'private-key-file': ['~/.ssh/deploy'],
  });
  assert.equal(parseConfig('', 'empty.yml').size, 0);
  const refused: [string, RegExp][] = [
    ['hots: web1\n', /^deploy\.yml: unknown key hots \(did you mean hosts\?\)$/],
    [
      'private-key: abc\n',
      /^deploy\.yml: private-key: a secret is never written in a config file; give private-key-file: <file>, or set GRACEFUL_RELOAD_PRIVATE_KEY$/,
    ],
    ['target:\n  - /a\n  - /b\n', /^deploy\.yml: target takes one value, not a list$/],
    ['target:\n  path: /a\n', /^deploy\.yml: target: expected a string, a number or true\/false$/],
    ['target: ~\n', /^deploy\.yml: target: expected a string/],
    ['- web1\n', /^deploy\.yml: expected a mapping of option names to values/],
    ['target: /a\ntarget: /b\n', /^deploy\.yml: Map keys must be unique/],
    ['help: true\n', /^deploy\.yml: unknown key help$/],
    ['version: true\n', /^deploy\.yml: unknown key version$/],
  ];
  for (const [text, expected] of refused) {
    assert.throws(
      () => parseConfig(text, 'deploy.yml'),
      (error: unknown) => error instanceof UsageError && expected.test(error.message),
      text,
    );
  }
});

test('inputs: the command line wins over the config file, files are read, a secret comes from its variable only when not given', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gr-cli-unit-'));
  try {
    await writeFile(join(dir, 'key'), '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n');
    await writeFile(join(dir, 'pins'), 'web1 ssh-ed25519 AAAA\n');
    const config = {
      path: join(dir, 'deploy.yml'),
      directory: dir,
      given: parseConfig('target: /srv/file\nsource: app\nprivate-key-file: key\ninventory: fleet.yml\n', 'deploy.yml'),
    };
    const inputs = await resolveInputs(
      parseArguments(['--target', '/srv/flag', '--known-hosts-file', join(dir, 'pins'), '--hosts', 'web1', '--hosts', 'web2']),
      config,
      {
        GRACEFUL_RELOAD_PRIVATE_KEY: 'not used: the file gives the key',
        GRACEFUL_RELOAD_PASSWORD: 's3cret',
      },
    );
    assert.deepEqual(Object.fromEntries(inputs), {
      hosts: 'web1\nweb2',
      target: '/srv/flag',
      'private-key': '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n',
      'known-hosts': 'web1 ssh-ed25519 AAAA\n',
      source: join(dir, 'app'),
      inventory: join(dir, 'fleet.yml'),
      password: 's3cret',
    });
    await assert.rejects(
      resolveInputs(parseArguments(['--passphrase-file', join(dir, 'missing')]), undefined, {}),
      /^UsageError: --passphrase-file: cannot read .*missing \(ENOENT\)$/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('terminal text: no line break, no escape sequence from a host', () => {
  assert.equal(terminalText('worker \x1b]0;pwned\x07 title\nnext\ttab'), 'worker \uFFFD]0;pwned\uFFFD title⏎next tab');
  assert.equal(terminalText('plain: 5/5 workers replaced'), 'plain: 5/5 workers replaced');
});

test('live display: a line per host rewritten in place, messages of no host and warnings above it, the end kept', () => {
  let written = '';
  let clock = 1000;
  const progress = liveProgress({ write: (text: string) => (written += text), columns: 100 }, false, () => clock, 3_600_000);
  progress.log.info('batch 1 of 1: web1, web2');
  assert.equal(written, 'batch 1 of 1: web1, web2\n', 'before the rollout, lines just scroll');
  written = '';
  progress.hostsStart(['web1', 'web2']);
  assert.equal(written, '· web1  waiting              \n· web2  waiting              \n');
  written = '';
  progress.log.info('web1: ▶ sync');
  clock += 1500;
  progress.log.info('web1: 3 file(s) sent, 0 deleted');
  // Each change moves up over the two host lines, erases them and draws them again.
  const frames = written.split('\x1b[2F\x1b[J');
  assert.equal(frames.length, 3, JSON.stringify(written));
  assert.equal(frames[2], `⠋ web1  sync${' '.repeat(10)}1.5 s  3 file(s) sent, 0 deleted\n· web2  waiting              \n`);
  written = '';
  progress.log.warning('web2: opcache \x1b[31mred');
  assert.ok(written.startsWith('\x1b[2F\x1b[Jwarning: web2: opcache \uFFFD[31mred\n'), JSON.stringify(written));
  clock += 500;
  progress.hostEnded('web1', 'ok', true);
  progress.hostEnded('web2', 'failed', false);
  written = '';
  progress.stop();
  assert.equal(written, `\x1b[2F\x1b[J✔ web1  ok${' '.repeat(12)}2.0 s  3 file(s) sent, 0 deleted\n✖ web2  failed${' '.repeat(9)}0 ms  \n`);
});
