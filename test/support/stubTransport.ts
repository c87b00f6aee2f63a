/**
 * A stream transport that does no I/O, for pool and metrics tests that only hand connections
 * around: healthy, idle, nothing pending. Pass the members a test needs to observe or change.
 */
import type { StreamTransport } from "../../src/Transport.js"

export const stubTransport = (overrides: Partial<StreamTransport> = {}): StreamTransport => ({
  read: () => undefined,
  isEnded: () => false,
  failure: () => undefined,
  pendingBytes: () => 0,
  setWaker: () => {},
  write: () => true,
  shutdown: () => {},
  destroy: () => {},
  isDestroyed: () => false,
  setNoDelay: () => {},
  setKeepAlive: () => {},
  localAddress: () => undefined,
  remoteAddress: () => undefined,
  ...overrides
})
