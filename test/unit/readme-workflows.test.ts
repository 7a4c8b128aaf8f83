import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseInventory } from '../../src/engine/inventory.js';
import { parseConfig } from '../../src/cli/settings.js';
import { lint, type Workflow } from './actionlint.js';
import { actionMetadata, codeBlocks, REPO, repoFile, type CodeBlock } from './readme.js';

const readme = repoFile('README.md');
/** The major tag of the version in package.json (v1 for 1.2.3), which users' workflows name. */
const MAJOR_TAG = `v${(JSON.parse(repoFile('package.json')) as { version: string }).version.split('.')[0]}`;
const yamlBlocks = codeBlocks(readme).filter((block) => block.lang === 'yaml');
const exampleWorkflows = readdirSync(join(REPO, 'examples/workflows'))
  .filter((name) => name.endsWith('.yml') || name.endsWith('.yaml'))
  .sort()
  .map((name) => `examples/workflows/${name}`);

/** A whole workflow: top-level `on:` and `jobs:`. */
const isWorkflow = (text: string) => /^on:/m.test(text) && /^jobs:/m.test(text);
/** A list of steps, shown without the workflow around them. */
const isSteps = (text: string) => /^- /m.test(text) && !/^\w/m.test(text.replace(/^#.*$/gm, ''));

/** The lines a step list is wrapped in to lint it as a workflow; line numbers in messages are shifted back. */
const STEPS_WRAPPER = ['on: push', 'jobs:', '  readme:', '    runs-on: ubuntu-latest', '    steps:'];

function workflowsInReadme(): Workflow[] {
  return yamlBlocks.flatMap((block: CodeBlock): Workflow[] => {
    if (isWorkflow(block.text)) return [{ where: 'README.md', text: block.text, lineOffset: block.line - 1 }];
    if (!isSteps(block.text)) return [];
    const steps = block.text.replace(/\n$/, '').split('\n').map((line) => (line === '' ? '' : `      ${line}`));
    return [{ where: 'README.md', text: `${[...STEPS_WRAPPER, ...steps].join('\n')}\n`, lineOffset: block.line - 1 - STEPS_WRAPPER.length }];
  });
}

const allWorkflows = (): Workflow[] => [...workflowsInReadme(), ...exampleWorkflows.map((path) => ({ where: path, text: repoFile(path), lineOffset: 0 }))];

test('actionlint is alive: it rejects a broken workflow', async () => {
  const broken = 'on: push\njobs:\n  build:\n    steps:\n      - run: echo ${{ github.no_such_thing }}\n';
  const problems = await lint({ where: 'broken.yml', text: broken, lineOffset: 0 });
  assert.ok(problems.some((problem) => problem.includes('runs-on')), `a job without runs-on is reported: ${problems.join('; ')}`);
  assert.ok(problems.some((problem) => problem.includes('no_such_thing')), `an unknown context property is reported: ${problems.join('; ')}`);
});

test("every workflow in the README and in examples/workflows passes actionlint", async () => {
  const workflows = allWorkflows();
  assert.ok(workflowsInReadme().length >= exampleWorkflows.length && exampleWorkflows.length >= 3, 'the README and examples/ show workflows');
  const problems = (await Promise.all(workflows.map(lint))).flat();
  assert.deepEqual(problems, [], 'actionlint found problems');
});

test('the README shows every example file whole, and each file it names exists as shown', () => {
  const shown = new Map<string, string>();
  for (const block of codeBlocks(readme)) {
    const named = /^# (examples\/\S+)\n/.exec(block.text)?.[1];
    if (named !== undefined) shown.set(named, block.text);
  }
  for (const [path, text] of shown) assert.equal(text, repoFile(path), `${path} differs from the README's copy`);
  for (const path of exampleWorkflows) assert.ok(shown.has(path), `${path} is not shown in the README (a block starting with "# ${path}")`);
});

interface Step {
  readonly uses?: string;
  readonly with?: Record<string, unknown>;
}

function graceFulReloadSteps(workflow: Workflow): Step[] {
  const document = parse(workflow.text) as { jobs: Record<string, { steps?: Step[] }> };
  return Object.values(document.jobs)
    .flatMap((job) => job.steps ?? [])
    .filter((step) => typeof step.uses === 'string' && /(^|\/)graceful-reload@/.test(step.uses));
}

test('every graceful-reload step passes only inputs action.yml declares, and those it must', () => {
  const inputs = actionMetadata().inputs;
  const required = Object.keys(inputs).filter((name) => inputs[name]!.required === true);
  let steps = 0;
  for (const workflow of allWorkflows()) {
    for (const step of graceFulReloadSteps(workflow)) {
      steps++;
      const given = Object.keys(step.with ?? {});
      const unknown = given.filter((name) => !(name in inputs));
      assert.deepEqual(unknown, [], `${workflow.where}: ${step.uses} is given inputs action.yml does not declare`);
      for (const name of required) assert.ok(given.includes(name), `${workflow.where}: ${step.uses} lacks the required input ${name}`);
      assert.ok(given.includes('hosts') || given.includes('inventory'), `${workflow.where}: ${step.uses} names no hosts`);
      assert.ok(given.includes('known-hosts'), `${workflow.where}: ${step.uses} pins no host keys`);
      // The examples follow the major tag the release workflow moves: the version of package.json's major.
      assert.equal(step.uses!.split('@')[1], MAJOR_TAG, `${workflow.where}: ${step.uses} should use the major tag ${MAJOR_TAG}`);
    }
  }
  assert.ok(steps >= exampleWorkflows.length, `${steps} graceful-reload steps found`);
});

test('the inventory example is read by the same parser as the inventory input', () => {
  const hosts = parseInventory(repoFile('examples/inventory.yml'), { username: 'root', port: 22 });
  assert.deepEqual(
    hosts.map((entry) => [entry.spec.username, entry.spec.host, entry.spec.port, entry.overrides.target ?? null, entry.labels]),
    [
      ['deploy', 'web1.example.com', 22, null, ['eu']],
      ['root', 'web2.example.com', 2222, '/srv/shop', []],
      ['deploy', 'web3.example.com', 22, null, []],
    ],
  );
});

test("the README's config file for the command-line tool is read by the tool", () => {
  const block = yamlBlocks.find((candidate) => /^#.*graceful-reload --config/.test(candidate.text));
  assert.ok(block, 'the README shows a config file for graceful-reload --config');
  const given = parseConfig(block.text, 'README.md');
  assert.deepEqual(given.get('hosts'), ['deploy@web1.example.com', 'deploy@web2.example.com']);
  assert.deepEqual(given.get('target'), ['/srv/app']);
  assert.ok(given.has('private-key-file') && given.has('known-hosts-file'), 'the secrets and pins come from files');
});

test('every link in the README leads to a heading of it or a file of the repository', () => {
  // GitHub's anchors: the heading's text, lower case, punctuation dropped, spaces as hyphens.
  const prose = readme.replace(/^ *```[\s\S]*?^ *```/gm, '');
  const anchors = new Set([...prose.matchAll(/^#{1,6} (.+)$/gm)].map((match) => match[1]!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replaceAll(' ', '-')));
  const targets = [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^https?:/.test(target));
  assert.ok(targets.length > 20, `${targets.length} links checked`);
  const broken = targets.filter((target) => (target.startsWith('#') ? !anchors.has(target.slice(1)) : !existsSync(join(REPO, target.split('#')[0]!))));
  assert.deepEqual(broken, [], 'links that lead nowhere');
});
