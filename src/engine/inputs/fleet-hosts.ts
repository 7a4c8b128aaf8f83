import { resolveAmount, shardHosts } from './fleet-plan.js';
import { InputError } from './input-error.js';
import { mergeHosts, parseInventory, type InventoryHost } from './inventory.js';
import type { DeployPlan, FleetOptions, RolloutSettings } from './settings.js';

/**
 * The hosts this job rolls out to, each with its own settings: the hosts
 * input plus the inventory (its per-host target, start-file and status-url
 * replace the inputs for that host), then this job's shard. Pure: the
 * inventory's text is read by the caller.
 */
export function fleetHosts(
  plan: Pick<DeployPlan, 'hosts' | 'fleet'>,
  rollout: RolloutSettings,
  inventoryText: string | undefined,
  defaults: { username: string; port: number },
): { spec: InventoryHost['spec']; position: number; settings: RolloutSettings; labels: readonly string[] }[] {
  const inventory = inventoryText === undefined ? [] : parseInventory(inventoryText, defaults);
  const merged = mergeHosts(plan.hosts, inventory);
  const mine = shardHosts(merged, plan.fleet.shard);
  return mine.map((host) => {
    const { spec, overrides, labels } = host;
    if (overrides.statusUrl !== undefined && rollout.status !== 'http') {
      throw new InputError('inventory', `${spec.label}: status-url is only used with status: http (status is ${rollout.status})`);
    }
    return {
      spec,
      position: merged.indexOf(host) + 1,
      labels,
      settings: {
        ...rollout,
        ...(overrides.target !== undefined ? { target: overrides.target } : {}),
        ...(overrides.startFile !== undefined ? { startFile: overrides.startFile } : {}),
        ...(overrides.statusUrl !== undefined ? { statusUrl: overrides.statusUrl } : {}),
      },
    };
  });
}

/** max-parallel and max-failures against this job's host count. */
export function resolveFleetAmounts(fleet: FleetOptions, hosts: number): { maxParallel: number; maxFailures: number } {
  return { maxParallel: resolveAmount(fleet.maxParallel, hosts, 'up'), maxFailures: resolveAmount(fleet.maxFailures, hosts, 'down') };
}
