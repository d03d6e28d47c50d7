export { Rotor } from './rotor';
export type { RotorOptions, RotorEvents, State, TransportName } from './rotor';
export { Subscription } from './subscription';
export type { SubscriptionState, SubscriptionEvents, SubscribedContext, SubscriptionOptions } from './subscription';
export { Codes, RotorError, UnauthorizedError } from './errors';
export type { Position } from './positions';
export type {
  ClientEvent, ClientInfo, HistoryOptions, HistoryResult, PresenceResult, PresenceStatsResult, Publication, PublishResult, StateReason,
} from './types';
