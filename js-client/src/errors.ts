/**
 * Protocol error codes (docs/protocol.md, Error codes) and the client's own codes for states that
 * the server did not cause.
 */
export const Codes = {
  /** connect() or disconnect() was called by the app. */
  Called: 0,
  /** The stream closed or could not be opened (network, proxy, server gone). */
  TransportClosed: 1,
  /** The app's getToken said the user is not authorized, or no token works. */
  Unauthorized: 2,
  /** A command got no answer within the `timeout` option. */
  Timeout: 3,
  /** The client is disconnected, so a command cannot be sent. */
  Disconnected: 4,
  /** The answer could not be understood. */
  BadResponse: 5,

  Internal: 100,
  ServerUnauthorized: 101,
  UnknownChannel: 102,
  PermissionDenied: 103,
  UnknownMethod: 104,
  LimitExceeded: 106,
  BadRequest: 107,
  NotAvailable: 108,
  TokenExpired: 109,
  TooManyRequests: 110,
  Unrecoverable: 111,
  Unavailable: 112,

  DisconnectNormal: 3000,
  DisconnectShutdown: 3001,
  DisconnectSlow: 3002,
  DisconnectRevoked: 3003,
  DisconnectExpired: 3004,
  DisconnectEngineDown: 3005,
} as const;

/** An error with a code: a protocol code from the server or one of {@link Codes}. */
export class RotorError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'RotorError';
    this.code = code;
  }
}

/**
 * Thrown (or returned as an empty token) by the app's getToken when the user
 * may not connect: the client stops reconnecting and becomes disconnected.
 */
export class UnauthorizedError extends Error {
  constructor(message = 'unauthorized') {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

/** Codes after which retrying the same request later may succeed. */
export function isTemporary(code: number): boolean {
  return code === Codes.Internal || code === Codes.TooManyRequests || code === Codes.Unavailable ||
    code === Codes.TransportClosed || code === Codes.Timeout || code === Codes.BadResponse;
}
