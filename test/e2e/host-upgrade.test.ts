// Happy path on the real testbed: live dry run, upgrade, rerun no-op.
import { describe, expect, it } from 'vitest';
import { customerFor, dockerImageExists, fileExists, logResult, runId, useHostTestbed } from './host-support.js';

const FROM = 'v15.39.0';
const TO = 'v15.40.1';
// Starts on v15.39.0 (other suites on this shared engine use v15.38.0), so
// the old image is not in use elsewhere and prune can really remove it.
const bed = useHostTestbed({ name: 'fk-host-upgrade', hosts: 1, initialTag: FROM });

describe('host upgrade (happy path)', () => {
  const target = TO;

  it('observe sees the host as it is', async () => {
    const h = bed.tb.hosts[0]!;
    const o = await bed.driver.observe(customerFor(bed.tb, h));
    expect(o).toMatchObject({ reachable: true, envTag: FROM, runningTag: FROM, composeConfigValid: true });
    expect(o.layout).toMatchObject({ kind: 'env', variable: 'CUSTOM_TAG' });
    expect(o.services.find((s) => s.service === 'backend')?.state).toBe('running');
    expect(o.configuratorExitCode).toBe(0);
    expect(o.freeDiskMb).toBeGreaterThan(50);
    expect(o.lock).toBeUndefined();
  }, 400_000);

  it('live dry run shows the .env diff and changes nothing', async () => {
    const h = bed.tb.hosts[0]!;
    const r = await bed.driver.converge(customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: target } }), { runId: runId('plan'), mode: 'plan' });
    logResult('plan', r);
    expect(r.outcome).toBe('planned');
    expect(r.fileDiff).toContain(`-CUSTOM_TAG=${FROM}`);
    expect(r.fileDiff).toContain(`+CUSTOM_TAG=${target}`);
    expect(r.steps.find((s) => s.step === 'preflight')?.status).toBe('ok');
    expect(r.steps.find((s) => s.step === 'backup')?.status).toBe('planned');
    expect(await bed.tb.envTag(h.id)).toBe(FROM);
    expect(await bed.tb.runningTag(h.id)).toBe(FROM);
    expect(await bed.tb.dbVersion(h.id)).toBe(FROM);
  }, 400_000);

  it('upgrades: backup verified off the volume, tag set, migrated, healthy, old image pruned', async () => {
    const h = bed.tb.hosts[0]!;
    const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: target } });
    const id = runId('up');
    const r = await bed.driver.converge(c, { runId: id, mode: 'apply', commit: 'abc123' });
    logResult('upgrade', r);
    expect(r.outcome, r.message).toBe('upgraded');
    expect(r.fromTag).toBe(FROM);
    expect(await bed.tb.envTag(h.id)).toBe(target);
    expect(await bed.tb.runningTag(h.id)).toBe(target);
    expect(await bed.tb.dbVersion(h.id)).toBe(target); // migrate ran
    // backup: verified, off the volume, with checksum
    expect(r.backup).toHaveLength(1);
    const b = r.backup![0]!;
    expect(b.path.startsWith(`${c.backup.dir}/${c.id}/${id}/`)).toBe(true);
    expect(b.path).toMatch(/-database\.sql\.gz$/);
    expect(b.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fileExists(b.path)).toBe(true);
    expect(fileExists(`${c.backup.dir}/${c.id}/${id}/manifest.json`)).toBe(true);
    expect(r.steps.find((s) => s.step === 'verify-backup')?.status).toBe('ok');
    // steps in order, all ok
    const order = r.steps.map((s) => s.step);
    expect(order).toEqual(['observe', 'lock', 'preflight', 'backup', 'verify-backup', 'maintenance-on', 'set-tag', 'recreate', 'configurator', 'migrate', 'maintenance-off', 'health', 'prune', 'unlock']);
    expect(r.steps.filter((s) => s.status !== 'ok' && s.status !== 'warning')).toEqual([]);
    // old image removed (nothing else on this engine uses it, unless another testbed does)
    const prune = r.steps.find((s) => s.step === 'prune')!;
    if (prune.status === 'ok') expect(dockerImageExists(`${bed.tb.imageRepo}:${FROM}`)).toBe(false);
    else {
      // Shared engine: another testbed may run the same old tag; docker then refuses, which must be a warning.
      console.log(`prune warning (shared engine): ${prune.message}`);
      expect(prune.message).toMatch(/is using its referenced image|in use|conflict/);
    }
    expect(prune.message).toMatch(new RegExp(`${FROM}`));
    // the .env original is kept
    expect(fileExists(`${h.composeDir}/.env.fleetkeeper-${id}.bak`)).toBe(true);
    expect(r.after).toMatchObject({ envTag: target, runningTag: target });
    expect(r.after?.lock).toBeUndefined();
    expect(bed.driver.connectionsOpened()).toEqual({ [h.id]: 1 });
  }, 400_000);

  it('a rerun is a no-op: unchanged, no backup, no migrate', async () => {
    const h = bed.tb.hosts[0]!;
    const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: target } });
    const r = await bed.driver.converge(c, { runId: runId('again'), mode: 'apply' });
    logResult('rerun', r);
    expect(r.outcome).toBe('unchanged');
    expect(r.steps.map((s) => s.step)).toEqual(['observe', 'health']);
    expect(r.backup).toBeUndefined();
    const health = await bed.driver.checkHealth(c);
    expect(health.healthy).toBe(true);
    expect(bed.driver.connectionsOpened()).toEqual({ [h.id]: 1 });
  }, 400_000);
});
