// Ring bake times are written for people ("1h30m"); the model keeps seconds.

const UNIT_SECONDS = { d: 86400, h: 3600, m: 60, s: 1 } as const;
const DURATION = /^(?=[0-9])(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/;

/** Seconds in a duration like "30m", "2h", "1h30m", "1d"; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const [, d, h, mi, s] = m;
  return (Number(d ?? 0) * UNIT_SECONDS.d) + (Number(h ?? 0) * UNIT_SECONDS.h) + (Number(mi ?? 0) * UNIT_SECONDS.m) + Number(s ?? 0);
}

/** The shortest human form of a number of seconds ("1h30m"; "0s" for 0). */
export function formatDuration(seconds: number): string {
  let rest = Math.max(0, Math.floor(seconds));
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const n = Math.floor(rest / size);
    if (n > 0) { out += `${n}${unit}`; rest -= n * size; }
  }
  return out || '0s';
}
