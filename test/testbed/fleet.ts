// Writes a fleet repo (defaults.yml, rings/, customers/) describing a testbed's
// hosts, in the format of schemas/ and src/fleet/, so e2e tests, the demo and
// the benchmark can run fleetkeeper against the testbed.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { Testbed, TestbedHost } from './index.js';

export interface FleetRingSpec {
  name: string;
  /** How many hosts (taken in host order), or 'rest' for every host not yet placed. */
  hosts: number | 'rest';
  concurrency?: number;
  failureBudget?: number;
  /** Duration as the fleet schema takes it, e.g. "0m", "10m", "1d". */
  bakeTime?: string;
  autoPromote?: boolean;
}

export interface FleetForOptions {
  /** Where to write; default `<testbed dir>/fleet`. Replaced if it exists. */
  dir?: string;
  /** In rollout order; each ring's `next` is the following one. Default: canary 1 host, early 20%, broad the rest. */
  rings?: FleetRingSpec[];
  /** Desired tag per host id; default the host's initial tag (a no-op fleet). */
  tags?: Record<string, string>;
  /** Health gate tuning (default: 2 probes 1 s apart, 5 s timeout: quick for tests). */
  health?: { attempts?: number; intervalSeconds?: number; timeoutSeconds?: number };
  timeouts?: { connectSeconds?: number; commandSeconds?: number; pullSeconds?: number; migrateSeconds?: number; backupSeconds?: number };
  minFreeDiskMb?: number;
}

export interface TestbedFleet {
  dir: string;
  /** customer id -> host (the customer id is the host id). */
  customers: Record<string, TestbedHost>;
  /** ring name -> customer ids */
  rings: Record<string, string[]>;
}

const SCHEMA_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

function defaultRings(n: number): FleetRingSpec[] {
  if (n === 1) return [{ name: 'canary', hosts: 1 }];
  if (n === 2) return [{ name: 'canary', hosts: 1 }, { name: 'broad', hosts: 'rest' }];
  return [
    { name: 'canary', hosts: 1 },
    { name: 'early', hosts: Math.max(1, Math.round(n * 0.2)) },
    { name: 'broad', hosts: 'rest' },
  ];
}

export async function fleetFor(tb: Testbed, opts: FleetForOptions = {}): Promise<TestbedFleet> {
  const dir = opts.dir ?? join(tb.dir, 'fleet');
  const specs = opts.rings ?? defaultRings(tb.hosts.length);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'rings'), { recursive: true });
  await mkdir(join(dir, 'customers'), { recursive: true });
  const schema = (name: string, from: string) => `# yaml-language-server: $schema=${relative(from, join(SCHEMA_DIR, name))}\n`;

  const defaults = {
    image: { repository: tb.imageRepo },
    health: { attempts: opts.health?.attempts ?? 2, intervalSeconds: opts.health?.intervalSeconds ?? 1, timeoutSeconds: opts.health?.timeoutSeconds ?? 5 },
    preflight: { minFreeDiskMb: opts.minFreeDiskMb ?? 512 },
    timeouts: { connectSeconds: 10, commandSeconds: 120, pullSeconds: 300, migrateSeconds: 300, backupSeconds: 300, ...opts.timeouts },
  };
  await writeFile(
    join(dir, 'defaults.yml'),
    schema('defaults.schema.json', dir) + `# Fleet for testbed ${tb.name} (written by test/testbed/fleet.ts)\n` + stringify(defaults),
  );

  const rings: Record<string, string[]> = {};
  const customers: Record<string, TestbedHost> = {};
  let next = 0;
  for (const [i, spec] of specs.entries()) {
    const count = spec.hosts === 'rest' ? tb.hosts.length - next : spec.hosts;
    const members = tb.hosts.slice(next, next + count);
    next += members.length;
    rings[spec.name] = members.map((h) => h.id);
    const following = specs[i + 1];
    const ring: Record<string, unknown> = {
      description: `Testbed ring ${spec.name}`,
      order: i + 1,
      concurrency: spec.concurrency ?? Math.max(1, Math.min(10, members.length)),
      failureBudget: spec.failureBudget ?? 0,
      bakeTime: spec.bakeTime ?? '0m',
    };
    if (following) {
      ring.next = following.name;
      ring.autoPromote = spec.autoPromote ?? true;
    }
    await writeFile(join(dir, 'rings', `${spec.name}.yml`), schema('ring.schema.json', join(dir, 'rings')) + stringify(ring));
    for (const h of members) {
      customers[h.id] = h;
      const customer = {
        displayName: `Testbed ${tb.name} host ${h.id}`,
        ring: spec.name,
        ssh: { host: h.address, port: h.port, user: h.user, hostKey: h.hostKey },
        compose: { dir: h.composeDir, project: h.project },
        sites: [h.site],
        image: { tag: opts.tags?.[h.id] ?? h.initialTag },
        health: { url: h.healthUrl },
        backup: { dir: h.backupDir },
      };
      await writeFile(join(dir, 'customers', `${h.id}.yml`), schema('customer.schema.json', join(dir, 'customers')) + stringify(customer));
    }
  }
  if (next < tb.hosts.length) throw new Error(`fleetFor: rings place ${next} of ${tb.hosts.length} hosts (use hosts: 'rest' on the last ring)`);
  return { dir, customers, rings };
}
