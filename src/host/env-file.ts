// Setting the tag in .env: the same host-side renderer produces the plan's
// diff and the applied file, so what the dry run shows is what apply writes.
// The file is rewritten atomically (temp file + mv, mode kept), every other
// line is kept, and the original is kept as .env.fleetkeeper-<runId>.bak.
import { hostPaths, type HostContext, type StepRecorder } from './context.js';
import { sh } from './shell.js';
import { JOURNAL_FROM_STDIN } from './journal.js';

/** awk program: replace (or append) up to two KEY=VALUE lines, keep everything else byte for byte. */
export const RENDER = `render() {
  V1="$2" X1="$3" V2="\${4:-}" X2="\${5:-}" awk '
function key(line,   m) {
  if (match(line, /^[ \\t]*(export[ \\t]+)?[A-Za-z_][A-Za-z0-9_]*[ \\t]*=/)) {
    m = substr(line, RSTART, RLENGTH); sub(/^[ \\t]*(export[ \\t]+)?/, "", m); sub(/[ \\t]*=$/, "", m); return m
  }
  return ""
}
{ k = key($0)
  if (k != "" && k == ENVIRON["V1"]) { if (!d1) print k "=" ENVIRON["X1"]; d1 = 1; next }
  if (k != "" && ENVIRON["V2"] != "" && k == ENVIRON["V2"]) { if (!d2) print k "=" ENVIRON["X2"]; d2 = 1; next }
  print }
END { if (!d1) print ENVIRON["V1"] "=" ENVIRON["X1"]; if (ENVIRON["V2"] != "" && !d2) print ENVIRON["V2"] "=" ENVIRON["X2"] }' "$1"
}`;

const DIFF = `# diff .env
${RENDER}
tmp=$(mktemp)
render "$@" > "$tmp"
diff -u --label a/.env --label b/.env "$1" "$tmp"
rc=$?
rm -f "$tmp"
[ $rc -le 1 ]`;

const SET = `# set tag in .env
set -eu
${RENDER}
env=$1 bak=$2 journal=$3; shift 3
[ -e "$bak" ] || cp -p "$env" "$bak"
tmp="$env.fleetkeeper-tmp"
cp -p "$bak" "$tmp"
render "$bak" "$@" > "$tmp"
mv "$tmp" "$env"
# the journal says "tag-set" only once .env has the new tag (same round trip)
${JOURNAL_FROM_STDIN}`;

const RESTORE = `# restore .env
set -eu
env=$1 bak=$2
[ -e "$bak" ] || { echo "no saved .env at $bak"; exit 2; }
cp -p "$bak" "$env.fleetkeeper-tmp"
mv "$env.fleetkeeper-tmp" "$env"`;

export interface EnvChange {
  variable: string;
  value: string;
  imageVariable?: string;
  image?: string;
}

export function pairs(ch: EnvChange): string[] {
  return [ch.variable, ch.value, ...(ch.imageVariable && ch.image ? [ch.imageVariable, ch.image] : [])];
}

/** Unified diff of .env (read-only; secrets masked by the executor). undefined when offline. */
export async function envDiff(ctx: HostContext, rec: StepRecorder, ch: EnvChange): Promise<string | undefined> {
  const r = await rec.run(sh(DIFF, hostPaths(ctx.customer).env, ...pairs(ch)), { mutates: false, quiet: true });
  if (r.simulated || r.code !== 0) return undefined;
  return r.stdout;
}

/** Write .env; with `journal` (journalText output), also record the journal right after, in the same command. */
export async function setEnv(ctx: HostContext, rec: StepRecorder, ch: EnvChange, journal?: string): Promise<void> {
  const p = hostPaths(ctx.customer, ctx.changeId);
  const r = await rec.run(sh(SET, p.env, p.envBackup(), journal !== undefined ? p.journal : '', ...pairs(ch)), {
    mutates: true,
    ...(journal !== undefined ? { stdin: journal } : {}),
  });
  if (!r.simulated && r.code !== 0) throw new Error(`could not write .env (exit ${r.code}): ${r.stderr.trim()}`);
}

export async function restoreEnv(ctx: HostContext, rec: StepRecorder): Promise<void> {
  const p = hostPaths(ctx.customer, ctx.changeId);
  const r = await rec.run(sh(RESTORE, p.env, p.envBackup()), { mutates: true });
  if (!r.simulated && r.code !== 0) throw new Error(`could not restore .env (exit ${r.code}): ${(r.stdout + r.stderr).trim()}`);
}
