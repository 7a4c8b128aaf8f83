import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseInputs, type RawInputs } from '../../src/engine/inputs/inputs.js';
import { actionMetadata, docPages, REPO, repoFile, tableRows } from './readme.js';

const action = actionMetadata();
/** The README and docs/, read as one: a table may live on any page, but only once. */
const docs = docPages().map(repoFile).join('\n');
const INPUT_HEADER = ['input', 'required', 'default', 'meaning'];
const OUTPUT_HEADER = ['output', 'meaning'];

/**
 * Feather icons on GitHub's branding list that suit a deploy tool. GitHub
 * accepts only a subset of Feather's names, and a name outside it is
 * silently dropped from the marketplace listing: pick from this list, and
 * extend it only with a name checked against GitHub's metadata syntax page.
 */
const BRANDING_ICONS = [
  'refresh-cw',
  'refresh-ccw',
  'rotate-cw',
  'rotate-ccw',
  'repeat',
  'upload-cloud',
  'server',
  'package',
  'zap',
  'check-circle',
  'shield',
  'layers',
  'activity',
];
/** Every branding color GitHub accepts. */
const BRANDING_COLORS = ['white', 'black', 'yellow', 'blue', 'green', 'orange', 'red', 'purple', 'gray-dark'];

const unquote = (cell: string) => cell.replace(/^`(.*)`$/, '$1');

test('action.yml: every input has a description, a required flag and a default; every output a description', () => {
  const inputs = Object.entries(action.inputs);
  assert.ok(inputs.length > 30, `action.yml lists ${inputs.length} inputs`);
  for (const [name, input] of inputs) {
    assert.ok(typeof input.description === 'string' && input.description.trim().length > 10, `input ${name}: a description`);
    assert.equal(typeof input.required, 'boolean', `input ${name}: required is true or false`);
    // Quoted in YAML where needed: the runner hands every input over as text.
    assert.equal(typeof input.default, 'string', `input ${name}: a default, written as a string`);
  }
  const outputs = Object.entries(action.outputs);
  assert.ok(outputs.length > 0, 'action.yml lists outputs');
  for (const [name, output] of outputs) {
    assert.ok(typeof output.description === 'string' && output.description.trim().length > 10, `output ${name}: a description`);
  }
});

test('action.yml: branding is an icon and a color GitHub offers; the action runs dist/index.cjs on node24', () => {
  assert.ok(typeof action.name === 'string' && action.name !== '');
  assert.ok(typeof action.description === 'string' && action.description.length <= 125, 'the marketplace shows at most 125 characters of the description');
  assert.ok(BRANDING_ICONS.includes(String(action.branding?.icon)), `branding.icon ${String(action.branding?.icon)} is on the list`);
  assert.ok(
    BRANDING_COLORS.includes(String(action.branding?.color)),
    `branding.color ${String(action.branding?.color)} is one of ${BRANDING_COLORS.join(', ')}`,
  );
  assert.equal(action.runs?.using, 'node24');
  assert.equal(action.runs?.main, 'dist/index.cjs');
  assert.ok(existsSync(join(REPO, 'dist/index.cjs')), 'dist/index.cjs is committed');
});

test('the input tables (README and docs/) list exactly the inputs of action.yml, with the same required flags and defaults', () => {
  const rows = tableRows(docs, INPUT_HEADER);
  const documented = rows.map((row) => unquote(row[0]!));
  assert.deepEqual([...documented].sort(), Object.keys(action.inputs).sort(), 'the same input names');
  assert.equal(new Set(documented).size, documented.length, 'no input is documented twice');
  for (const [cell, required, fallback, meaning] of rows) {
    const name = unquote(cell!);
    const input = action.inputs[name]!;
    // "yes" only for what action.yml requires; conditions ("unless inventory lists them") read as not required.
    assert.equal(required === 'yes', input.required === true, `${name}: README says required "${required}", action.yml required: ${String(input.required)}`);
    if (input.default === '') {
      assert.ok(!fallback!.startsWith('`'), `${name}: action.yml has no default, but the README shows ${fallback}`);
    } else {
      assert.equal(fallback, `\`${String(input.default)}\``, `${name}: the README's default`);
    }
    assert.ok(meaning!.length > 10, `${name}: a meaning in the README`);
  }
});

test('the output table (README and docs/) lists exactly the outputs of action.yml', () => {
  const documented = tableRows(docs, OUTPUT_HEADER).map((row) => unquote(row[0]!));
  assert.deepEqual([...documented].sort(), Object.keys(action.outputs).sort());
});

test("action.yml's defaults mean what the engine does when an input is empty", () => {
  const hostKey = `AAAAC3NzaC1lZDI1NTE5AAAAI${'A'.repeat(43)}`;
  const given: Record<string, string> = {
    hosts: 'deploy@web1.example.com',
    'private-key': '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
    'known-hosts': `web1.example.com ssh-ed25519 ${hostKey}`,
    target: '/srv/app',
  };
  const environment = { githubSha: '0123456789abcdef0123456789abcdef01234567' };
  const empty: RawInputs = (name) => given[name] ?? '';
  const withDefaults: RawInputs = (name) => given[name] ?? String(action.inputs[name]?.default ?? '');
  const withDefaultsPlan = parseInputs(withDefaults, environment);
  assert.deepEqual(withDefaultsPlan, parseInputs(empty, environment), 'every default of action.yml at once');
  for (const [name, input] of Object.entries(action.inputs)) {
    if (input.default === '' || name in given) continue;
    const one: RawInputs = (asked) => (asked === name ? String(input.default) : empty(asked));
    assert.deepEqual(parseInputs(one, environment), withDefaultsPlan, `${name}: ${String(input.default)} is what an empty input means`);
  }
});
