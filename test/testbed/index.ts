// e2e testbed: N simulated customer hosts on this machine. Each host is an
// sshd on its own loopback address (127.77.B.H:22, B = a block allocated per
// testbed under a lock, so concurrent testbeds never collide), its own deploy
// user in the docker group (key-only login), and a frappe_docker-shaped
// compose project on the shared Docker engine running stand-in ERPNext images
// from the registry on 127.0.0.1:5000. See README.md.
import { mkdir, readFile, readdir, rm, writeFile, chmod, chown } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { composeYaml, dotEnv } from './compose.js';
import { cleanEnv, exec, run, type ExecResult } from './exec.js';

export interface TestbedHost {
  id: string;
  address: string;
  port: number;
  user: string;
  /** SHA256:... as `ssh-keygen -lf` prints it */
  hostKey: string;
  composeDir: string;
  project: string;
  site: string;
  /** http://127.X.Y.Z:8080 — send `Host: <site>` */
  healthUrl: string;
  initialTag: string;
  /** A directory on the host the deploy user owns, for verified backups copied off the volume. */
  backupDir: string;
}

export interface DbState {
  /** schema_version of the stand-in database ("" when there is none). */
  schemaVersion: string;
  /** migrate/restore history of the site, one line per event (survives restores). */
  history: string[];
}

export interface Testbed {
  name: string;
  hosts: TestbedHost[];
  registry: string;
  imageRepo: string;
  privateKeyPath: string;
  /** known_hosts with every host's key (for the `ssh` client). */
  knownHostsPath: string;
  dir: string;
  host(hostId: string): TestbedHost;
  /** Runs `sh -c cmd` as the host's deploy user, locally, in its compose dir (for assertions). */
  sh(hostId: string, cmd: string): Promise<ExecResult>;
  dbVersion(hostId: string): Promise<string>;
  dbState(hostId: string): Promise<DbState>;
  envTag(hostId: string): Promise<string>;
  /** Tag of the image the backend container runs; undefined when it does not run. */
  runningTag(hostId: string): Promise<string | undefined>;
  /** GET /api/method/ping with the site's Host header. */
  ping(hostId: string, timeoutMs?: number): Promise<{ status: number; body: string }>;
  /** Kills the host's established sshd session processes (not the listener): connections drop. */
  killSshSessions(hostId: string): Promise<void>;
  stopSshd(hostId: string): Promise<void>;
  startSshd(hostId: string): Promise<void>;
  /**
   * Freezes the host's sshd listener (SIGSTOP): TCP connects still succeed
   * (kernel backlog) but no SSH banner ever comes, like a hung or blackholed
   * host. Established sessions are not affected. resumeSshd undoes it.
   */
  pauseSshd(hostId: string): Promise<void>;
  resumeSshd(hostId: string): Promise<void>;
  /** compose down -v for every host, kill sshds, remove dirs. */
  stop(): Promise<void>;
}

export const TAGS = {
  initial: 'v15.38.0',
  good: ['v15.38.0', 'v15.39.0', 'v15.40.1', 'v15.41.0'],
  unhealthy: 'v15.41.0-unhealthy',
  migrateFails: 'v15.41.0-migratefail',
  badBackup: 'v15.41.0-badbackup',
  slowMigrate: 'v15.41.0-slowmigrate',
} as const satisfies {
  initial: 'v15.38.0';
  good: readonly string[];
  unhealthy: string;
  migrateFails: string;
  badBackup: string;
  slowMigrate: string;
};

export const REGISTRY = '127.0.0.1:5000';
export const IMAGE_REPO = `${REGISTRY}/erpnext`;
/** Every testbed lives under here, one directory per testbed name. */
export const TESTBED_ROOT = '/srv/fk-testbed';
const STATE = '/var/lib/fk-testbed';
const HERE = dirname(fileURLToPath(import.meta.url));
const MAX_HOSTS = 250;
const MAX_BLOCKS = 250;
const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** Image version a tag's stand-in migrates the DB to (the tag without its variant suffix). */
export function versionOfTag(tag: string): string {
  return tag.replace(/-(unhealthy|migratefail|badbackup|slowmigrate)$/, '');
}

