// Check-run annotations: validation errors on the exact YAML lines, failed
// hosts on their customer file's image.tag line. GitHub takes at most 50 per
// request, so they are sent in batches (later updates append).
import type { Fleet, FleetError } from '../fleet/types.js';
import { ANNOTATION_MESSAGE_MAX, ANNOTATIONS_PER_REQUEST } from './limits.js';
import { redact } from '../util/redact.js';

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  start_column?: number;
  end_column?: number;
  annotation_level: 'notice' | 'warning' | 'failure';
  message: string;
  title?: string;
}

/** Path of a fleet file in the repo, for annotations (fleet paths are relative to the fleet dir). */
export function repoPath(fleetDir: string, file: string): string {
  const dir = fleetDir.replace(/^\.\/?/, '').replace(/\/+$/, '');
  return dir ? `${dir}/${file}` : file;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}

export function fleetErrorAnnotation(e: FleetError, fleetDir: string): CheckAnnotation {
  const line = Math.max(1, e.line || 1);
  const endLine = Math.max(line, e.endLine ?? line);
  const a: CheckAnnotation = {
    path: repoPath(fleetDir, e.file),
    start_line: line,
    end_line: endLine,
    annotation_level: e.severity === 'warning' ? 'warning' : 'failure',
    message: clip(redact(e.message), ANNOTATION_MESSAGE_MAX / 2),
    title: clip(e.path ? `${e.file}: ${e.path}` : e.file, 255),
  };
  // GitHub accepts columns only on single-line annotations.
  if (endLine === line && e.column > 0) {
    a.start_column = e.column;
    a.end_column = Math.max(e.column, e.endLine === undefined || e.endLine === line ? (e.endColumn ?? e.column) : e.column);
  }
  return a;
}

/** Line of a customer's image.tag (or the file's first line when unknown). */
export function tagLine(fleet: Fleet | undefined, file: string): number {
  const pos = fleet?.positions[`${file}#/image/tag`] ?? fleet?.positions[`${file}#/image`];
  return pos && pos.file === file ? pos.line : 1;
}

export function hostFailureAnnotation(fleet: Fleet | undefined, fleetDir: string, file: string, customerId: string, message: string): CheckAnnotation {
  const line = tagLine(fleet, file);
  return {
    path: repoPath(fleetDir, file),
    start_line: line,
    end_line: line,
    annotation_level: 'failure',
    title: clip(`${customerId}: apply failed`, 255),
    message: clip(redact(message), ANNOTATION_MESSAGE_MAX / 2),
  };
}

export function batches<T>(items: T[], size = ANNOTATIONS_PER_REQUEST): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
