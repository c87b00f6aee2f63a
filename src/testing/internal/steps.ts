/**
 * The scripted peer's step language: the step constructors (strings become UTF-8 bytes, counts
 * are checked when the script is built) and the flattening of a script into the list of steps
 * one connection plays. Each constructor is documented where ../ScriptedPeer.ts exports it; what
 * each step does on a connection is in ./scriptRunner.ts.
 *
 * @internal
 */
import type * as ScriptedPeer from "../ScriptedPeer.js"

type Step = ScriptedPeer.Step

const encoder = new TextEncoder()

const toBytes = (bytes: string | Uint8Array): Uint8Array => typeof bytes === "string" ? encoder.encode(bytes) : bytes

/** Fails when the script is built, not when a connection plays it. */
const checkCount = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`ScriptedPeer.${name}: expected a non-negative integer, got ${value}`)
  }
  return value
}

export const expect = (bytes: string | Uint8Array): Step => ({ _tag: "Expect", bytes: toBytes(bytes) })

export const expectLength = (length: number): Step => ({
  _tag: "ExpectLength",
  length: checkCount("expectLength", length)
})

export const send = (bytes: string | Uint8Array): Step => ({ _tag: "Send", bytes: toBytes(bytes) })

export const delay = (millis: number): Step => ({ _tag: "Delay", millis: checkCount("delay", millis) })

export const sendChunks = (chunks: ReadonlyArray<string | Uint8Array>, delayMillis: number): ReadonlyArray<Step> => {
  const steps: Array<Step> = []
  chunks.forEach((chunk, i) => {
    if (i > 0) {
      steps.push(delay(delayMillis))
    }
    steps.push(send(chunk))
  })
  return steps
}

export const halfClose: Step = { _tag: "HalfClose" }

export const close: Step = { _tag: "Close" }

export const reset: Step = { _tag: "Reset" }

export const stopReading: Step = { _tag: "StopReading" }

export const awaitEnd: Step = { _tag: "AwaitEnd" }

/** The steps connection `index` plays: its script (fixed or chosen by index), flattened. */
export const stepsFor = (script: ScriptedPeer.Options["script"], index: number): ReadonlyArray<Step> => {
  const chosen = script === undefined ? [] : typeof script === "function" ? script(index) : script
  return chosen.flatMap((step): ReadonlyArray<Step> => Array.isArray(step) ? step : [step as Step])
}
