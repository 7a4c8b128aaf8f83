import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostReport } from '../../src/engine/report/report.js';
import { Rig, type TestHost } from '../rig/rig.js';
import { deployFleet, makeHostSensitiveSource } from '../rig/scenario.js';

/**
 * What a run shows on GitHub (issue 12), from dist/index.cjs started as a
 * runner starts it: the job summary's table and timeline, the outputs, one
 * annotation per failed host, the log's groups and its last line. One fleet
 * of three real Workerman 5 hosts, one at a time: the first deploys, the
 * second crash-loops (left failed: rollback: none), the third is skipped.
 */

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

const label = (host: TestHost) => `root@127.0.0.1:${host.port}`;
const SHA = 'c0ffee0123456789abcdef0123456789abcdef01';

/** The summary table's host rows and totals row, each split into its cells at the unescaped pipes. */
function tableRows(summary: string): string[][] {
  const rows = summary.split('\n').filter((line) => line.startsWith('| '));
  assert.ok(rows.length >= 2, `a table in the summary:\n${summary}`);
  return rows.slice(2).map((line) => line.slice(2, -2).split(/(?<!\\) \| /));
}

/** The host's workers by group, counted as the summary shows them. */
async function workerGroups(host: TestHost): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { title } of await host.workers()) {
    const group = /^WorkerMan: worker process\s+(\S+)/.exec(title)?.[1];
    if (group) counts.set(group, (counts.get(group) ?? 0) + 1);
  }
  return counts;
}

