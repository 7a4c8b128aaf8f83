import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';

/**
 * Runs last (scripts/test.mjs puts it there): nothing the suite started may
 * outlive it. Only what this run started is looked at, so other runs on the
 * same machine are left out. A process is the suite's when
 * - it carries GR_SUITE_ID=<this run> in its environment (scripts/test.mjs
 *   gives it to the test runner, every process started under it inherits
 *   it: the rig's sshd, an ssh-agent, remote commands started by a test);
 * - or it runs in the mount namespace of one of this run's rig hosts and
 *   started before that host was ended (GR_SUITE_HOSTS, written by the rig):
 *   Workerman overwrites its processes' environment with their title, so a
 *   master and its workers cannot carry the mark;
 * - or its working directory is one of this run's temp dirs (the example
 *   status worker's smoke script runs Workerman there).
 * Still running outside the test runner's own process tree, it is a leak
 * (a worker orphaned to PID 1, its host's directory deleted; an sshd).
 * Temp dirs: the rig's and the runner temps carry the suite id in their
 * names (gr-rig-<id>-*, gr-runner-<id>-*); graceful-reload-* entries cannot
 * always carry it, so those count when they were not there before the run
 * (GR_SUITE_TMP_BEFORE).
 */
const suite = process.env['GR_SUITE_ID'];

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly title: string;
  readonly why: string;
}

/** Clock ticks per second of /proc/<pid>/stat's start time (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** When each of this run's rig hosts was ended (Infinity: never), by mount namespace. */
async function hostsEnded(): Promise<Map<string, number>> {
  const ended = new Map<string, number>();
  const file = process.env['GR_SUITE_HOSTS'];
  const text = file ? await readFile(file, 'utf8').catch(() => '') : '';
  for (const line of text.split('\n')) {
    const [event, namespace, at] = line.split(' ');
    if (!namespace) continue;
    if (event === 'start' && !ended.has(namespace)) ended.set(namespace, Number.POSITIVE_INFINITY);
    if (event === 'stop') ended.set(namespace, Number(at));
  }
  return ended;
}

async function processes(): Promise<{ all: Map<number, Proc>; ours: Proc[] }> {
  const ended = await hostsEnded();
  const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  const bootMs = Date.now() - uptime * 1000;
  const all = new Map<number, Proc>();
  const ours: Proc[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (stat === '') continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue;
    const title = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    const namespace = await readlink(`/proc/${pid}/ns/mnt`).catch(() => '');
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    const startedMs = bootMs + (Number(fields[19]) / TICKS_PER_SECOND) * 1000;
    let why = '';
    if (environ.split('\0').includes(`GR_SUITE_ID=${suite}`)) why = 'marked';
    else if (ended.has(namespace) && startedMs <= ended.get(namespace)!) why = `in a rig host's namespace ${namespace}`;
    else if (cwd.includes(`.${suite}.`) || cwd.includes(`-${suite}-`)) why = `in ${cwd}`;
    const proc = { pid, ppid: Number(fields[1]), title, why };
    all.set(pid, proc);
    if (why !== '') ours.push(proc);
  }
  return { all, ours };
}

test('the suite left no process and no temp dir behind', { skip: suite ? false : 'run through npm test (scripts/test.mjs marks the suite)' }, async () => {
  const { all, ours } = await processes();
  // The runner's own tree: the topmost marked ancestor of this process, and everything under it.
  let top = process.pid;
  for (let p = all.get(process.pid); p && all.get(p.ppid)?.why === 'marked'; p = all.get(p.ppid)) top = p.ppid;
  const inTree = (pid: number): boolean => {
    for (let p = all.get(pid); p; p = all.get(p.ppid)) if (p.pid === top) return true;
    return false;
  };
  const leaked = ours.filter((p) => !inTree(p.pid));
  const describe = (p: Proc) => `${p.pid} (parent ${p.ppid}, ${p.why}) ${p.title}`;
  const workerman = leaked.filter((p) => p.title.startsWith('WorkerMan:'));
  assert.deepEqual(workerman.map(describe), [], 'Workerman processes the suite started are still running');
  assert.deepEqual(leaked.map(describe), [], 'processes the suite started are still running');

  const before = new Set(JSON.parse(process.env['GR_SUITE_TMP_BEFORE'] ?? '[]') as string[]);
  const left = (await readdir(tmpdir())).filter(
    (name) => !before.has(name) && (name.startsWith(`gr-rig-${suite}-`) || name.startsWith(`gr-runner-${suite}-`) || name.startsWith('graceful-reload-')),
  );
  assert.deepEqual(left, [], `the suite left these in ${tmpdir()}`);
});
