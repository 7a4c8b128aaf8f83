import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, parseInputs } from '../../src/engine/inputs/inputs.js';
import type { DeployPlan } from '../../src/engine/inputs/settings.js';
import { INPUT_NAMES, PAYLOADS } from '../injection/corpus.js';

const hostKey = Buffer.concat([Buffer.from('\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20', 'latin1'), randomBytes(32)]).toString('base64');
const valid: Record<string, string> = {
  hosts: 'web1.example.com',
  'private-key': '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
  'known-hosts': `web1.example.com ssh-ed25519 ${hostKey}`,
  target: '/srv/app',
};

/** Inputs whose value only counts together with another (status-url needs status: http). */
const companions: Record<string, Record<string, string>> = { 'status-url': { status: 'http' } };

type Outcome = { input: string; payload: string; plan?: DeployPlan; error?: Error };

function sweep(): Outcome[] {
  const outcomes: Outcome[] = [];
  for (const input of INPUT_NAMES) {
    for (const payload of PAYLOADS) {
      const values = { ...valid, ...companions[input], [input]: payload };
      try {
        outcomes.push({ input, payload, plan: parseInputs((name) => values[name] ?? '') });
      } catch (error) {
        outcomes.push({ input, payload, error: error as Error });
      }
    }
  }
  return outcomes;
}

test('the corpus has at least 200 payloads and the sweep covers every input of action.yml', () => {
  assert.ok(PAYLOADS.length >= 200, `${PAYLOADS.length} payloads`);
  const metadata = readFileSync(join(import.meta.dirname, '../../action.yml'), 'utf8');
  // Only the inputs: the outputs section that follows declares entries of the same shape.
  const inputsSection = metadata.slice(metadata.indexOf('\ninputs:\n'), metadata.indexOf('\noutputs:\n'));
  const declared = [...inputsSection.matchAll(/^  ([a-z-]+):\n    description:/gm)].map((m) => m[1]);
  assert.deepEqual([...declared].sort(), [...INPUT_NAMES].sort());
});

test('every payload in every input is either refused naming that input, or kept literally and never as an option', () => {
  const outcomes = sweep();
  for (const { input, payload, plan, error } of outcomes) {
    if (error) {
      assert.ok(error instanceof InputError, `${input}=${JSON.stringify(payload)} threw ${error}`);
      assert.match(error.message, new RegExp(`^input ${input}: `), `${input}=${JSON.stringify(payload)}: ${error.message}`);
      continue;
    }
    const rollout = plan!.rollout;
    // Nothing that reaches an argument list starts with "-".
    for (const value of [rollout.source, rollout.php, rollout.startFile, rollout.logFile, ...rollout.exclude, ...rollout.protect]) {
      assert.ok(!value.startsWith('-'), `${input}=${JSON.stringify(payload)} put ${JSON.stringify(value)} where an argument goes`);
    }
    assert.ok(rollout.target.startsWith('/') && !rollout.target.split('/').includes('..'), `target ${rollout.target}`);
    for (const host of [...plan!.hosts, ...(plan!.jumpHost ? [plan!.jumpHost] : [])]) {
      assert.match(`${host.username}@${host.host}`, /^[A-Za-z_][A-Za-z0-9_.-]*@[A-Za-z0-9.:-]+$/);
    }
    // Accepted values are kept as given, not rewritten into something else.
    if (input === 'exclude') {
      for (const line of payload
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#')))
        assert.ok(rollout.exclude.includes(line));
    }
    if (input === 'ignore-workers') assert.ok(rollout.ignoreWorkers.every((name) => payload.includes(name)));
    // master-files globs only ever reach a glob matcher, never a command line.
    if (input === 'master-files') assert.ok(rollout.masterFiles.every((glob) => payload.includes(glob)));
    // The user's own commands are shell by design (as a workflow's run: step): kept exactly as written, one argument to bash or sh -c.
    const commands: Record<string, string> = {
      'drain-command': rollout.drain.command,
      'undrain-command': rollout.drain.undrainCommand,
      'before-reload': rollout.hooks.beforeReload,
      'after-reload': rollout.hooks.afterReload,
    };
    if (input in commands) assert.equal(commands[input], payload.trim(), `${input} keeps the command as written`);
    if (input === 'passphrase') assert.equal(plan!.credentials.passphrase, payload);
    if (input === 'password') assert.equal(plan!.credentials.password, payload);
  }
  // The strict inputs take none of the payloads, bar blanks, which mean "the default".
  const strict = new Set([
    'hosts',
    'username',
    'port',
    'jump-host',
    'php',
    'reload-mode',
    'on-master-change',
    'status',
    'revision',
    'timeout',
    'settle',
    'known-hosts',
    'private-key',
    'stop-timeout',
    'drain',
    'drain-wait',
    'before-reload-on',
    'hook-timeout',
  ]);
  for (const { input, payload, plan } of outcomes) {
    if (plan && strict.has(input)) assert.equal(payload.trim(), '', `${input} accepted ${JSON.stringify(payload)}`);
  }
});

test('a NUL byte is refused in every input', () => {
  for (const input of INPUT_NAMES) {
    const values = { ...valid, [input]: `a\0b` };
    assert.throws(() => parseInputs((name) => values[name] ?? ''), new RegExp(`^InputError: input ${input}: contains a NUL byte`));
  }
});
