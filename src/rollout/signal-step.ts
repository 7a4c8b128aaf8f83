import { describeExit } from '../engine/ports.js';
import { StepError } from '../engine/step-error.js';
import type { ReloadPlan } from '../engine/plan/reload-plan.js';
import { BaselineError, takeBaseline, type ReloadBaseline } from '../engine/verdict/verdict.js';
import type { StatusSource } from '../status/status-source.js';
import { reloadSignalCommand } from '../workerman/commands.js';
import type { HostRun } from './context.js';

/** Takes the "before" picture of the workers, then sends the reload the plan chose. */
export async function signalStep(run: HostRun, source: StatusSource, plan: ReloadPlan): Promise<{ baseline: ReloadBaseline; signalledAt: number }> {
  const { settings, label, io, facts } = run;
  facts.step = 'signal';
  let baseline: ReloadBaseline;
  const asked = run.now();
  try {
    baseline = takeBaseline(await source.snapshot(), plan);
  } catch (error) {
    if (error instanceof BaselineError) throw new StepError('signal', `${error.message}; the files were synced but no reload was sent`);
    throw error;
  }
  const keptGroups = [...new Set(baseline.kept.map((worker) => `${worker.group} (${worker.keptBecause})`))];
  io.log.info(
    `${label}: master ${baseline.masterPid}, ${baseline.tracked.length} worker(s) to replace` +
      (keptGroups.length > 0 ? `, ${baseline.kept.length} kept: ${keptGroups.join(', ')}` : '') +
      `; ${plan.mode} reload (${plan.modeReason})`,
  );

  source.markSignal();
  const signalledAt = run.now();
  const reload = await run.shell.run(reloadSignalCommand(baseline.masterPid, plan.mode), { timeoutMs: settings.commandTimeoutMs });
  if (reload.code !== 0) {
    throw new StepError(
      'signal',
      `the ${plan.mode} reload signal did not reach master ${baseline.masterPid} (${describeExit(reload)}): ${(reload.stdout + reload.stderr).trim() || 'no reason given'}`,
    );
  }
  facts.signalled = true;
  // Durations, not clocks, carry over from the runner: the host's clock stays the only one compared.
  baseline = { ...baseline, signalReachedBy: baseline.signalAt + (run.now() - asked) / 1000 };
  io.log.info(`${label}: ${plan.mode} reload signalled; watching workers`);
  return { baseline, signalledAt };
}
