/** A message in a channel (docs/protocol.md, Concepts). */
export interface Publication<T = unknown> {
  channel: string;
  /** Per-channel counter starting at 1. */
  offset: number;
  data: T;
  info?: Record<string, unknown>;
}

/** Who joined or left a channel (namespaces with `join_leave`). */
export interface ClientEvent {
  channel: string;
  client: string;
  user: string;
  info?: Record<string, unknown>;
  chan_info?: Record<string, unknown>;
}

/** One present client, as answered by presence(). */
export interface ClientInfo {
  user: string;
  info?: Record<string, unknown>;
  chan_info?: Record<string, unknown>;
}

/** The answer of presence(): present clients by client id. */
export interface PresenceResult {
  clients: Record<string, ClientInfo>;
}

/** The answer of presenceStats(). */
export interface PresenceStatsResult {
  clients: number;
  users: number;
}

/** Options of history(). */
export interface HistoryOptions {
  /** How many publications at most: the newest ones. Omitted: the server's default. */
  limit?: number;
  /** Only publications after this position. */
  since?: { epoch: string; offset: number };
  /** Newest first. */
  reverse?: boolean;
}

/** The answer of history(). */
export interface HistoryResult<T = unknown> {
  publications: Publication<T>[];
  epoch: string;
  offset: number;
}

/** The answer of publish(). */
export interface PublishResult {
  offset: number;
}

/** A code and a human-readable reason for a state change. */
export interface StateReason {
  code: number;
  reason: string;
}
