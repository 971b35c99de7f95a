// Fitting Markdown into GitHub's check-run limits without breaking it: cut on
// a line boundary, close an open code fence, and say what was left out.
import { CHECK_TEXT_MAX } from './limits.js';

/** Escape text for a Markdown table cell (pipes and newlines break tables). */
export function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Inline code that survives backticks in the value. */
export function code(text: string): string {
  const ticks = text.includes('`') ? '``' : '`';
  return `${ticks}${text.includes('`') ? ` ${text} ` : text}${ticks}`;
}

export function fence(body: string, lang = ''): string {
  // A longer fence than any backtick run in the body, so the body cannot close it.
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(longest + 1);
  return `${f}${lang}\n${body.replace(/\n$/, '')}\n${f}`;
}

/**
 * Returns `text` if it fits in `max` characters; otherwise the longest prefix
 * ending at a line break, with any open fence closed and `note` appended.
 * Never returns more than `max` characters.
 */
export function fitMarkdown(text: string, note: string, max = CHECK_TEXT_MAX): string {
  if (text.length <= max) return text;
  const tail = (omitted: number) => `\n\n> **Truncated:** ${omitted.toLocaleString('en-US')} more characters not shown. ${note}`;
  // Room for the note and a closing fence.
  let budget = max - tail(text.length).length - 12;
  if (budget < 0) budget = 0;
  let cut = text.lastIndexOf('\n', budget);
  if (cut < budget / 2) cut = budget; // one huge line: cut mid-line rather than drop everything
  // Never split a UTF-16 surrogate pair.
  if (cut > 0 && /[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut--;
  let kept = text.slice(0, cut);
  const fences = kept.match(/^ {0,3}(`{3,}|~{3,})/gm) ?? [];
  let open: string | undefined;
  for (const f of fences) {
    const mark = f.trim();
    if (!open) open = mark;
    else if (mark[0] === open[0] && mark.length >= open.length) open = undefined;
  }
  if (open) kept += `\n${open}`;
  const result = kept + tail(text.length - cut);
  return result.length <= max ? result : result.slice(0, max);
}

/** Human duration: 850 ms, 12 s, 3 min 5 s, 1 h 2 min. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

export function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, 7) : '?';
}
