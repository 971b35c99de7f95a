// Writes a fleet repo (defaults, rings, one file per customer) for testbed
// hosts, in the format operators write by hand, so e2e tests and the
// benchmark drive the real loader and the real rollout code.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestbedHost } from '../test/testbed/index.js';

/** What the fleet needs to know about a testbed host. */
export type TestbedHostLike = Pick<TestbedHost, 'address' | 'port' | 'user' | 'hostKey' | 'composeDir' | 'project' | 'site' | 'healthUrl'>;

export interface RingSpec {
  name: string;
  concurrency: number;
  failureBudget: number;
  /** e.g. "0m", "30s" */
  bakeTime?: string;
}

export interface CustomerSpec {
  id: string;
  ring: string;
  tag: string;
  host: TestbedHostLike;
  hold?: string;
  /** Per-host backup directory (the deploy user must be able to write it). */
  backupDir?: string;
}

/** Backups next to the compose dir, outside any volume, writable by the host's user. */
export function backupDirFor(h: TestbedHostLike): string {
  return `${h.composeDir.replace(/\/[^/]+\/?$/, '')}/fleetkeeper-backups`;
}

export interface FleetSpec {
  rings: RingSpec[];
  customers: CustomerSpec[];
  repository: string;
  health?: { attempts: number; intervalSeconds: number; timeoutSeconds: number };
}

export async function writeTestbedFleet(dir: string, spec: FleetSpec): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'rings'), { recursive: true });
  await mkdir(join(dir, 'customers'), { recursive: true });
  const h = spec.health ?? { attempts: 2, intervalSeconds: 1, timeoutSeconds: 5 };
  await writeFile(
    join(dir, 'defaults.yml'),
    [
      '# Fleet-wide defaults for the testbed hosts.',
      'image:',
      `  repository: ${spec.repository}`,
      'backup:',
      '  keep: 2',
      '  withFiles: false',
      '  minSizeRatio: 0.5',
      'health:',
      `  attempts: ${h.attempts}`,
      `  intervalSeconds: ${h.intervalSeconds}`,
      `  timeoutSeconds: ${h.timeoutSeconds}`,
      'preflight:',
      '  minFreeDiskMb: 10',
      'timeouts:',
      '  connectSeconds: 10',
      '  commandSeconds: 120',
      '  pullSeconds: 300',
      '  migrateSeconds: 300',
      '  backupSeconds: 120',
      '',
    ].join('\n'),
  );
  for (const [i, r] of spec.rings.entries()) {
    const next = spec.rings[i + 1];
    await writeFile(
      join(dir, 'rings', `${r.name}.yml`),
      [
        `order: ${i + 1}`,
        `concurrency: ${r.concurrency}`,
        `failureBudget: ${r.failureBudget}`,
        `bakeTime: ${r.bakeTime ?? '0m'}`,
        ...(next ? [`next: ${next.name}`] : []),
        'autoPromote: true',
        '',
      ].join('\n'),
    );
  }
  for (const c of spec.customers) {
    await writeFile(join(dir, 'customers', `${c.id}.yml`), customerYaml(c));
  }
}

export function customerYaml(c: CustomerSpec): string {
  return [
    `ring: ${c.ring}`,
    'ssh:',
    `  host: ${c.host.address}`,
    `  port: ${c.host.port}`,
    `  user: ${c.host.user}`,
    `  hostKey: ${c.host.hostKey}`,
    'compose:',
    `  dir: ${c.host.composeDir}`,
    `  project: ${c.host.project}`,
    'sites:',
    `  - ${c.host.site}`,
    'image:',
    `  tag: ${c.tag}`,
    'health:',
    `  url: ${c.host.healthUrl}`,
    'backup:',
    `  dir: ${c.backupDir ?? backupDirFor(c.host)}`,
    ...(c.hold ? ['hold:', `  reason: ${c.hold}`] : []),
    '',
  ].join('\n');
}