let systemReady: Promise<void> | undefined;
/** Starts dockerd, the registry and pushes the stand-in images if needed (idempotent). */
export function ensureSystem(): Promise<void> {
  systemReady ??= run('bash', [join(HERE, 'system.sh'), 'start'], { timeoutMs: 600_000, env: cleanEnv() }).then(
    () => undefined,
    (e: unknown) => {
      systemReady = undefined;
      throw e;
    },
  );
  return systemReady;
}

// ---------------------------------------------------------------- persisted state

interface TestbedRecord {
  name: string;
  block: number;
  dir: string;
  privateKeyPath: string;
  knownHostsPath: string;
  hosts: TestbedHost[];
  /** Per host: where its sshd lives. */
  sshd: Record<string, { config: string; pidFile: string; log: string }>;
  createdAt: string;
  /** Process that started it; a testbed not marked `keep` dies with it (reaped by the next start). */
  ownerPid: number;
  keep: boolean;
}

const recordPath = (dir: string) => join(dir, 'testbed.json');

// ---------------------------------------------------------------- start

export interface StartOptions {
  name: string;
  hosts: number;
  initialTag?: string;
  /** By host index (0-based). */
  initialTags?: Record<number, string>;
  /** How many hosts are brought up at once (default 6). */
  concurrency?: number;
  /** Progress lines (bring-up of many hosts takes a while). */
  log?: (line: string) => void;
  /**
   * Keep the testbed after this process exits (CLI, demo). Otherwise a later
   * startTestbed tears it down once this process is gone, so a crashed test
   * run does not leak hosts.
   */
  keep?: boolean;
}

export async function startTestbed(opts: StartOptions): Promise<Testbed> {
  if (!NAME_PATTERN.test(opts.name)) throw new Error(`testbed name ${JSON.stringify(opts.name)} must match ${NAME_PATTERN}`);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_HOSTS) throw new Error(`hosts must be 1..${MAX_HOSTS}`);
  const allTags = new Set<string>([...TAGS.good, TAGS.unhealthy, TAGS.migrateFails, TAGS.badBackup, TAGS.slowMigrate]);
  const tagOf = (i: number) => opts.initialTags?.[i] ?? opts.initialTag ?? TAGS.initial;
  for (let i = 0; i < opts.hosts; i++) {
    if (!allTags.has(tagOf(i))) throw new Error(`host ${i}: unknown stand-in tag ${tagOf(i)}`);
  }
  const log = opts.log ?? (() => {});
  await ensureSystem();
  await reapOrphans(log);

  const dir = join(TESTBED_ROOT, opts.name);
  if (existsSync(recordPath(dir))) {
    log(`testbed ${opts.name} exists (left by an earlier run): tearing it down first`);
    await stopTestbedByName(opts.name);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(TESTBED_ROOT, 0o755);
  const block = await allocateBlock(opts.name);

  const hosts: TestbedHost[] = [];
  const sshd: TestbedRecord['sshd'] = {};
  for (let i = 0; i < opts.hosts; i++) {
    const id = `h${String(i + 1).padStart(3, '0')}`;
    const address = `127.77.${block}.${i + 1}`;
    const hostDir = join(dir, id);
    hosts.push({
      id,
      address,
      port: 22,
      user: `fkb${block}${id}`,
      hostKey: '',
      composeDir: join(hostDir, 'frappe_docker'),
      project: `fkt-${opts.name}-${id}`,
      site: `${id}.erp.test`,
      healthUrl: `http://${address}:8080`,
      initialTag: tagOf(i),
      backupDir: join(hostDir, 'backups'),
    });
    const sshDir = join(dir, 'sshd', id);
    sshd[id] = { config: join(sshDir, 'sshd_config'), pidFile: join(sshDir, 'sshd.pid'), log: join(sshDir, 'sshd.log') };
  }
  const record: TestbedRecord = {
    name: opts.name,
    block,
    dir,
    privateKeyPath: join(dir, 'id_ed25519'),
    knownHostsPath: join(dir, 'known_hosts'),
    hosts,
    sshd,
    createdAt: new Date().toISOString(),
    ownerPid: process.pid,
    keep: opts.keep ?? false,
  };
  // Written first, so a crash half-way still leaves enough for `down` to clean up.
  await writeFile(recordPath(dir), JSON.stringify(record, null, 2));

  try {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `fleetkeeper-testbed-${opts.name}`, '-f', record.privateKeyPath]);
    await writeFile(join(dir, 'authorized_keys'), await readFile(`${record.privateKeyPath}.pub`), { mode: 0o644 });
    await ensureUsers(hosts.map((h) => h.user));

    const limit = pLimit(opts.concurrency ?? 6);
    let done = 0;
    await Promise.all(
      hosts.map((h) =>
        limit(async () => {
          await bringUpHost(record, h);
          done++;
          if (done % 10 === 0 || done === hosts.length) log(`testbed ${opts.name}: ${done}/${hosts.length} hosts up`);
        }),
      ),
    );
    const knownHosts = await Promise.all(
      hosts.map(async (h) => `${h.address} ${(await readFile(join(dir, 'sshd', h.id, 'host_ed25519_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ')}`),
    );
    await writeFile(record.knownHostsPath, knownHosts.join('\n') + '\n');
    await writeFile(recordPath(dir), JSON.stringify(record, null, 2));
  } catch (e) {
    await stopTestbedByName(opts.name).catch(() => {});
    throw e;
  }
  return testbedFromRecord(record);
}