test('a fleet of three (ok, crash loop, skipped): the summary table, totals and timeline, the outputs, one annotation for the failed host, the log groups', async (t) => {
  const hosts: TestHost[] = [];
  t.after(async () => {
    for (const host of hosts) await host.stop();
  });
  for (let i = 1; i <= 3; i++) hosts.push(await rig.addHost(`summary-${i}`, { workerman: 5 }));
  await Promise.all(hosts.map((host) => host.startMaster()));
  const [good, crashing, skipped] = hosts as [TestHost, TestHost, TestHost];
  await writeFile(join(crashing.srv, 'crash-on-v2'), 'this host cannot run v2\n');
  const groups = await workerGroups(good);
  // The rig's inputs keep the gateway (ignore-workers); every other group is replaced.
  const gateways = groups.get('gateway') ?? 0;
  groups.delete('gateway');
  assert.ok(gateways > 0, `a gateway on ${good.name}`);
  const toReplace = [...groups.values()].reduce((sum, count) => sum + count, 0);
  assert.ok(toReplace > 1, `reloadable workers on ${good.name}: ${JSON.stringify([...groups])}`);

  const { run, reports } = await deployFleet(
    rig,
    hosts,
    await makeHostSensitiveSource(rig),
    { settle: '1s', timeout: '30s', 'graceful-timeout': '10s', 'max-parallel': '1', rollback: 'none' },
    [],
    { env: { GITHUB_SHA: SHA } },
  );
  const said = run.log
    .split('\n')
    .filter((line) => !line.startsWith('::debug::') && !line.startsWith('::add-mask::'))
    .join('\n');
  assert.notEqual(run.code, 0, said);

  // The outputs parse, and the counts match the report.
  assert.equal(reports.length, 3, said);
  const entry = (host: TestHost): HostReport => reports.find((report) => report.host === label(host)) ?? assert.fail(`no report entry for ${label(host)}`);
  assert.deepEqual(
    hosts.map((host) => entry(host).status),
    ['ok', 'failed', 'skipped'],
    `${JSON.stringify(reports.map((r) => [r.host, r.status, r.error]))}\n${said}`,
  );
  assert.deepEqual(
    { succeeded: run.outputs['succeeded'], failed: run.outputs['failed'], skipped: run.outputs['skipped'] },
    { succeeded: '1', failed: '1', skipped: '1' },
  );
  const ok = entry(good);
  const failed = entry(crashing);
  assert.equal(ok.revision, SHA);
  assert.deepEqual(ok.replacement, { replaced: toReplace, of: toReplace });
  assert.deepEqual(
    ok.phases?.map((phase) => `${phase.name}:${phase.ok}`),
    ['preflight:true', 'snapshot:true', 'sync:true', 'reload:true', 'verify:true'],
  );
  assert.equal(failed.reason, 'crash-loop', failed.error);
  assert.ok(
    failed.appErrors?.some((line) => line.includes('boom: v2 cannot run')),
    `the app's error lines: ${JSON.stringify(failed.appErrors)}`,
  );
  assert.deepEqual(
    failed.phases?.map((phase) => `${phase.name}:${phase.ok}`),
    ['preflight:true', 'snapshot:true', 'sync:true', 'reload:true', 'verify:false'],
  );
  assert.deepEqual(
    entry(skipped).phases?.map((phase) => `${phase.name}:${phase.ok}`),
    ['preflight:true'],
  );
  // One clock: the second host starts after the first ends, the phases follow one another.
  assert.ok(failed.phases![1]!.start >= ok.phases!.at(-1)!.end, JSON.stringify([ok.phases, failed.phases]));

  // The table: one row per host, with the figures the hosts and the report give, then the totals.
  const [first, second, third, total, ...more] = tableRows(run.summary);
  assert.deepEqual(more, [], run.summary);
  const replacedGroups = [...groups].map(([group, count]) => `${group} ${count}`);
  assert.equal(first![0], label(good));
  assert.equal(first![1], '✅ ok');
  assert.match(first![2]!, new RegExp(`^${toReplace} \\(`), run.summary);
  for (const group of replacedGroups) assert.ok(first![2]!.includes(group), `${group} in "${first![2]}"`);
  assert.match(first![3]!, new RegExp(`^${gateways} \\(gateway: ignore-workers\\)$`), 'the gateway is kept, and why');
  assert.ok(ok.sync && ok.sync.filesTransferred > 0, JSON.stringify(ok.sync));
  assert.equal(first![4], `${ok.sync.filesTransferred} / ${ok.sync.filesDeleted}`);
  assert.match(first![5]!, /reload \(/);
  assert.match(first![6]!, /^\d+(\.\d)? (s|ms)$/);
  assert.equal(first![7], SHA.slice(0, 12));
  assert.equal(first![8], '');

  assert.equal(second![0], label(crashing));
  assert.equal(second![1], '❌ failed');
  assert.match(second![2]!, new RegExp(`^${failed.replacement?.replaced} of ${toReplace}`));
  assert.equal(second![4], `${failed.sync?.filesTransferred} / ${failed.sync?.filesDeleted}`);
  assert.match(second![8]!, /^verify failed \(crash-loop\): the new code crash-loops.*boom: v2 cannot run/);

  assert.equal(third![0], label(skipped));
  assert.equal(third![1], '⏭️ skipped');
  assert.equal(third![4], 'none');
  assert.match(third![8]!, /max-failures/);

  assert.equal(total![0], '**Total: 3**');
  assert.equal(total![1], '1 ok, 1 failed, 1 skipped');
  assert.equal(total![2], String(toReplace + failed.replacement!.replaced));

  // The timeline: a section per host, the crash loop's verify marked.
  const chart = /```mermaid\n([\s\S]*?)\n```/.exec(run.summary)?.[1] ?? assert.fail(`a mermaid block:\n${run.summary}`);
  const sections = chart.split('\n').filter((line) => line.trim().startsWith('section '));
  assert.deepEqual(
    sections.map((line) => line.trim()),
    hosts.map((host) => `section root@127.0.0.1∶${host.port}`),
  );
  assert.equal(chart.match(/:crit, /g)?.length, 1, chart);
  assert.match(chart, /verify \(failed\) :crit, /);
  // The app's own words for the failed host.
  assert.match(run.summary, new RegExp(`<summary>${label(crashing).replaceAll('.', '\\.')}: \\d+ PHP error line\\(s\\)[\\s\\S]*boom: v2 cannot run`));

  // Annotations: one per failed host, titled with it, on one line; the app's lines are no annotations of their own.
  const annotations = run.log.split('\n').filter((line) => line.startsWith('::error'));
  const perHost = annotations.filter((line) => line.startsWith('::error title='));
  assert.equal(perHost.length, 1, annotations.join('\n'));
  assert.ok(
    perHost[0]!.startsWith(`::error title=${label(crashing).replaceAll(':', '%3A')} failed::${label(crashing)}: verify failed (crash-loop): `),
    perHost[0],
  );
  assert.equal(annotations.length, 2, `the host's annotation and the run's failure line:\n${annotations.join('\n')}`);

  // The log: a group for the preflights side by side, a group per host and phase after, a progress line,
  // every group closed, and a last line with the counts and the time taken.
  const lines = run.log.split('\n');
  assert.ok(lines.includes('::group::preflight of 3 hosts: connect, lock, check'), said);
  for (const phase of ['snapshot', 'sync', 'reload', 'verify']) assert.ok(lines.includes(`::group::${label(good)}: ${phase}`), `${phase} group; log:\n${said}`);
  assert.ok(
    lines.some((line) => new RegExp(`^${label(good).replaceAll('.', '\\.')}: \\d+/${toReplace} workers replaced`).test(line)),
    `a progress line; log:\n${said}`,
  );
  const opened = lines.filter((line) => line.startsWith('::group::')).length;
  const closed = lines.filter((line) => line === '::endgroup::').length;
  assert.equal(opened, closed, said);
  assert.match(annotations.at(-1)!, /^::error::.*\(3 host\(s\) in (?:\d+ min )?[\d.]+ s: 1 succeeded, 1 failed, 0 rolled back, 1 skipped\)$/);
});
