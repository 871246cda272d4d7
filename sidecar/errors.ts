// An error with a protocol code (protocol.ts ErrorCode) and a message a person can act on.
import type { ErrorCodeValue } from './protocol';

export class SidecarError extends Error {
  constructor(readonly code: ErrorCodeValue, message: string) {
    super(message);
  }
}