/** Re-attaches to a testbed started earlier (e.g. by the CLI). */
export async function openTestbed(name: string): Promise<Testbed> {
  if (!NAME_PATTERN.test(name)) throw new Error(`bad testbed name ${JSON.stringify(name)}`);
  const record = JSON.parse(await readFile(recordPath(join(TESTBED_ROOT, name)), 'utf8')) as TestbedRecord;
  return testbedFromRecord(record);
}

/** Names of testbeds that exist on this machine. */
export async function listTestbeds(): Promise<string[]> {
  if (!existsSync(TESTBED_ROOT)) return [];
  const names = await readdir(TESTBED_ROOT);
  return names.filter((n) => NAME_PATTERN.test(n) && existsSync(recordPath(join(TESTBED_ROOT, n)))).sort();
}

/** Tears down testbeds whose owning process is gone (crashed test runs) unless they were started with keep. */
async function reapOrphans(log: (line: string) => void): Promise<void> {
  for (const name of await listTestbeds()) {
    const record = await readFile(recordPath(join(TESTBED_ROOT, name)), 'utf8')
      .then((t) => JSON.parse(t) as Partial<TestbedRecord>)
      .catch(() => undefined);
    if (!record || record.keep !== false || !record.ownerPid) continue;
    if (existsSync(`/proc/${record.ownerPid}`)) continue;
    const msg = `testbed ${name}: its process ${record.ownerPid} is gone; tearing it down`;
    log(msg);
    process.stderr.write(`[testbed] ${msg}\n`);
    await stopTestbedByName(name).catch((e: unknown) => log(`testbed ${name}: teardown failed: ${String(e)}`));
  }
}

async function allocateBlock(name: string): Promise<number> {
  await mkdir(join(STATE, 'blocks'), { recursive: true });
  const script = `
    set -e
    cd "$1"
    for n in $(seq 1 ${MAX_BLOCKS}); do
      if [ ! -e "$n" ]; then echo "$2" > "$n"; echo "$n"; exit 0; fi
    done
    echo "no free address block (all ${MAX_BLOCKS} in use; run: npx tsx test/testbed/cli.ts down --all)" >&2
    exit 1`;
  const out = await run('flock', [join(STATE, 'blocks.lock'), 'sh', '-c', script, 'alloc', join(STATE, 'blocks'), name]);
  return Number(out.trim());
}

async function freeBlock(block: number, name: string): Promise<void> {
  const f = join(STATE, 'blocks', String(block));
  const owner = await readFile(f, 'utf8').catch(() => '');
  if (owner.trim() === name) await rm(f, { force: true });
}

/** Deploy users are per host slot (block + host id) and stay between runs; creation is serialised. */
async function ensureUsers(users: string[]): Promise<void> {
  const script = `
    set -e
    for u in "$@"; do
      if ! id -u "$u" >/dev/null 2>&1; then
        # '*' = no password but not locked: sshd without PAM refuses locked accounts.
        useradd -M -d "/home/$u" -s /bin/bash -G docker -p '*' "$u"
      fi
    done`;
  await run('flock', [join(STATE, 'users.lock'), 'sh', '-c', script, 'users', ...users], { timeoutMs: 600_000 });
}

