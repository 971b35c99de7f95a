// Typed progress events. The engine emits them; every report (terminal,
// check run, Slack) renders from them and nothing else.
import type { HostResult, StepResult } from '../host/types.js';

export type RolloutEvent =
  | { type: 'rollout-started'; runId: string; commit?: string; rings: string[]; hosts: number; at: string }
  | { type: 'ring-started'; ring: string; hosts: string[]; at: string }
  | { type: 'host-started'; ring: string; customerId: string; fromTag?: string; toTag: string; at: string }
  | { type: 'step-finished'; ring: string; customerId: string; step: StepResult; at: string }
  | { type: 'host-finished'; ring: string; result: HostResult; at: string }
  | { type: 'host-skipped'; ring: string; customerId: string; reason: string; at: string }
  | { type: 'budget-exceeded'; ring: string; failures: number; budget: number; at: string }
  | { type: 'ring-finished'; ring: string; status: RingStatus; reason?: string; at: string }
  | { type: 'bake-started'; ring: string; until: string; at: string }
  | { type: 'bake-finished'; ring: string; healthy: boolean; reason?: string; at: string }
  | { type: 'tag-marked-bad'; tag: string; reason: string; at: string }
  | { type: 'rollout-finished'; status: 'succeeded' | 'failed' | 'stopped'; reason?: string; at: string };

export type RingStatus = 'succeeded' | 'failed' | 'stopped' | 'skipped';

export type EventSink = (event: RolloutEvent) => void;
