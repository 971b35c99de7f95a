// Backup and verify: no verified backup, no change. Frappe writes backups into
// the sites volume and deletes ones older than 24 h on its next run, so the
// pre-upgrade dump is copied off the volume to backup.dir/<customer>/<runId>/
// and verified there (gzip -t, "-- Dump completed" last line, size not far
// below the previous verified backup), then recorded with its sha256.
import type { BackupRecord, HostJournal } from './types.js';
import { JOURNAL_FROM_STDIN, journalText } from './journal.js';
import { BENCH_SITES, composeArgv, hostPaths, type HostContext, type StepOutcome, type StepRecorder } from './context.js';
import { sh } from './shell.js';

const LIST_BACKUPS = `# list backups
cd "$1" || exit 1; shift
for s in "$@"; do ls -1 "$s/private/backups/" 2>/dev/null | sed "s|^|$s/private/backups/|"; done; true`;

const VERIFY = `# verify backup
set -u
f=$1
[ -s "$f" ] || { echo "empty or missing: $f"; exit 2; }
if ! gzip -t "$f" 2>&1; then echo "gzip -t failed: $f is corrupt or truncated"; exit 3; fi
last=$(gzip -dc "$f" | tail -n 1)
case "$last" in *"-- Dump completed"*) ;; *) echo "last line is not '-- Dump completed' (dump incomplete): $last" | cut -c1-200; exit 4;; esac
echo "SIZE $(stat -c %s "$f")"
echo "SHA256 $(sha256sum "$f" | cut -d' ' -f1)"`;

const PREVIOUS = `# previous verified backup
[ -d "$1" ] || exit 0
ls -1t "$1"/*/manifest.json 2>/dev/null | grep -v "/$2/manifest.json" | head -n 1 | xargs -r cat`;

// Starting a backup: the journal says "started" (from stdin) and the
// off-volume directory exists, in one round trip.
const START_BACKUP = `# start backup
set -eu
journal=$1 partial=$2
${JOURNAL_FROM_STDIN}
mkdir -p "$partial"`;

// With $4/$5 (journal path, one-line JSON) the journal says "backed-up" only
// once the verified backup is in place, in the same round trip.
const FINALIZE = `# finalize backup
set -eu
root=$1 run=$2 keep=$3 journal=\${4:-} jtext=\${5:-}
cat > "$root/$run.partial/manifest.json"
rm -rf "$root/$run"
mv "$root/$run.partial" "$root/$run"
if [ -n "$journal" ]; then
  mkdir -p "$(dirname "$journal")"
  printf '%s\\n' "$jtext" > "$journal.tmp.$$"
  mv "$journal.tmp.$$" "$journal"
fi
# keep the newest $keep verified runs (those with a manifest), never this one
ls -1t "$root"/*/manifest.json | tail -n +$((keep + 1)) | while read -r m; do
  d=$(dirname "$m"); [ "$d" = "$root/$run" ] || rm -rf "$d"
done`;

export interface BackupOutcome extends StepOutcome {
  backups: BackupRecord[];
}

/** The sites to act on: customer list, or what observation found for "all". */
export function siteList(ctx: HostContext, observed?: string[]): string[] {
  return Array.isArray(ctx.customer.sites) ? ctx.customer.sites : (observed ?? []);
}

/** Sites for a report line: the observed or configured list, else "all sites" (offline, sites: all). */
export function siteLabel(ctx: HostContext, sites: string[]): string {
  if (sites.length) return sites.join(', ');
  return ctx.customer.sites === 'all' ? 'all sites' : 'no sites';
}

/** Run bench backup and copy the new files off the volume. Returns per-site files on the host (unverified). */
export async function takeBackup(
  ctx: HostContext,
  rec: StepRecorder,
  sites: string[],
  /** journalText(phase "started"), written before anything else. */
  journal?: string,
): Promise<StepOutcome & { files: Array<{ site: string; path: string; db: boolean }> }> {
  const c = ctx.customer;
  const p = hostPaths(c, ctx.runId);
  const compose = composeArgv(c);
  const exec = [...compose, 'exec', '-T', 'backend'];
  const start = await rec.run(sh(START_BACKUP, journal !== undefined ? p.journal : '', `${p.backupRun()}.partial`), {
    mutates: true,
    quiet: true,
    ...(journal !== undefined ? { stdin: journal } : {}),
  });
  if (!start.simulated && start.code !== 0) throw new Error(`could not start the backup (journal, ${p.backupRun()}.partial): ${start.stderr.trim() || `exit ${start.code}`}`);
  const before = await rec.run([...exec, ...sh(LIST_BACKUPS, BENCH_SITES, ...sites)], { mutates: false, quiet: true });
  if (before.code !== 0 && !before.simulated) throw new Error(`cannot list existing backups in the backend (exit ${before.code})`);
  const withFiles = c.backup.withFiles ? ['--with-files'] : [];
  const benchRuns =
    c.sites === 'all' ? [['bench', '--site', 'all', 'backup', ...withFiles]] : sites.map((s) => ['bench', '--site', s, 'backup', ...withFiles]);
  for (const b of benchRuns) {
    const r = await rec.run([...exec, ...b], { mutates: true, timeoutSeconds: c.timeouts.backupSeconds });
    if (r.code !== 0 && !r.simulated) return { status: 'failed', message: `bench backup failed (exit ${r.code})`, files: [] };
  }
  if (rec.simulated) {
    // Plan: nothing was backed up, so there is nothing new to list.
    return { status: 'planned', message: `would back up ${siteLabel(ctx, sites)} and copy the new dumps to ${p.backupRun()}`, files: [] };
  }
  const after = await rec.run([...exec, ...sh(LIST_BACKUPS, BENCH_SITES, ...sites)], { mutates: false, quiet: true });
  const old = new Set(before.stdout.split('\n'));
  const fresh = after.stdout.split('\n').filter((f) => f.trim() && !old.has(f));
  const files: Array<{ site: string; path: string; db: boolean }> = [];
  for (const site of sites) {
    const mine = fresh.filter((f) => f.startsWith(`${site}/private/backups/`));
    const db = mine.filter((f) => f.endsWith('-database.sql.gz'));
    if (db.length !== 1) {
      return { status: 'failed', message: `bench backup made ${db.length} new database dumps for ${site} (expected 1)`, files: [] };
    }
    for (const f of mine) {
      const name = f.slice(f.lastIndexOf('/') + 1);
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) continue; // never copy a name we would not quote plainly
      const dest = `${p.backupRun()}.partial/${name}`;
      const cp = await rec.run([...compose, 'cp', `backend:${BENCH_SITES}/${f}`, dest], {
        mutates: true,
        timeoutSeconds: c.timeouts.backupSeconds,
      });
      if (cp.code !== 0) return { status: 'failed', message: `could not copy ${name} off the volume (exit ${cp.code})`, files: [] };
      files.push({ site, path: dest, db: f.endsWith('-database.sql.gz') });
    }
  }
  return { status: 'ok', message: `backed up ${sites.join(', ')} and copied ${files.length} file(s) off the volume`, files };
}