async function bringUpHost(record: TestbedRecord, h: TestbedHost): Promise<void> {
  const paths = record.sshd[h.id]!;
  const sshDir = dirname(paths.config);
  const hostDir = dirname(h.composeDir);
  const home = `/home/${h.user}`;
  const uid = Number((await run('id', ['-u', h.user])).trim());
  const gid = Number((await run('id', ['-g', h.user])).trim());

  // Fresh home (the user is reused by later testbeds in the same slot).
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { mode: 0o750 });
  await chown(home, uid, gid);

  // sshd
  await mkdir(sshDir, { recursive: true, mode: 0o755 });
  const key = join(sshDir, 'host_ed25519_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${h.id}@${record.name}`, '-f', key]);
  h.hostKey = (await run('ssh-keygen', ['-l', '-f', `${key}.pub`])).split(' ')[1]!;
  await writeFile(paths.config, sshdConfig(record, h, key, paths.pidFile));
  await startSshdProcess(paths);

  // compose project, owned by the deploy user
  await mkdir(h.composeDir, { recursive: true });
  await mkdir(h.backupDir, { recursive: true });
  const params = { testbed: record.name, project: h.project, tag: h.initialTag, imageRepo: IMAGE_REPO, publish: `${h.address}:8080` };
  await writeFile(join(h.composeDir, 'compose.yaml'), composeYaml(params));
  await writeFile(join(h.composeDir, '.env'), dotEnv(params), { mode: 0o600 });
  await run('chown', ['-R', `${uid}:${gid}`, hostDir]);

  let up = await compose(h, ['up', '-d', '--quiet-pull']);
  if (up.code !== 0) {
    // One retry: under heavy parallel load the engine occasionally fails a network or container create.
    await compose(h, ['down', '-v', '--remove-orphans', '-t', '2']);
    up = await compose(h, ['up', '-d', '--quiet-pull']);
  }
  if (up.code !== 0) throw new Error(`${h.id}: docker compose up failed:\n${up.stderr.trim()}`);
  const site = await compose(h, ['exec', '-T', 'backend', 'bench', 'new-site', h.site, '--admin-password', 'admin', '--install-app', 'erpnext']);
  if (site.code !== 0) throw new Error(`${h.id}: bench new-site failed:\n${site.stderr.trim()}${site.stdout.trim()}`);
  await waitFor(`${h.id} frontend`, 20_000, async () => {
    const r = await httpPing(h, 2000).catch(() => undefined);
    // A bad initial tag (unhealthy) never pongs; "answers at all" is enough then.
    return h.initialTag === TAGS.unhealthy ? r !== undefined : r?.status === 200;
  });
}

function sshdConfig(record: TestbedRecord, h: TestbedHost, hostKey: string, pidFile: string): string {
  return `# sshd of simulated host ${h.id} (testbed ${record.name})
ListenAddress ${h.address}:${h.port}
HostKey ${hostKey}
PidFile ${pidFile}
AuthorizedKeysFile ${join(record.dir, 'authorized_keys')}
AllowUsers ${h.user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PermitEmptyPasswords no
AllowAgentForwarding no
AllowTcpForwarding no
X11Forwarding no
PermitTunnel no
PermitUserEnvironment no
UsePAM no
PrintMotd no
MaxStartups 200:30:400
MaxSessions 10
LoginGraceTime 30
Subsystem sftp internal-sftp
`;
}

async function startSshdProcess(paths: { config: string; pidFile: string; log: string }): Promise<void> {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await rm(paths.pidFile, { force: true });
  // Without -D sshd binds, writes its PidFile and detaches: listening once this returns.
  await run('/usr/sbin/sshd', ['-f', paths.config, '-E', paths.log]);
  await waitFor(`sshd pid file ${paths.pidFile}`, 5000, async () => existsSync(paths.pidFile));
}

async function sshdPid(pidFile: string): Promise<number | undefined> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  // Only trust the pid while it still is our sshd.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('sshd') ? pid : undefined;
}

