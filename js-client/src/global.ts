// The script-tag build: window.Rotor is the client class, with the rest of
// the API hung on it (Rotor.Codes, Rotor.RotorError, Rotor.UnauthorizedError).
import { Codes, Rotor, RotorError, Subscription, UnauthorizedError } from './index';

Object.assign(Rotor, { Rotor, Codes, RotorError, UnauthorizedError, Subscription });
(globalThis as unknown as { Rotor: typeof Rotor }).Rotor = Rotor;
