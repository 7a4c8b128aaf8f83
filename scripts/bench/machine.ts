// The machine a benchmark ran on, and the commit it measured.
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { execFile } from '../../test/rig/process.js';
import { REPO } from '../../test/rig/rig.js';
import { WORKERMAN_RELEASES } from '../../test/rig/workerman-vendor.js';

/** The first line a command prints (on stdout or, like ssh -V, on stderr), or why there is none. */
async function firstLine(command: string, args: readonly string[]): Promise<string> {
  const result = await execFile(command, args, { timeoutMs: 10_000 }).catch((error: Error) => ({ stdout: '', stderr: error.message, code: 1 }));
  return (
    `${result.stdout}\n${result.stderr}`
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? `${command}: no output`
  );
}

async function cpuModel(): Promise<string> {
  const info = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
}

export async function describeMachine(): Promise<[string, string][]> {
  return [
    ['CPU', await cpuModel()],
    ['cores', String(availableParallelism())],
    ['memory', `${Math.round(totalmem() / 2 ** 30)} GiB`],
    ['kernel', `Linux ${release()}`],
    [
      'load average at the start (1, 5, 15 min)',
      loadavg()
        .map((n) => n.toFixed(2))
        .join(', '),
    ],
    ['Node (runs the action and the benchmark)', process.version],
    ['PHP', await firstLine('php', ['--version'])],
    ['rsync', await firstLine('rsync', ['--version'])],
    ['OpenSSH (client and the hosts’ sshd)', await firstLine('ssh', ['-V'])],
    ['Workerman on the hosts', WORKERMAN_RELEASES[5]],
  ];
}

/** The commit checked out, and whether src/ has changes not committed. */
export async function describeCommit(): Promise<{ commit: string; dirty: boolean }> {
  const head = await execFile('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { timeoutMs: 10_000 });
  const status = await execFile('git', ['-C', REPO, 'status', '--porcelain', '--', 'src'], { timeoutMs: 10_000 });
  return { commit: head.stdout.trim() || 'unknown', dirty: status.stdout.trim() !== '' };
}
