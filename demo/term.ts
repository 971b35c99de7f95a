// Terminal narration: numbered steps, indented detail lines, colour on a TTY.
const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint('1');
export const dim = paint('2');
export const green = paint('32');
export const red = paint('31');
export const yellow = paint('33');
export const cyan = paint('36');

const started = Date.now();
const clock = () => {
  const s = Math.floor((Date.now() - started) / 1000);
  return dim(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}]`);
};

export function heading(n: number, total: number, title: string): void {
  console.log(`\n${clock()} ${bold(cyan(`── ${n}/${total} ${title} `))}${cyan('─'.repeat(Math.max(4, 60 - title.length)))}`);
}

export function say(line: string): void {
  console.log(`${clock()}   ${line}`);
}

export function ok(line: string): void {
  say(`${green('✓')} ${line}`);
}

export function warn(line: string): void {
  say(`${yellow('!')} ${line}`);
}

/** A block of text (a check run summary, a PR body), indented and cut to `max` lines. */
export function block(text: string, max = 30): void {
  const lines = text
    .replace(/<!--[\s\S]*?-->/g, '')
    .split('\n')
    .filter((l, i, all) => l.trim() || (i > 0 && all[i - 1]!.trim()));
  for (const l of lines.slice(0, max)) console.log(`           ${dim('│')} ${l}`);
  if (lines.length > max) console.log(`           ${dim('│')} ${dim(`… ${lines.length - max} more line(s) in the HTML page`)}`);
}
