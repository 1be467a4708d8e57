/** Messages between the coordinator and its load workers (over the IPC channel). */

export interface ConnSpec { id: number; room: string; port: number }

export type Command =
  | { cmd: 'connect'; req: number; conns: ConnSpec[]; concurrency: number; timeoutMs: number }
  | { cmd: 'phase'; req: number; phase: number; durationMs: number; pad: number; senders: Array<{ id: number; rate: number; offsetMs: number }> }
  | { cmd: 'collect'; req: number; phase: number; histogram: boolean }
  | { cmd: 'close'; req: number };

export interface ConnectReply { ready: number; failed: number; ms: number; error: string | null }
export interface PhaseReply { sent: Record<number, number> }
export interface CollectReply { received: number; histogram: string; dropped: number }
