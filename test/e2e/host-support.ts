// Shared bits of the host-procedure e2e tests: Customer objects for testbed
// hosts (built directly, shaped like the fleet loader's output), an SSH
// driver with the testbed key, and small readers of host state.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Customer } from '../../src/fleet/types.js';
import type { HostResult } from '../../src/host/types.js';
import { createSshDriver } from '../../src/host/driver-ssh.js';
import { loadSshCredentials } from '../../src/ssh/credentials.js';
import { afterAll, beforeAll } from 'vitest';
import type { HostDriver } from '../../src/host/types.js';
import { startTestbed, type Testbed, type TestbedHost } from '../testbed/index.js';

type StartOptions = Parameters<typeof startTestbed>[0];

export function customerFor(tb: Testbed, h: TestbedHost, over: Partial<Customer> = {}): Customer {
  return {
    id: h.id,
    file: `customers/${h.id}.yml`,
    ring: 'canary',
    ssh: { host: h.address, port: h.port, user: h.user, hostKey: h.hostKey },
    compose: { dir: h.composeDir, project: h.project, files: [] },
    sites: [h.site],
    image: { repository: tb.imageRepo, tag: h.initialTag },
    backup: { dir: backupDirFor(h), keep: 2, withFiles: false, minSizeRatio: 0.5 },
    health: { url: h.healthUrl, attempts: 3, intervalSeconds: 1, timeoutSeconds: 5 },
    preflight: { minFreeDiskMb: 50 },
    timeouts: { connectSeconds: 5, commandSeconds: 60, pullSeconds: 120, migrateSeconds: 300, backupSeconds: 120 },
    ...over,
  };
}

/** Backups go next to the compose dir, on the host, outside any volume. */
export function backupDirFor(h: TestbedHost): string {
  return `${h.composeDir.replace(/\/[^/]+\/?$/, '')}/fleetkeeper-backups`;
}

export function driverFor(tb: Testbed) {
  return createSshDriver({ credentials: loadSshCredentials({ FLEETKEEPER_SSH_KEY_FILE: tb.privateKeyPath }) });
}

/** How many times the stand-in DB saw a migrate start towards `version`. */
export async function migrateStarts(tb: Testbed, hostId: string, version: string): Promise<number> {
  const { history } = await tb.dbState(hostId);
  return history.filter((l) => l.includes('migrate-start') && l.includes(`to=${version}`)).length;
}

export function dockerImageExists(ref: string): boolean {
  try {
    execFileSync('docker', ['image', 'inspect', ref], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function fileExists(p: string): boolean {
  return existsSync(p);
}

/** One line per step, for readable test output and failure messages. */
export function stepLines(r: HostResult): string {
  return r.steps.map((s) => `${s.step.padEnd(15)} ${s.status.padEnd(8)} ${String(s.durationMs).padStart(6)}ms  ${s.message}`).join('\n');
}

export function logResult(title: string, r: HostResult): void {
  console.log(`\n=== ${title}: ${r.outcome} in ${r.durationMs} ms — ${r.message}\n${stepLines(r)}`);
}

let seq = 0;
export const runId = (tag: string) => `${tag}-${Date.now().toString(36)}-${seq++}`;

/**
 * One testbed and one SSH driver for a test file, started before its tests
 * and torn down after them. The name gets the pid so concurrent runs of the
 * same file never share (or tear down) each other's hosts.
 */
export function useHostTestbed(opts: StartOptions): { tb: Testbed; driver: HostDriver } {
  const bed = {} as { tb: Testbed; driver: HostDriver };
  beforeAll(async () => {
    bed.tb = await startTestbed({ ...opts, name: `${opts.name}-${process.pid % 100000}` });
    bed.driver = driverFor(bed.tb);
  }, 900_000);
  afterAll(async () => {
    await bed.driver?.close();
    await bed.tb?.stop();
  }, 300_000);
  return bed;
}
