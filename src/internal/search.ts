/**
 * Byte search over `Uint8Array`s. A typed array's own `indexOf` visits every byte in a plain loop
 * (about 19 µs for 64 KiB); Node's `Buffer.prototype.indexOf` works on any `Uint8Array` and uses
 * `memchr` and a native substring search (about 1 µs). Runtimes with a global `Buffer` (Node,
 * Bun, Deno) get the native one; elsewhere the typed array's.
 *
 * @internal
 */

type NativeIndexOf = (this: Uint8Array, value: number | Uint8Array, byteOffset: number) => number

const native: NativeIndexOf | undefined = (globalThis as { Buffer?: { prototype?: { indexOf?: NativeIndexOf } } })
  .Buffer?.prototype?.indexOf

/** Index of `byte` in `bytes` at or after `from`, or -1. */
export const indexOfByte: (bytes: Uint8Array, byte: number, from: number) => number = native !== undefined
  ? (bytes, byte, from) => native.call(bytes, byte, from)
  : (bytes, byte, from) => bytes.indexOf(byte, from)

/** Where `pattern` first occurs wholly inside `bytes[from, to)`, or -1. */
export type PatternSearch = (bytes: Uint8Array, pattern: Uint8Array, from: number, to: number) => number

/** The native substring search; `undefined` when the runtime has none (the caller searches itself). */
export const indexOfPattern: PatternSearch | undefined = native !== undefined
  ? (bytes, pattern, from, to) =>
    to - from < pattern.length ? -1 : native.call(to === bytes.length ? bytes : bytes.subarray(0, to), pattern, from)
  : undefined
