// Turning argv into the one string an SSH exec request carries. Every element
// is single-quoted (POSIX: nothing is special inside '...', a quote is written
// as '\''), so a value can never become shell syntax. Values must already have
// passed the fleet schema; this is the second line of defence.

export class UnsafeArgumentError extends Error {
  constructor(
    readonly index: number,
    reason: string,
  ) {
    super(`refusing to run a command: argument ${index} ${reason}`);
    this.name = 'UnsafeArgumentError';
  }
}

/**
 * Scripts given to sh() are constants from this code base; remember them so
 * they (and only they, right after `-c`) may span lines, even when the argv
 * is embedded in a longer one (`docker compose exec -T backend sh -c ...`).
 */
const constantScripts = new Set<string>();

/** POSIX single-quote one word. */
export function quote(word: string): string {
  if (word === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Validate and quote an argv into one command line. */
export function joinArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new UnsafeArgumentError(0, 'is missing (empty argv)');
  argv.forEach((a, i) => {
    if (typeof a !== 'string') throw new UnsafeArgumentError(i, 'is not a string');
    if (a.includes('\0')) throw new UnsafeArgumentError(i, 'contains a NUL byte');
    const isScript = i > 0 && argv[i - 1] === '-c' && constantScripts.has(a);
    if (!isScript && /[\n\r]/.test(a)) throw new UnsafeArgumentError(i, 'contains a line break');
  });
  return argv.map(quote).join(' ');
}

/**
 * A shell pipeline with values passed as positional parameters ($1, $2, ...):
 * the script is a constant, the values never become code.
 */
export function sh(script: string, ...args: string[]): string[] {
  constantScripts.add(script);
  return ['sh', '-c', script, 'sh', ...args];
}
