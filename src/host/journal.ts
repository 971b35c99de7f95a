// The host-side journal (DIR/.fleetkeeper/journal.json): what the last or
// in-flight change was and how far it got, so a rerun after a crash or a
// dropped connection knows what happened instead of guessing.
import type { HostJournal } from './types.js';
import { hostPaths, type HostContext, type StepRecorder } from './context.js';
import { sh } from './shell.js';

const WRITE_JOURNAL = `# write journal
set -eu
mkdir -p "$(dirname "$1")"
tmp="$1.tmp.$$"
cat > "$tmp"
mv "$tmp" "$1"`;

export const IN_FLIGHT: ReadonlySet<HostJournal['phase']> = new Set(['started', 'backed-up', 'tag-set', 'migrating', 'migrated']);

export function parseJournal(text: string): HostJournal | undefined {
  if (!text.trim()) return undefined;
  try {
    const j = JSON.parse(text) as HostJournal;
    return typeof j.runId === 'string' && typeof j.phase === 'string' ? j : undefined;
  } catch {
    return undefined;
  }
}

/** The journal file's content for j, stamped now (other scripts write it too, merged with their own step). */
export function journalText(j: Omit<HostJournal, 'updatedAt'>): string {
  const full: HostJournal = { ...j, updatedAt: new Date().toISOString() };
  return JSON.stringify(full, null, 2) + '\n';
}

export async function writeJournal(ctx: HostContext, rec: StepRecorder, j: Omit<HostJournal, 'updatedAt'>): Promise<HostJournal> {
  const text = journalText(j);
  const full = JSON.parse(text) as HostJournal;
  const r = await rec.run(sh(WRITE_JOURNAL, hostPaths(ctx.customer).journal), {
    mutates: true,
    stdin: text,
    quiet: true,
  });
  if (!r.simulated && r.code !== 0) throw new Error(`could not write the journal: ${r.stderr.trim() || `exit ${r.code}`}`);
  return full;
}

export const READ_JOURNAL = ['sh', '-c', 'cat "$1" 2>/dev/null || true', 'sh'];

/** Shell lines that write stdin atomically to the journal at $journal (when set): merged into other scripts. */
export const JOURNAL_FROM_STDIN = `if [ -n "$journal" ]; then
  mkdir -p "$(dirname "$journal")"
  cat > "$journal.tmp.$$"
  mv "$journal.tmp.$$" "$journal"
fi`;
