// Maintenance windows: a host with a window is only changed while the clock,
// read in the customer's own time zone, is inside it.
import type { MaintenanceWindow } from '../fleet/types.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

function localParts(at: Date, timeZone: string): { day: (typeof DAYS)[number]; minutes: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = get('weekday').toLowerCase().slice(0, 3) as (typeof DAYS)[number];
  return { day, minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

const toMinutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

/** True when `at` falls inside the window. A window whose end is before its start crosses midnight. */
export function insideWindow(w: MaintenanceWindow, at: Date): boolean {
  const { day, minutes } = localParts(at, w.timezone);
  const start = toMinutes(w.start);
  const end = toMinutes(w.end);
  if (start <= end) return w.days.includes(day) && minutes >= start && minutes < end;
  // Crosses midnight: the part after midnight belongs to the previous day's window.
  if (minutes >= start) return w.days.includes(day);
  if (minutes < end) {
    const prev = DAYS[(DAYS.indexOf(day) + 6) % 7]!;
    return w.days.includes(prev);
  }
  return false;
}

export function describeWindow(w: MaintenanceWindow): string {
  return `${w.days.join(',')} ${w.start}-${w.end} ${w.timezone}`;
}
