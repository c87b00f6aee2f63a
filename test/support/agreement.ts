/**
 * The property both example protocol clients share: the straight-line socket reader agrees with
 * the pure parser on the same bytes.
 */
import { expect } from "@effect/vitest"
import * as Result from "effect/Result"

/** A pure parse result: a value, "need more bytes", or a protocol error. */
export type Parse<A> =
  | { readonly _tag: "Parsed"; readonly value: A }
  | { readonly _tag: "NeedMore" }
  | { readonly _tag: "ProtocolError" }

/**
 * A parsed value is exactly what the reader returns; an incomplete input is `SocketClosed` at EOF;
 * on garbage the reader fails with a protocol error or EOF (its `*l` reads are lenient about bare
 * LF and stray CR, so it may also return a value there).
 */
export const expectReaderAgrees = <A>(
  read: Result.Result<A, { readonly _tag: string }>,
  parsed: Parse<A>
): void => {
  if (parsed._tag === "Parsed") {
    expect(read).toEqual(Result.succeed(parsed.value))
  } else if (parsed._tag === "NeedMore") {
    expect(Result.isFailure(read) && read.failure._tag).toBe("SocketClosed")
  } else if (Result.isFailure(read)) {
    expect(["ProtocolError", "SocketClosed"]).toContain(read.failure._tag)
  }
}
