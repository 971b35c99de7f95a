// One problem per line, in the form editors and CI logs link to.
import type { FleetError } from './types.js';

/** `file:line:col path: message`; warnings say so after the position. */
export function formatError(e: FleetError): string {
  const where = `${e.file}:${e.line}:${e.column}`;
  const tag = e.severity === 'warning' ? ' warning:' : '';
  return `${where}${tag} ${e.path ? `${e.path}: ` : ''}${e.message}`;
}

/** A GitHub Actions workflow command, so problems show up on the PR's lines. */
export function formatGithubAnnotation(e: FleetError, file = e.file): string {
  const esc = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const prop = (s: string) => esc(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
  const kind = e.severity === 'warning' ? 'warning' : 'error';
  const end = e.endLine && e.endLine === e.line && e.endColumn ? `,endColumn=${e.endColumn}` : '';
  return `::${kind} file=${prop(file)},line=${e.line},col=${e.column}${end},title=${prop(e.path || 'fleet')}::${esc(e.message)}`;
}
