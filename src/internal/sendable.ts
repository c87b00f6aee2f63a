/**
 * Encoding of `send` payloads, as OpenResty encodes them: strings (UTF-8), byte arrays, numbers formatted as Lua
 * does (`%d` for int32 values, `%.14g` otherwise), booleans, and nested arrays of those,
 * concatenated in order. Pure and synchronous.
 *
 * @internal
 */
import type { InvalidArgument } from "../CosocketError.js"
import { guard, invalid, isBytes, typeName } from "./validate.js"

/** What `send` accepts. */
export type Sendable = string | Uint8Array | number | boolean | ReadonlyArray<Sendable>

const encoder = new TextEncoder()

/** Formats a number like Lua 5.1 / LuaJIT's `tostring` as used by OpenResty's `send`. */
export const formatNumber = (n: number): string => {
  // %.14g prints an integer of at most 14 digits as its digits, as String does (the int32 values
  // Lua's %d gets among them); -0 is "-0" (String(-0) would give "0").
  if (Number.isInteger(n) && Math.abs(n) < 1e14) return Object.is(n, -0) ? "-0" : String(n)
  if (Number.isNaN(n)) return "nan"
  if (!Number.isFinite(n)) return n === Infinity ? "inf" : "-inf"
  // %.14g: 14 significant digits, exponent form when the exponent is < -4 or >= 14.
  const exponential = n.toExponential(13)
  const e = exponential.indexOf("e")
  const exponent = Number(exponential.slice(e + 1))
  if (exponent < -4 || exponent >= 14) {
    const mantissa = stripZeros(exponential.slice(0, e))
    // toExponential always writes the exponent's sign ("e+15", "e-5"); %g pads it to two digits
    return `${mantissa}e${exponential[e + 1]}${exponential.slice(e + 2).padStart(2, "0")}`
  }
  return stripZeros(n.toFixed(13 - exponent))
}

const stripZeros = (s: string): string => {
  if (s.indexOf(".") === -1) return s
  let end = s.length
  while (s.charCodeAt(end - 1) === 48) end--
  if (s.charCodeAt(end - 1) === 46) end--
  return s.slice(0, end)
}

/**
 * Encodes a payload to bytes, or explains why it cannot be sent (`bad data type nil found`,
 * `non-array table found`, ...). Nothing is sent when this fails; an array whose own code throws
 * (a Proxy, a getter) fails too.
 */
export const encode = (data: unknown): Uint8Array | InvalidArgument => {
  // the usual payloads first, without a guard: their own code cannot run
  if (isBytes(data)) return data
  if (typeof data === "string") return encoder.encode(data)
  return guard("data", () => encodeOther(data))
}

const encodeOther = (data: unknown): Uint8Array | InvalidArgument => {
  if (Array.isArray(data)) {
    const parts: Array<Uint8Array> = []
    const problem = flatten(data, parts, 0)
    if (problem !== undefined) return problem
    return concat(parts)
  }
  const scalar = encodeScalar(data)
  if (scalar !== undefined) return scalar
  return invalid(
    "data",
    `string, Uint8Array, number, boolean, or array expected, got ${typeName(data)}`
  )
}

const encodeScalar = (data: unknown): Uint8Array | undefined => {
  switch (typeof data) {
    case "number":
      return encoder.encode(formatNumber(data))
    case "boolean":
      return encoder.encode(data ? "true" : "false")
  }
  return undefined
}

const maxDepth = 100

const flatten = (items: ReadonlyArray<unknown>, out: Array<Uint8Array>, depth: number): InvalidArgument | undefined => {
  if (depth > maxDepth) return invalid("data", "array nested too deeply")
  for (let i = 0; i < items.length; i++) {
    // a hole reads as undefined: "nil found" below
    const item = items[i]
    if (isBytes(item)) out.push(item)
    else if (typeof item === "string") out.push(encoder.encode(item))
    else if (typeof item === "number") out.push(encoder.encode(formatNumber(item)))
    else if (Array.isArray(item)) {
      const problem = flatten(item, out, depth + 1)
      if (problem !== undefined) return problem
    } else if (item === null || item === undefined) return invalid("data", "bad data type nil found")
    // booleans too: OpenResty sends them only at the top level ("bad data type boolean found")
    else return invalid("data", `bad data type ${typeName(item)} found`)
  }
  return undefined
}

/** Concatenates byte arrays (returns the only part itself when there is one). */
export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (parts.length === 1) return parts[0]
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