async function childPids(pid: number): Promise<number[]> {
  const r = await exec('pgrep', ['-P', String(pid)]);
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** sshd processes serving the listener's connections (monitor and per-user child of each). */
async function sessionPids(listener: number): Promise<number[]> {
  const found: number[] = [];
  let frontier = [listener];
  while (frontier.length) {
    const next: number[] = [];
    for (const p of frontier) {
      for (const c of await childPids(p)) {
        const comm = (await readFile(`/proc/${c}/comm`, 'utf8').catch(() => '')).trim();
        if (comm === 'sshd') {
          found.push(c);
          next.push(c);
        }
      }
    }
    frontier = next;
  }
  return found;
}

async function killPids(pids: number[], signal: NodeJS.Signals): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      /* already gone */
    }
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function compose(h: TestbedHost, args: string[], timeoutMs = 300_000): Promise<ExecResult> {
  return exec('docker', ['compose', ...args], { cwd: h.composeDir, timeoutMs });
}

function httpPing(h: TestbedHost, timeoutMs: number): Promise<{ status: number; body: string }> {
  const url = new URL('/api/method/ping', h.healthUrl);
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Host: h.site }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`ping ${url.href} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- stop

/** Tears a testbed down by name: containers, networks, volumes, sshds, directories, the homes. */
export async function stopTestbedByName(name: string): Promise<void> {
  if (!NAME_PATTERN.test(name)) throw new Error(`bad testbed name ${JSON.stringify(name)}`);
  const dir = join(TESTBED_ROOT, name);
  const record = await readFile(recordPath(dir), 'utf8')
    .then((t) => JSON.parse(t) as TestbedRecord)
    .catch(() => undefined);
  if (record) {
    const limit = pLimit(8);
    await Promise.all(
      record.hosts.map((h) =>
        limit(async () => {
          const paths = record.sshd[h.id]!;
          const pid = await sshdPid(paths.pidFile);
          if (pid) {
            const sessions = await sessionPids(pid);
            await killPids([pid], 'SIGTERM');
            await killPids([pid], 'SIGCONT'); // in case a test paused it
            await killPids(sessions, 'SIGKILL');
          }
          await killUserProcesses(h.user);
          if (existsSync(join(h.composeDir, 'compose.yaml'))) await compose(h, ['down', '-v', '--remove-orphans', '-t', '0']); // no grace needed: the data goes too
          await rm(`/home/${h.user}`, { recursive: true, force: true });
        }),
      ),
    );
  }
  await sweepDocker(name);
  await rm(dir, { recursive: true, force: true });
  if (record) await freeBlock(record.block, name);
}

/** Stops every testbed on this machine and frees all address blocks. */
export async function stopAllTestbeds(): Promise<string[]> {
  const names = await listTestbeds();
  for (const n of names) await stopTestbedByName(n);
  // Anything labelled by a testbed whose record is gone.
  await sweepDocker(undefined);
  return names;
}

async function killUserProcesses(user: string): Promise<void> {
  const r = await exec('pgrep', ['-u', user]);
  await killPids(r.stdout.split('\n').filter(Boolean).map(Number), 'SIGKILL');
}

/** Removes docker objects labelled for a testbed (or for any testbed) that compose down left behind. */
async function sweepDocker(name: string | undefined): Promise<void> {
  const filter = name ? `label=fk.testbed=${name}` : 'label=fk.testbed';
  const containers = (await exec('docker', ['ps', '-aq', '--filter', filter])).stdout.split('\n').filter(Boolean);
  if (containers.length) await exec('docker', ['rm', '-f', '-v', ...containers]);
  const networks = (await exec('docker', ['network', 'ls', '-q', '--filter', filter])).stdout.split('\n').filter(Boolean);
  if (networks.length) await exec('docker', ['network', 'rm', ...networks]);
  const volumes = (await exec('docker', ['volume', 'ls', '-q', '--filter', filter])).stdout.split('\n').filter(Boolean);
  if (volumes.length) await exec('docker', ['volume', 'rm', '-f', ...volumes]);
}

// ---------------------------------------------------------------- the Testbed object

function testbedFromRecord(record: TestbedRecord): Testbed {
  const byId = new Map(record.hosts.map((h) => [h.id, h]));
  const host = (id: string): TestbedHost => {
    const h = byId.get(id);
    if (!h) throw new Error(`testbed ${record.name} has no host ${id} (hosts: ${[...byId.keys()].slice(0, 5).join(', ')}...)`);
    return h;
  };
  const volumeDir = async (h: TestbedHost, volume: string): Promise<string> =>
    (await run('docker', ['volume', 'inspect', '-f', '{{.Mountpoint}}', `${h.project}_${volume}`])).trim();

  const tb: Testbed = {
    name: record.name,
    hosts: record.hosts,
    registry: REGISTRY,
    imageRepo: IMAGE_REPO,
    privateKeyPath: record.privateKeyPath,
    knownHostsPath: record.knownHostsPath,
    dir: record.dir,
    host,
    sh(hostId, cmd) {
      const h = host(hostId);
      return exec('runuser', ['-u', h.user, '--', 'sh', '-c', cmd], {
        cwd: h.composeDir,
        env: cleanEnv({ HOME: `/home/${h.user}`, USER: h.user, LOGNAME: h.user }),
      });
    },
    async dbVersion(hostId) {
      return (await tb.dbState(hostId)).schemaVersion;
    },
    async dbState(hostId) {
      const h = host(hostId);
      const root = await volumeDir(h, 'db-data');
      const schemaVersion = (await readFile(join(root, h.site, 'schema_version'), 'utf8').catch(() => '')).trim();
      const history = (await readFile(join(root, `${h.site}.log`), 'utf8').catch(() => '')).split('\n').filter(Boolean);
      return { schemaVersion, history };
    },
    async envTag(hostId) {
      const h = host(hostId);
      const env = await readFile(join(h.composeDir, '.env'), 'utf8');
      const value = (k: string) => env.match(new RegExp(`^${k}=(.*)$`, 'm'))?.[1]?.trim().replace(/^["']|["']$/g, '');
      return value('CUSTOM_TAG') || value('ERPNEXT_VERSION') || '';
    },
    async runningTag(hostId) {
      const h = host(hostId);
      const ids = (
        await run('docker', [
          'ps', '-q',
          '--filter', `label=com.docker.compose.project=${h.project}`,
          '--filter', 'label=com.docker.compose.service=backend',
          '--filter', 'status=running',
        ])
      ).split('\n').filter(Boolean);
      if (ids.length === 0) return undefined;
      const image = (await run('docker', ['inspect', '-f', '{{.Config.Image}}', ids[0]!])).trim();
      const slash = image.lastIndexOf('/');
      const colon = image.lastIndexOf(':');
      return colon > slash ? image.slice(colon + 1) : 'latest';
    },
    ping(hostId, timeoutMs = 5000) {
      return httpPing(host(hostId), timeoutMs);
    },
    async killSshSessions(hostId) {
      const paths = record.sshd[hostId]!;
      host(hostId);
      const pid = await sshdPid(paths.pidFile);
      if (!pid) return;
      await killPids(await sessionPids(pid), 'SIGKILL');
    },
    async stopSshd(hostId) {
      const paths = record.sshd[hostId]!;
      host(hostId);
      const pid = await sshdPid(paths.pidFile);
      if (!pid) return;
      const sessions = await sessionPids(pid);
      await killPids([pid], 'SIGTERM');
      await killPids([pid], 'SIGCONT');
      await killPids(sessions, 'SIGKILL');
      await waitFor(`sshd ${hostId} to exit`, 5000, async () => (await sshdPid(paths.pidFile)) === undefined);
    },
    async pauseSshd(hostId) {
      host(hostId);
      const pid = await sshdPid(record.sshd[hostId]!.pidFile);
      if (!pid) throw new Error(`sshd of ${hostId} is not running`);
      process.kill(pid, 'SIGSTOP');
    },
    async resumeSshd(hostId) {
      host(hostId);
      const pid = await sshdPid(record.sshd[hostId]!.pidFile);
      if (pid) process.kill(pid, 'SIGCONT');
    },
    async startSshd(hostId) {
      const paths = record.sshd[hostId]!;
      host(hostId);
      if (await sshdPid(paths.pidFile)) return;
      await startSshdProcess(paths);
    },
    stop() {
      return stopTestbedByName(record.name);
    },
  };
  return tb;
}

export { fleetFor, type FleetForOptions, type FleetRingSpec, type TestbedFleet } from './fleet.js';
