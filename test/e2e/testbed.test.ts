// The testbed itself, checked the way the host procedure will use it: the
// real `ssh` client with strict host key checking, docker compose over SSH,
// the frontend's ping, and the stand-in's backup/migrate/restore behaviour
// for every tag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exec, type ExecResult } from '../testbed/exec.js';
import { fleetFor, startTestbed, TAGS, type Testbed, type TestbedHost } from '../testbed/index.js';
import { loadFleet, LocalDirSource } from '../../src/fleet/index.js';

let tb: Testbed;
let knownHosts: string;

function ssh(h: TestbedHost, cmd: string, opts: { knownHostsFile?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return exec('ssh', [
    '-i', tb.privateKeyPath,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${opts.knownHostsFile ?? knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=5',
    '-p', String(h.port),
    `${h.user}@${h.address}`,
    cmd,
  ], { timeoutMs: opts.timeoutMs ?? 60_000 });
}

/** A shell command run in the host's compose dir over SSH; fails the test on a non-zero exit. */
async function onHost(h: TestbedHost, cmd: string, timeoutMs?: number): Promise<string> {
  const r = await ssh(h, `cd '${h.composeDir}' && ${cmd}`, { timeoutMs });
  if (r.code !== 0) throw new Error(`${h.id}: ${cmd} -> exit ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

async function setTag(h: TestbedHost, tag: string): Promise<void> {
  await onHost(h, `sed -i 's/^CUSTOM_TAG=.*/CUSTOM_TAG=${tag}/' .env && docker compose up -d --remove-orphans --quiet-pull`);
}

/** Takes a backup in the backend, copies it off the volume to the deploy user's home, returns its host path. */
async function backupOffVolume(h: TestbedHost): Promise<{ path: string; output: string }> {
  const output = await onHost(h, `docker compose exec -T backend bench --site all backup`);
  const rel = output.match(/^Database:\s+(\S+-database\.sql\.gz)/m)?.[1];
  expect(rel, output).toBeDefined();
  const inContainer = `/home/frappe/frappe-bench/sites/${rel!.replace(/^\.\//, '')}`;
  const name = inContainer.split('/').pop()!;
  await onHost(h, `mkdir -p ~/backups && docker compose cp backend:${inContainer} ~/backups/${name}`);
  return { path: `/home/${h.user}/backups/${name}`, output };
}

beforeAll(async () => {
  tb = await startTestbed({ name: `e2e-testbed-${process.pid}`, hosts: 2, initialTags: { 1: TAGS.badBackup } });
  // known_hosts from what the hosts present, checked against the fingerprints the testbed reports.
  const lines: string[] = [];
  for (const h of tb.hosts) {
    const scan = await exec('ssh-keyscan', ['-t', 'ed25519', '-p', String(h.port), h.address]);
    const line = scan.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
    expect(line, scan.stderr).toBeDefined();
    const fp = await exec('ssh-keygen', ['-l', '-f', '-'], { input: line! + '\n' });
    expect(fp.stdout.split(' ')[1]).toBe(h.hostKey);
    lines.push(line!);
  }
  knownHosts = join(tb.dir, 'e2e_known_hosts');
  await writeFile(knownHosts, lines.join('\n') + '\n');
}, 300_000);

afterAll(async () => {
  if (!tb) return;
  const { name, dir, hosts } = tb;
  await tb.stop();
  // Nothing left behind.
  const left = await exec('docker', ['ps', '-aq', '--filter', `label=fk.testbed=${name}`]);
  expect(left.stdout.trim()).toBe('');
  const vols = await exec('docker', ['volume', 'ls', '-q', '--filter', `label=fk.testbed=${name}`]);
  expect(vols.stdout.trim()).toBe('');
  const nets = await exec('docker', ['network', 'ls', '-q', '--filter', `label=fk.testbed=${name}`]);
  expect(nets.stdout.trim()).toBe('');
  expect(existsSync(dir)).toBe(false);
  for (const h of hosts) {
    const r = await exec('ssh', ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', `${h.user}@${h.address}`, 'true']);
    expect(r.code).toBe(255);
  }
}, 120_000);

describe('testbed system', () => {
  // Regression: dockerd once inherited system.sh's lock fd, so every later `start` hung.
  it('system.sh start is idempotent and can run concurrently', async () => {
    const script = join(import.meta.dirname, '../testbed/system.sh');
    const t0 = Date.now();
    const runs = await Promise.all([1, 2, 3].map(() => exec('bash', [script, 'start'], { timeoutMs: 60_000 })));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(60_000);
    const status = await exec('bash', [script, 'status']);
    expect(status.code, status.stdout).toBe(0);
    for (const tag of [...TAGS.good, TAGS.unhealthy, TAGS.migrateFails, TAGS.badBackup, TAGS.slowMigrate]) {
      expect(status.stdout).toContain(`127.0.0.1:5000/erpnext:${tag}: present`);
    }
  }, 90_000);
});

describe('testbed hosts', () => {
  it('describes each host consistently', () => {
    expect(tb.hosts.map((h) => h.id)).toEqual(['h001', 'h002']);
    expect(tb.registry).toBe('127.0.0.1:5000');
    expect(tb.imageRepo).toBe('127.0.0.1:5000/erpnext');
    const [a, b] = tb.hosts as [TestbedHost, TestbedHost];
    expect(a.address).not.toBe(b.address);
    expect(a.address).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(a.hostKey).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(a.hostKey).not.toBe(b.hostKey);
    expect(a.project).not.toBe(b.project);
    expect(a.healthUrl).toBe(`http://${a.address}:8080`);
    expect(a.initialTag).toBe(TAGS.initial);
    expect(b.initialTag).toBe(TAGS.badBackup);
  });

  it('lets the deploy user in with the key only, as a non-root member of docker', async () => {
    const h = tb.host('h001');
    const id = await ssh(h, 'id -un; id -u; id -Gn');
    expect(id.code, id.stderr).toBe(0);
    const [user, uid, groups] = id.stdout.trim().split('\n');
    expect(user).toBe(h.user);
    expect(uid).not.toBe('0');
    expect(groups!.split(' ')).toContain('docker');
    // Another host's user is not allowed here, and root never is.
    const other = { ...h, user: tb.host('h002').user };
    expect((await ssh(other, 'true')).code).toBe(255);
    expect((await ssh({ ...h, user: 'root' }, 'true')).code).toBe(255);
  });

  it('is refused by a client that expects a different host key', async () => {
    const h = tb.host('h001');
    const wrong = join(tb.dir, 'e2e_wrong_known_hosts');
    const b = await exec('ssh-keyscan', ['-t', 'ed25519', tb.host('h002').address]);
    await writeFile(wrong, b.stdout.replace(tb.host('h002').address, h.address));
    const r = await ssh(h, 'touch /tmp/should-not-exist', { knownHostsFile: wrong });
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('runs a frappe_docker-shaped project: configurator done, the rest running', async () => {
    const h = tb.host('h001');
    const ps = await onHost(h, `docker compose ps -a --format '{{.Service}} {{.State}} {{.ExitCode}} {{.Image}}'`);
    const rows = Object.fromEntries(ps.trim().split('\n').map((l) => { const [s, ...rest] = l.split(' '); return [s, rest]; }));
    expect(Object.keys(rows).sort()).toEqual(['backend', 'configurator', 'frontend', 'queue-long', 'queue-short', 'scheduler', 'websocket']);
    expect(rows.configurator!.slice(0, 2)).toEqual(['exited', '0']);
    for (const s of ['backend', 'frontend', 'queue-long', 'queue-short', 'scheduler', 'websocket']) {
      expect(rows[s]![0], s).toBe('running');
      expect(rows[s]![2]).toBe(`127.0.0.1:5000/erpnext:${TAGS.initial}`);
    }
    const compose = await onHost(h, 'cat compose.yaml');
    expect(compose).toContain('image: ${CUSTOM_IMAGE:-frappe/erpnext}:${CUSTOM_TAG:-$ERPNEXT_VERSION}');
    expect(compose).toContain('condition: service_completed_successfully');
    const common = await onHost(h, 'docker compose exec -T backend cat sites/common_site_config.json');
    expect(JSON.parse(common)).toMatchObject({ db_host: 'db', db_port: 3306, socketio_port: 9000 });
    expect(await tb.envTag('h001')).toBe(TAGS.initial);
    expect(await tb.runningTag('h001')).toBe(TAGS.initial);
    expect(await tb.dbVersion('h001')).toBe(TAGS.initial);
  });

  it('answers pong for the site, and only for the site', async () => {
    const h = tb.host('h001');
    expect(await tb.ping('h001')).toEqual({ status: 200, body: '{"message":"pong"}' });
    const noHost = await exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${h.healthUrl}/api/method/ping`]);
    expect(noHost.stdout).toBe('404');
    const viaCurl = await exec('curl', ['-s', '-H', `Host: ${h.site}`, `${h.healthUrl}/api/method/ping`]);
    expect(viaCurl.stdout).toBe('{"message":"pong"}');
  });

  it('takes frappe-style backups that verify', async () => {
    const h = tb.host('h001');
    const { path, output } = await backupOffVolume(h);
    expect(output).toContain(`Backup for Site ${h.site} has been successfully completed`);
    expect(output).toMatch(/^Config {2}: \.\/h001\.erp\.test\/private\/backups\/\d{8}_\d{6}-h001_erp_test-site_config_backup\.json/m);
    expect(path).toMatch(/\/\d{8}_\d{6}-h001_erp_test-database\.sql\.gz$/);
    const check = await ssh(h, `gzip -t '${path}' && zcat '${path}' | tail -n 1 && stat -c %s '${path}'`);
    expect(check.code, check.stderr).toBe(0);
    const [last, size] = check.stdout.trim().split('\n');
    expect(last).toMatch(/^-- Dump completed on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(Number(size)).toBeGreaterThan(500);
    const files = await onHost(h, 'docker compose exec -T backend bench --site h001.erp.test backup --with-files');
    expect(files).toMatch(/^Public {2}: .*-h001_erp_test-files\.tar/m);
    expect(files).toMatch(/^Private : .*-h001_erp_test-private-files\.tar/m);
  });

  it('badbackup tag: bench reports success but the dump is truncated', async () => {
    const h = tb.host('h002');
    expect(await tb.ping('h002')).toMatchObject({ status: 200 });
    const { path, output } = await backupOffVolume(h);
    expect(output).toContain('has been successfully completed');
    const t = await ssh(h, `gzip -t '${path}'`);
    expect(t.code).not.toBe(0);
    const tail = await ssh(h, `zcat '${path}' 2>/dev/null | tail -n 1`);
    expect(tail.stdout).not.toContain('-- Dump completed');
  });

  it('new tag without migrate is unhealthy; migrate makes it healthy', async () => {
    const h = tb.host('h001');
    await setTag(h, 'v15.40.1');
    expect(await tb.runningTag('h001')).toBe('v15.40.1');
    const before = await tb.ping('h001');
    expect(before.status).toBe(500);
    expect(before.body).toContain('run bench migrate');
    await onHost(h, `docker compose exec -T backend bench --site ${h.site} set-maintenance-mode on`);
    expect((await tb.ping('h001')).status).toBe(503);
    const m = await onHost(h, `docker compose exec -T backend bench --site ${h.site} migrate`);
    expect(m).toContain(`Migrating ${h.site}`);
    expect((await tb.ping('h001')).status).toBe(503);
    await onHost(h, `docker compose exec -T backend bench --site ${h.site} set-maintenance-mode off`);
    expect(await tb.ping('h001')).toEqual({ status: 200, body: '{"message":"pong"}' });
    expect(await tb.dbVersion('h001')).toBe('v15.40.1');
  }, 60_000);

  it('refuses to migrate down: going back needs a restore of the old backup', async () => {
    const h = tb.host('h001');
    await setTag(h, TAGS.initial); // the database is at v15.40.1 now
    expect((await tb.ping('h001')).status).toBe(500);
    const m = await ssh(h, `cd '${h.composeDir}' && docker compose exec -T backend bench --site ${h.site} migrate`);
    expect(m.code).not.toBe(0);
    expect(m.stderr).toContain('Downgrade not supported');
    expect(await tb.dbVersion('h001')).toBe('v15.40.1');
    // Restore the first backup taken in this file (at v15.38.0), copied back into the container.
    const first = (await onHost(h, 'ls -1 ~/backups/*h001_erp_test-database.sql.gz | head -n 1')).trim();
    await onHost(h, `docker compose cp '${first}' backend:/tmp/restore.sql.gz && docker compose exec -T backend bench --site ${h.site} restore /tmp/restore.sql.gz --force`);
    expect(await tb.dbVersion('h001')).toBe(TAGS.initial);
    expect(await tb.ping('h001')).toEqual({ status: 200, body: '{"message":"pong"}' });
  }, 90_000);

  it('unhealthy tag never answers pong, migrated or not', async () => {
    const h = tb.host('h001');
    await setTag(h, TAGS.unhealthy);
    await onHost(h, `docker compose exec -T backend bench --site ${h.site} migrate`);
    expect(await tb.dbVersion('h001')).toBe('v15.41.0');
    for (let i = 0; i < 3; i++) expect((await tb.ping('h001')).status).toBe(502);
    // Back to a good tag of the same version: healthy again without a restore.
    await setTag(h, 'v15.41.0');
    expect(await tb.ping('h001')).toEqual({ status: 200, body: '{"message":"pong"}' });
  }, 60_000);

  it('migratefail tag: migrate exits non-zero after changing the database; restore repairs it', async () => {
    const h = tb.host('h001');
    const { path } = await backupOffVolume(h); // v15.41.0, healthy
    await setTag(h, TAGS.migrateFails);
    const m = await ssh(h, `cd '${h.composeDir}' && docker compose exec -T backend bench --site ${h.site} migrate`);
    expect(m.code).not.toBe(0);
    expect(await tb.dbVersion('h001')).toBe('v15.41.0-partial');
    await setTag(h, 'v15.40.1');
    expect((await tb.ping('h001')).status).toBe(500);
    const again = await ssh(h, `cd '${h.composeDir}' && docker compose exec -T backend bench --site ${h.site} migrate`);
    expect(again.code).not.toBe(0);
    await setTag(h, 'v15.41.0');
    await onHost(h, `docker compose cp '${path}' backend:/tmp/restore.sql.gz && docker compose exec -T backend bench --site ${h.site} restore /tmp/restore.sql.gz --force`);
    expect(await tb.dbVersion('h001')).toBe('v15.41.0');
    expect(await tb.ping('h001')).toEqual({ status: 200, body: '{"message":"pong"}' });
    // A truncated dump is refused by restore and the database stays as it was.
    const cut = await ssh(h, `head -c 300 '${path}' > ~/cut.sql.gz && cd '${h.composeDir}' && docker compose cp ~/cut.sql.gz backend:/tmp/cut.sql.gz && docker compose exec -T backend bench --site ${h.site} restore /tmp/cut.sql.gz --force`);
    expect(cut.code).not.toBe(0);
    expect(await tb.dbVersion('h001')).toBe('v15.41.0');
  }, 90_000);

  it('slowmigrate: a migrate outlives a cut SSH connection and runs exactly once', async () => {
    const h = tb.host('h001');
    await setTag(h, TAGS.initial);
    // v15.41.0 DB on the v15.38.0 image: restore the first backup to get back to the old schema.
    const first = (await onHost(h, 'ls -1 ~/backups/*h001_erp_test-database.sql.gz | head -n 1')).trim();
    await onHost(h, `docker compose cp '${first}' backend:/tmp/restore.sql.gz && docker compose exec -T backend bench --site ${h.site} restore /tmp/restore.sql.gz --force`);
    expect(await tb.dbVersion('h001')).toBe(TAGS.initial);
    await setTag(h, TAGS.slowMigrate);
    const seen = (await tb.dbState('h001')).history.length;
    const started = Date.now();
    const pending = ssh(h, `cd '${h.composeDir}' && docker compose exec -T backend bench --site ${h.site} migrate`, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 4000));
    await tb.killSshSessions('h001');
    const cut = await pending;
    expect(cut.code).toBe(255); // the client saw the connection drop
    expect(Date.now() - started).toBeLessThan(15_000);
    // The sshd listener still takes new connections.
    expect((await ssh(h, 'true')).code).toBe(0);
    // The migrate goes on inside the container and finishes once.
    const deadline = Date.now() + 40_000;
    while ((await tb.dbVersion('h001')) !== 'v15.41.0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
    expect(await tb.dbVersion('h001')).toBe('v15.41.0');
    const events = (await tb.dbState('h001')).history.slice(seen).map((l) => l.replace(/^\S+ \S+ /, ''));
    expect(events).toEqual([`migrate-start from=${TAGS.initial} to=v15.41.0`, `migrate-done from=${TAGS.initial} to=v15.41.0`]);
    expect(await tb.ping('h001')).toEqual({ status: 200, body: '{"message":"pong"}' });
  }, 120_000);

  it('containers stop promptly on SIGTERM', async () => {
    const h = tb.host('h002');
    const t0 = Date.now();
    await onHost(h, 'docker compose stop -t 10');
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(await tb.runningTag('h002')).toBeUndefined();
    expect((await tb.ping('h002').catch((e: Error) => ({ status: 0, body: e.message }))).status).toBe(0);
    await onHost(h, 'docker compose up -d');
    expect(await tb.runningTag('h002')).toBe(TAGS.badBackup);
  }, 60_000);

  it('can take a host off the network and back', async () => {
    const h = tb.host('h002');
    await tb.stopSshd('h002');
    const r = await ssh(h, 'true');
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Connection refused/);
    await tb.startSshd('h002');
    expect((await ssh(h, 'true')).code).toBe(0);
  });

  it('can make a host hang at the SSH handshake and recover', async () => {
    const h = tb.host('h002');
    await tb.pauseSshd('h002');
    try {
      const t0 = Date.now();
      // ConnectTimeout covers the banner exchange too: no answer within 3 s.
      const r = await exec('ssh', ['-i', tb.privateKeyPath, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3', '-o', `UserKnownHostsFile=${knownHosts}`, `${h.user}@${h.address}`, 'true'], { timeoutMs: 20_000 });
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/timed out/i);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await tb.resumeSshd('h002');
    }
    expect((await ssh(h, 'true')).code).toBe(0);
  }, 30_000);

  it('runs local assertions as the deploy user', async () => {
    const r = await tb.sh('h002', 'id -un && pwd && docker compose ps -q backend | wc -l');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([tb.host('h002').user, tb.host('h002').composeDir, '1']);
  });

  it('writes a fleet repo for its hosts that the fleet loader accepts', async () => {
    const f = await fleetFor(tb, { tags: { h001: 'v15.40.1' } });
    const loaded = await loadFleet(new LocalDirSource(f.dir));
    if (!loaded.ok) throw new Error(loaded.errors.map((e) => `${e.file}:${e.line} ${e.path}: ${e.message}`).join('\n'));
    const c = loaded.fleet.customers['h001'];
    const h = tb.host('h001');
    expect(c).toMatchObject({
      ring: 'canary',
      ssh: { host: h.address, port: 22, user: h.user, hostKey: h.hostKey },
      compose: { dir: h.composeDir, project: h.project },
      sites: [h.site],
      image: { repository: tb.imageRepo, tag: 'v15.40.1' },
      health: { url: h.healthUrl },
      backup: { dir: h.backupDir },
    });
    expect(f.rings).toEqual({ canary: ['h001'], broad: ['h002'] });
    // The backup dir is the deploy user's to write.
    const w = await tb.sh('h001', `touch '${h.backupDir}/probe' && rm '${h.backupDir}/probe'`);
    expect(w.code, w.stderr).toBe(0);
  });
});
