// The host lock: `flock` on DIR/.fleetkeeper/lock, held by a small detached
// holder process on the host (it inherits the locked descriptor), plus
// DIR/.fleetkeeper/lock.json saying who holds it (run id, commit, since,
// holder pid, boot id, lease end). The holder outlives a dropped SSH
// connection, so a reconnecting run still owns its lock; it dies at the end
// of its lease, so a crashed bot's lock does not block forever — but its
// lock.json stays, and that is reported as a stale lock (refused), never
// silently taken over.
import type { HostLock } from './types.js';
import { hostPaths, type HostContext, type StepRecorder } from './context.js';
import { sh } from './shell.js';

const ACQUIRE = `# acquire host lock
set -eu
state=$1 runid=$2 commit=$3 lease=$4
mkdir -p "$state"
lock="$state/lock" meta="$state/lock.json"
exec 9>>"$lock"
mine=no
if [ -s "$meta" ] && grep -qF "\\"runId\\":\\"$runid\\"" "$meta"; then mine=yes; fi
if ! flock -n 9; then
  if [ "$mine" = yes ]; then echo OURS; cat "$meta"; exit 0; fi
  echo HELD; cat "$meta" 2>/dev/null || true; exit 75
fi
if [ -s "$meta" ] && [ "$mine" = no ]; then echo STALE; cat "$meta"; exit 76; fi
rm -f "$meta.pid"
setsid sh -c 'echo $$ > "$1.pid"; exec sleep "$2"' sh "$meta" "$lease" </dev/null >/dev/null 2>&1 &
i=0; while [ ! -s "$meta.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
pid=$(cat "$meta.pid"); rm -f "$meta.pid"
boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
now=$(date +%s)
printf '{"runId":"%s","commit":"%s","pid":%s,"since":"%s","leaseUntil":"%s","bootId":"%s","host":"%s"}\\n' \\
  "$runid" "$commit" "$pid" "$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)" \\
  "$(date -u -d "@$((now + lease))" +%Y-%m-%dT%H:%M:%SZ)" "$boot" "$(hostname)" > "$meta.tmp"
mv "$meta.tmp" "$meta"
echo ACQUIRED; cat "$meta"`;

const RELEASE = `# release host lock
set -u
state=$1 runid=$2
meta="$state/lock.json"
if [ -s "$meta" ] && grep -qF "\\"runId\\":\\"$runid\\"" "$meta"; then
  pid=$(sed -n 's/.*"pid":\\([0-9][0-9]*\\).*/\\1/p' "$meta")
  rm -f "$meta"
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  echo RELEASED
else
  echo NOT-OURS; cat "$meta" 2>/dev/null || true
fi`;

export const READ_LOCK = `# read host lock
state=$1
meta="$state/lock.json" lock="$state/lock"
[ -s "$meta" ] || { echo NONE; exit 0; }
if [ -e "$lock" ] && flock -n "$lock" true 2>/dev/null; then echo FREE; else echo HELD; fi
echo "BOOT $(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)"
cat "$meta"`;

interface LockMeta {
  runId: string;
  commit?: string;
  pid?: number;
  since?: string;
  leaseUntil?: string;
  bootId?: string;
}

function parseMeta(text: string): LockMeta | undefined {
  const line = text.split('\n').find((l) => l.trim().startsWith('{'));
  if (!line) return undefined;
  try {
    return JSON.parse(line) as LockMeta;
  } catch {
    return undefined;
  }
}

function toHostLock(meta: LockMeta, stale: boolean, path: string): HostLock {
  return {
    runId: meta.runId,
    ...(meta.commit ? { commit: meta.commit } : {}),
    ...(meta.pid ? { pid: meta.pid, holderPid: meta.pid } : {}),
    since: meta.since ?? 'unknown',
    stale,
    ...(meta.leaseUntil ? { leaseUntil: meta.leaseUntil } : {}),
    path,
  };
}

/** Parse READ_LOCK output. */
export function parseLockState(stdout: string, metaPath: string): HostLock | undefined {
  const lines = stdout.split('\n');
  if (lines[0]?.trim() === 'NONE' || !lines[0]) return undefined;
  const held = lines[0].trim() === 'HELD';
  const boot = /^BOOT (\S+)/m.exec(stdout)?.[1];
  const meta = parseMeta(stdout) ?? { runId: 'unreadable lock.json' };
  const stale = !held || (boot !== undefined && meta.bootId !== undefined && meta.bootId !== boot);
  return toHostLock(meta, stale, metaPath);
}

/** How a person clears a lock, with the exact commands. */
export function describeLock(l: HostLock): string {
  const who = `run ${l.runId}${l.commit ? ` (commit ${l.commit.slice(0, 12)})` : ''} since ${l.since}`;
  const clear = `${l.holderPid ? `kill ${l.holderPid} 2>/dev/null; ` : ''}rm ${l.path ?? 'DIR/.fleetkeeper/lock.json'}`;
  return l.stale
    ? `host lock left by a crashed or interrupted ${who} (its holder process is gone). Check the host (docker compose ps, .fleetkeeper/journal.json), then clear it on the host with: ${clear}`
    : `host is locked by ${who}${l.leaseUntil ? `, lease until ${l.leaseUntil}` : ''}${l.holderPid ? `, holder pid ${l.holderPid}` : ''}. If that run is no longer active, clear it on the host with: ${clear}`;
}

/** Lease: long enough for the slowest possible change, short enough that a crashed bot's lock expires. */
export function leaseSeconds(ctx: HostContext): number {
  const t = ctx.customer.timeouts;
  const sites = Array.isArray(ctx.customer.sites) ? ctx.customer.sites.length : 4;
  return t.backupSeconds * 2 + t.pullSeconds * 2 + t.migrateSeconds * sites + t.commandSeconds * 40 + 600;
}

export type AcquireResult = { acquired: true; lock?: HostLock } | { acquired: false; lock: HostLock; message: string };

export async function acquireLock(ctx: HostContext, rec: StepRecorder): Promise<AcquireResult> {
  const p = hostPaths(ctx.customer, ctx.runId);
  const r = await rec.run(sh(ACQUIRE, p.state, ctx.runId, ctx.commit ?? '', String(leaseSeconds(ctx))), { mutates: true });
  if (r.simulated) return { acquired: true };
  if (r.code === 0) {
    const meta = parseMeta(r.stdout);
    return { acquired: true, ...(meta ? { lock: toHostLock(meta, false, p.lockMeta) } : {}) };
  }
  if (r.code === 75 || r.code === 76) {
    const meta = parseMeta(r.stdout) ?? { runId: 'unknown (lock.json unreadable)' };
    const lock = toHostLock(meta, r.code === 76, p.lockMeta);
    return { acquired: false, lock, message: describeLock(lock) };
  }
  throw new Error(`could not take the host lock (exit ${r.code}): ${r.stderr.trim()}`);
}

export async function releaseLock(ctx: HostContext, rec: StepRecorder): Promise<string> {
  const p = hostPaths(ctx.customer, ctx.runId);
  const r = await rec.run(sh(RELEASE, p.state, ctx.runId), { mutates: true });
  if (r.simulated) return 'would release the host lock';
  if (r.code !== 0) throw new Error(`could not release the host lock (exit ${r.code})`);
  return r.stdout.startsWith('RELEASED') ? 'host lock released' : 'host lock was not ours (left as is)';
}