/** Verify the copied dumps, record them, move them into place and keep the last N runs. */
export async function verifyBackup(
  ctx: HostContext,
  rec: StepRecorder,
  files: Array<{ site: string; path: string; db: boolean }>,
  /** Journal to record (phase "backed-up") with the verified backup, in the same command. */
  journalFor?: (backups: BackupRecord[]) => Omit<HostJournal, 'updatedAt'>,
): Promise<BackupOutcome> {
  const c = ctx.customer;
  const p = hostPaths(c, ctx.runId);
  if (files.length === 0) {
    return { status: 'planned', message: `would verify each dump (gzip -t, "-- Dump completed", size ≥ ${c.backup.minSizeRatio} × previous) and keep the last ${c.backup.keep}`, backups: [] };
  }
  const prevR = await rec.run(sh(PREVIOUS, p.backupRoot, ctx.runId), { mutates: false, quiet: true });
  const previous = new Map<string, number>();
  try {
    for (const b of (JSON.parse(prevR.stdout || '{}') as { backups?: BackupRecord[] }).backups ?? []) previous.set(b.site, b.sizeBytes);
  } catch {
    /* no usable previous manifest: nothing to compare with */
  }
  const records: BackupRecord[] = [];
  const notes: string[] = [];
  for (const f of files.filter((x) => x.db)) {
    const r = await rec.run(sh(VERIFY, f.path), { mutates: false, timeoutSeconds: c.timeouts.backupSeconds });
    if (r.code !== 0) {
      // Do not keep an unusable dump around (it would only fill the disk on retries).
      await rec.run(['rm', '-rf', `${p.backupRun()}.partial`], { mutates: true });
      return { status: 'failed', message: `backup of ${f.site} failed verification: ${r.stdout.trim().split('\n').pop() || `exit ${r.code}`}`, backups: [] };
    }
    const size = Number(/^SIZE (\d+)/m.exec(r.stdout)?.[1]);
    const sha = /^SHA256 ([0-9a-f]{64})/m.exec(r.stdout)?.[1];
    if (!Number.isFinite(size) || !sha) return { status: 'failed', message: `could not read size/checksum of ${f.path}`, backups: [] };
    const prev = previous.get(f.site);
    if (prev !== undefined && size < c.backup.minSizeRatio * prev) {
      return {
        status: 'failed',
        message: `backup of ${f.site} is ${size} bytes, below ${c.backup.minSizeRatio} × the previous verified ${prev} bytes: refusing to continue`,
        backups: [],
      };
    }
    notes.push(`${f.site} ${size} B${prev !== undefined ? ` (previous ${prev} B)` : ''}`);
    records.push({
      site: f.site,
      path: f.path.replace(`${p.backupRun()}.partial/`, `${p.backupRun()}/`),
      sizeBytes: size,
      sha256: sha,
      createdAt: new Date().toISOString(),
    });
  }
  const manifest = { runId: ctx.runId, commit: ctx.commit, customer: c.id, backups: records, extraFiles: files.filter((x) => !x.db).map((x) => x.path.split('/').pop()) };
  const jtext = journalFor ? JSON.stringify(JSON.parse(journalText(journalFor(records)))) : undefined;
  const fin = await rec.run(sh(FINALIZE, p.backupRoot, ctx.runId, String(c.backup.keep), ...(jtext ? [p.journal, jtext] : [])), {
    mutates: true,
    stdin: JSON.stringify(manifest, null, 2) + '\n',
  });
  if (fin.code !== 0) return { status: 'failed', message: `could not store the verified backup (exit ${fin.code})`, backups: [] };
  return { status: 'ok', message: `verified: ${notes.join('; ')} → ${p.backupRun()}`, backups: records };
}
