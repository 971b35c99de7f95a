// Everything that must stop a host before any change: a backup that does not
// verify, too little disk, a wrong host key, an unreachable host, a lock left
// by a crashed run.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync, chownSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { TAGS } from '../testbed/index.js';
import { backupDirFor, customerFor, driverFor, logResult, runId, useHostTestbed } from './host-support.js';

const bed = useHostTestbed({ name: 'fk-host-refuse', hosts: 3, initialTags: { 1: TAGS.badBackup } });

const sshdLog = (id: string) => readFileSync(`${bed.tb.dir}/sshd/${id}/sshd.log`, 'utf8');

describe('refusals: nothing changes', () => {
  it('a host whose backups come out truncated is refused before any change', async () => {
    const h = bed.tb.hosts[1]!;
    const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: 'v15.41.0' } });
    const r = await bed.driver.converge(c, { runId: runId('badbackup'), mode: 'apply' });
    logResult('bad backup', r);
    expect(r.outcome).toBe('refused');
    expect(r.message).toMatch(/no verified backup.*(gzip -t failed|Dump completed)/);
    expect(r.steps.map((s) => s.step)).toEqual(['observe', 'lock', 'preflight', 'backup', 'verify-backup', 'unlock']);
    expect(await bed.tb.envTag(h.id)).toBe(TAGS.badBackup);
    expect(await bed.tb.runningTag(h.id)).toBe(TAGS.badBackup);
    expect((await bed.tb.ping(h.id)).status).toBe(200); // maintenance mode never turned on
    const root = `${backupDirFor(h)}/${h.id}`;
    expect(existsSync(root) ? readdirSync(root) : []).toEqual([]); // no unverified dump kept
  }, 400_000);

  it('too little free disk: preflight refuses', async () => {
    const h = bed.tb.hosts[0]!;
    const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: 'v15.40.1' }, preflight: { minFreeDiskMb: 1_000_000_000 } });
    const r = await bed.driver.converge(c, { runId: runId('disk'), mode: 'apply' });
    logResult('disk', r);
    expect(r.outcome).toBe('refused');
    expect(r.message).toMatch(/not enough free disk: \d+ MiB free, 1000000000 MiB required/);
    expect(r.steps.some((s) => s.step === 'backup')).toBe(false);
    expect(await bed.tb.envTag(h.id)).toBe(TAGS.initial);
    expect(await bed.tb.runningTag(h.id)).toBe(TAGS.initial);
  }, 300_000);

  it('a wrong host key is refused before login; nothing runs', async () => {
    const h = bed.tb.hosts[0]!;
    const other = bed.tb.hosts[2]!;
    const d = driverFor(bed.tb);
    const before = sshdLog(h.id);
    const c = customerFor(bed.tb, h, { ssh: { host: h.address, port: h.port, user: h.user, hostKey: other.hostKey } });
    const r = await d.converge({ ...c, image: { ...c.image, tag: 'v15.40.1' } }, { runId: runId('hostkey'), mode: 'apply' });
    await d.close();
    logResult('wrong host key', r);
    expect(r.outcome).toBe('refused');
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]).toMatchObject({ step: 'connect', status: 'failed' });
    expect(r.message).toContain(`expected ${other.hostKey}`);
    expect(r.message).toContain(`host presented ${h.hostKey}`);
    expect(r.message).toMatch(/Nothing was run/);
    expect(d.connectionsOpened()[h.id] ?? 0).toBe(0);
    await new Promise((res) => setTimeout(res, 300));
    const added = sshdLog(h.id).slice(before.length);
    expect(added).not.toMatch(/Accepted publickey|Failed publickey|session opened/); // never got to authentication
    const obs = await driverFor(bed.tb).observe({ ...c });
    expect(obs).toMatchObject({ reachable: false });
    expect(obs.error).toMatch(/host key mismatch/);
  }, 60_000);

  it('an unused loopback address: clear error within the timeout', async () => {
    const h = bed.tb.hosts[0]!;
    const c = customerFor(bed.tb, h, { ssh: { host: '127.77.253.1', port: 22, user: h.user, hostKey: h.hostKey } });
    const t0 = Date.now();
    const r = await bed.driver.converge(c, { runId: runId('unreach'), mode: 'apply' });
    logResult('unused address', r);
    expect(Date.now() - t0).toBeLessThan(c.timeouts.connectSeconds * 1000 + 2000);
    expect(r.outcome).toBe('refused');
    expect(r.message).toMatch(/cannot connect \(unreachable\).*ECONNREFUSED.*Nothing changed/);
  }, 30_000);

  it('a peer that never answers the handshake: timeout error within the bound', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((res) => silent.listen(2222, '127.77.253.2', res));
    try {
      const h = bed.tb.hosts[0]!;
      const c = customerFor(bed.tb, h, { id: 'silent', ssh: { host: '127.77.253.2', port: 2222, user: h.user, hostKey: h.hostKey } });
      c.timeouts = { ...c.timeouts, connectSeconds: 2 };
      const t0 = Date.now();
      const r = await bed.driver.converge(c, { runId: runId('silent'), mode: 'plan' });
      logResult('silent peer', r);
      expect(Date.now() - t0).toBeLessThan(4500);
      expect(r.outcome).toBe('refused');
      expect(r.message).toMatch(/cannot connect \(timeout\).*no SSH handshake within 2s/);
    } finally {
      silent.close();
    }
  }, 30_000);

  it('sshd stopped: unreachable, and fine again once it is back', async () => {
    const h = bed.tb.hosts[2]!;
    const c = customerFor(bed.tb, h);
    await bed.tb.stopSshd(h.id);
    try {
      const t0 = Date.now();
      const o = await bed.driver.observe(c);
      expect(Date.now() - t0).toBeLessThan(c.timeouts.connectSeconds * 1000 + 2000);
      expect(o.reachable).toBe(false);
      expect(o.error).toMatch(/unreachable.*ECONNREFUSED/);
    } finally {
      await bed.tb.startSshd(h.id);
    }
    await new Promise((res) => setTimeout(res, 3100)); // past the bed.driver's fail-fast window
    const o = await bed.driver.observe(c);
    expect(o).toMatchObject({ reachable: true, envTag: TAGS.initial });
  }, 60_000);

  it('a lock left by a crashed run is reported (who, since when, how to clear) and refuses', async () => {
    const h = bed.tb.hosts[0]!;
    const state = `${h.composeDir}/.fleetkeeper`;
    mkdirSync(state, { recursive: true });
    const { uid, gid } = statSync(h.composeDir);
    chownSync(state, uid, gid);
    writeFileSync(`${state}/lock`, '');
    writeFileSync(
      `${state}/lock.json`,
      JSON.stringify({ runId: 'crashed-run-42', commit: 'deadbeefcafe', pid: 999999, since: '2026-01-02T03:04:05Z', leaseUntil: '2026-01-02T05:04:05Z', bootId: 'x' }) + '\n',
    );
    try {
      const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: 'v15.40.1' } });
      const o = await bed.driver.observe(c);
      expect(o.lock).toMatchObject({ runId: 'crashed-run-42', stale: true, since: '2026-01-02T03:04:05Z' });
      for (const mode of ['plan', 'apply'] as const) {
        const r = await bed.driver.converge(c, { runId: runId('locked'), mode });
        logResult(`stale lock (${mode})`, r);
        expect(r.outcome).toBe('refused');
        expect(r.message).toMatch(/crashed or interrupted run crashed-run-42 \(commit deadbeefcafe\) since 2026-01-02T03:04:05Z/);
        expect(r.message).toContain(`rm ${state}/lock.json`);
        expect(r.steps.map((s) => s.step)).toEqual(['observe']);
      }
      expect(await bed.tb.envTag(h.id)).toBe(TAGS.initial);
      expect(existsSync(`${state}/lock.json`)).toBe(true); // never silently cleared
    } finally {
      rmSync(`${state}/lock.json`, { force: true });
    }
    // once cleared by a person, the host can be planned again
    const r = await bed.driver.converge(customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: 'v15.40.1' } }), { runId: runId('after'), mode: 'plan' });
    expect(r.outcome).toBe('planned');
  }, 300_000);

  it('a tag baked into the compose file (not from .env) is refused clearly', async () => {
    const h = bed.tb.hosts[2]!;
    const file = `${h.composeDir}/compose.yaml`;
    const original = readFileSync(file, 'utf8');
    const baked = original.replace('image: ${CUSTOM_IMAGE:-frappe/erpnext}:${CUSTOM_TAG:-$ERPNEXT_VERSION}', `image: ${bed.tb.imageRepo}:${TAGS.initial}`);
    expect(baked).not.toBe(original);
    writeFileSync(file, baked); // keeps the deploy user's ownership
    try {
      const c = customerFor(bed.tb, h, { image: { repository: bed.tb.imageRepo, tag: 'v15.40.1' } });
      const o = await bed.driver.observe(c);
      expect(o.layout).toEqual({ kind: 'baked', file: 'compose.yaml (default)' });
      const r = await bed.driver.converge(c, { runId: runId('baked'), mode: 'apply' });
      logResult('baked tag', r);
      expect(r.outcome).toBe('refused');
      expect(r.message).toMatch(/unsupported layout: the image tag is written into compose.yaml \(default\), not taken from .env/);
      expect(r.steps.some((s) => s.step === 'backup')).toBe(false);
      expect(readFileSync(file, 'utf8')).toBe(baked);
    } finally {
      writeFileSync(file, original);
    }
  }, 300_000);
});
