import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { parse } from 'yaml';
import { parseInventory } from '../../src/engine/inputs/inventory.js';
import { parseConfig } from '../../src/cli/settings.js';
import { lint, type Workflow } from './actionlint.js';
import { actionMetadata, codeBlocks, docPages, REPO, repoFile, type CodeBlock } from './readme.js';

const readme = repoFile('README.md');
/** Every page of the documentation (the README and docs/) with its fenced blocks. */
const pages = docPages().map((where) => ({ where, blocks: codeBlocks(repoFile(where)) }));
/** The major tag of the version in package.json (v1 for 1.2.3), which users' workflows name. */
const MAJOR_TAG = `v${(JSON.parse(repoFile('package.json')) as { version: string }).version.split('.')[0]}`;
const yamlBlocks = pages.flatMap(({ where, blocks }) => blocks.filter((block) => block.lang === 'yaml').map((block) => ({ ...block, where })));
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

/** The workflows the docs show, whole or as a list of steps, each named by its page. */
function workflowsInDocs(): Workflow[] {
  return yamlBlocks.flatMap((block: CodeBlock & { where: string }): Workflow[] => {
    if (isWorkflow(block.text)) return [{ where: block.where, text: block.text, lineOffset: block.line - 1 }];
    if (!isSteps(block.text)) return [];
    const steps = block.text
      .replace(/\n$/, '')
      .split('\n')
      .map((line) => (line === '' ? '' : `      ${line}`));
    return [{ where: block.where, text: `${[...STEPS_WRAPPER, ...steps].join('\n')}\n`, lineOffset: block.line - 1 - STEPS_WRAPPER.length }];
  });
}

const allWorkflows = (): Workflow[] => [...workflowsInDocs(), ...exampleWorkflows.map((path) => ({ where: path, text: repoFile(path), lineOffset: 0 }))];

test('actionlint is alive: it rejects a broken workflow', async () => {
  const broken = 'on: push\njobs:\n  build:\n    steps:\n      - run: echo ${{ github.no_such_thing }}\n';
  const problems = await lint({ where: 'broken.yml', text: broken, lineOffset: 0 });
  assert.ok(
    problems.some((problem) => problem.includes('runs-on')),
    `a job without runs-on is reported: ${problems.join('; ')}`,
  );
  assert.ok(
    problems.some((problem) => problem.includes('no_such_thing')),
    `an unknown context property is reported: ${problems.join('; ')}`,
  );
});

test('every workflow in the README, in docs/ and in examples/workflows passes actionlint', async () => {
  const workflows = allWorkflows();
  assert.ok(workflowsInDocs().length >= exampleWorkflows.length && exampleWorkflows.length >= 3, 'the docs and examples/ show workflows');
  assert.ok(
    workflowsInDocs().some((workflow) => workflow.where === 'README.md'),
    'the README shows the quick start workflow',
  );
  const problems = (await Promise.all(workflows.map(lint))).flat();
  assert.deepEqual(problems, [], 'actionlint found problems');
});

test('the docs show every example file whole, and each file they name exists as shown', () => {
  const shown = new Map<string, string>();
  for (const { where, blocks } of pages) {
    for (const block of blocks) {
      const named = /^# (examples\/\S+)\n/.exec(block.text)?.[1];
      if (named === undefined) continue;
      assert.equal(block.text, repoFile(named), `${named} differs from the copy in ${where}`);
      shown.set(named, where);
    }
  }
  for (const path of exampleWorkflows) assert.ok(shown.has(path), `${path} is not shown in the README or docs/ (a block starting with "# ${path}")`);
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

test("the docs' config file for the command-line tool is read by the tool", () => {
  const block = yamlBlocks.find((candidate) => /^#.*graceful-reload --config/.test(candidate.text));
  assert.ok(block, 'the docs show a config file for graceful-reload --config');
  const given = parseConfig(block.text, block.where);
  assert.deepEqual(given.get('hosts'), ['deploy@web1.example.com', 'deploy@web2.example.com']);
  assert.deepEqual(given.get('target'), ['/srv/app']);
  assert.ok(given.has('private-key-file') && given.has('known-hosts-file'), 'the secrets and pins come from files');
});

/** GitHub's anchors of a Markdown page: each heading's text, lower case, punctuation dropped, spaces as hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const prose = markdown.replace(/^ *```[\s\S]*?^ *```/gm, '');
  return new Set(
    [...prose.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      match[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replaceAll(' ', '-'),
    ),
  );
}

/** The relative link targets of a page's prose (web addresses left out). */
function linksOf(markdown: string): string[] {
  const prose = markdown.replace(/^ *```[\s\S]*?^ *```/gm, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^https?:/.test(target));
}

/** Why a link of `page` leads nowhere, or undefined when its file (and heading, in a Markdown file) exist. */
function brokenLink(page: string, target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path === '' ? page : normalize(join(dirname(page), path));
  if (file.startsWith('..') || !existsSync(join(REPO, file))) return `${page}: ${target} (no file ${file})`;
  if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(repoFile(file)).has(anchor)) return `${page}: ${target} (no heading #${anchor} in ${file})`;
  return undefined;
}

test('every link of the README, docs/, BENCHMARKS.md and CHANGELOG.md leads to a file of the repository, and to a heading of it', () => {
  const checked = [...docPages(), 'BENCHMARKS.md', 'CHANGELOG.md'];
  const links = checked.flatMap((page) => linksOf(repoFile(page)).map((target) => ({ page, target })));
  assert.ok(links.length > 60, `${links.length} links checked`);
  assert.ok(
    brokenLink('docs/cli.md', '../README.md#no-such-heading') !== undefined && brokenLink('README.md', 'docs/nothing.md') !== undefined,
    'the check can fail',
  );
  const broken = links.flatMap(({ page, target }) => brokenLink(page, target) ?? []);
  assert.deepEqual(broken, [], 'links that lead nowhere');
});

test('the README is a front page: under 400 lines, and it links every page of docs/', () => {
  const lines = readme.split('\n').length;
  assert.ok(lines < 400, `the README has ${lines} lines`);
  const linked = new Set(linksOf(readme).map((target) => target.split('#')[0]));
  const pagesOfDocs = docPages().filter((page) => page !== 'README.md');
  assert.ok(pagesOfDocs.length >= 7, `docs/ has ${pagesOfDocs.length} pages`);
  assert.deepEqual(
    pagesOfDocs.filter((page) => !linked.has(page)),
    [],
    'pages of docs/ the README does not link',
  );
});
