// The wire format of the one-command remote checks (observe, preflight): each
// piece runs in its own subshell writing to a private temp dir, then every
// piece is printed between markers with its exit code, and parsed here. The
// shell side and the parser live together so they cannot drift apart.

/** Temp dir (removed on exit) and `run NAME CMD...`, which records one piece. */
export const SECTIONS_SETUP = `t=$(mktemp -d) || exit 70
trap 'rm -rf "$t"' EXIT
run() { n=$1; shift; ( "$@" ) < /dev/null > "$t/$n.out" 2> "$t/$n.err"; echo $? > "$t/$n.rc"; }`;

/** Prints the named pieces (a constant, space-separated list) between markers. */
export function sectionsPrint(names: string): string {
  if (!/^[a-z]+( [a-z]+)*$/.test(names)) throw new Error(`section names must be lower-case words: ${names}`);
  return `for n in ${names}; do
  [ -e "$t/$n.rc" ] || continue
  printf '@@FK %s %s@@\\n' "$n" "$(cat "$t/$n.rc")"
  cat "$t/$n.out"
  printf '\\n@@FK-ERR %s@@\\n' "$n"
  cat "$t/$n.err"
  printf '\\n'
done
echo '@@FK-END@@'`;
}

export interface ObservedSection {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Split a sectioned script's output (observe, preflight) into its sections. A section that is missing (output
 * cut short, script killed) gets the command's own exit code, or 1.
 */
export function parseSections(stdout: string, fallback: { code: number | null; stderr: string }): (name: string) => ObservedSection {
  const found = new Map<string, { code: number; out: string[]; err: string[] }>();
  let cur: { code: number; out: string[]; err: string[] } | undefined;
  let inErr = false;
  for (const line of stdout.split('\n')) {
    const head = /^@@FK ([a-z]+) (\d+)@@$/.exec(line);
    if (head) {
      cur = { code: Number(head[2]), out: [], err: [] };
      found.set(head[1]!, cur);
      inErr = false;
      continue;
    }
    if (/^@@FK-ERR [a-z]+@@$/.test(line)) {
      inErr = true;
      continue;
    }
    if (line === '@@FK-END@@') {
      cur = undefined;
      continue;
    }
    if (cur) (inErr ? cur.err : cur.out).push(line);
  }
  // The line break the script adds after each part is the one split() consumed: joining gives the text back exactly.
  const text = (lines: string[]) => lines.join('\n');
  return (name) => {
    const s = found.get(name);
    if (!s) return { code: fallback.code === 0 ? 1 : fallback.code, stdout: '', stderr: fallback.stderr || `no ${name} section in the observation` };
    return { code: s.code, stdout: text(s.out), stderr: text(s.err) };
  };
}
