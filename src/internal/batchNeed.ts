/**
 * A batch of a need's units: every unit already complete in the buffer, at least one. The first
 * unit is read exactly as the single read would (it may wait, meet the end of the stream or a
 * limit); the following ones are taken only while they complete from what is buffered, as if the
 * stream were still open. So an end of stream, a limit or an incomplete unit after them is left
 * untouched for the next read, and a batch returns exactly what that many single reads would.
 * Pure, like every need.
 *
 * @internal
 */
import { ReceiveLimitExceeded } from "../CosocketError.js"
import type { ByteBuffer } from "./byteBuffer.js"
import { EndOfStream, type Need, NEED_MORE, type StepResult, type StreamEnd } from "./needs.js"

export class BatchNeed<A> implements Need<Array<A>> {
  constructor(
    readonly unit: Need<A>,
    /** Most units a batch returns. */
    readonly max: number,
    /** A unit after which the batch stops (the end marker of a `receiveUntil` part). */
    readonly isLast: (unit: A) => boolean = neverLast
  ) {}

  begin(): void {
    this.unit.begin()
  }

  step(buffer: ByteBuffer, end: StreamEnd): StepResult<Array<A>> {
    const first = this.unit.step(buffer, end)
    if (first === NEED_MORE || first instanceof EndOfStream || first instanceof ReceiveLimitExceeded) {
      return first as NEED_MORE | EndOfStream | ReceiveLimitExceeded
    }
    const units = [first as A]
    if (this.isLast(first as A)) return units
    while (units.length < this.max) {
      const next = this.unit.step(buffer, "open")
      if (next === NEED_MORE || next instanceof ReceiveLimitExceeded) break
      units.push(next as A)
      if (this.isLast(next as A)) break
    }
    return units
  }

  partial(buffer: ByteBuffer): Uint8Array {
    return this.unit.partial(buffer)
  }
}

const neverLast = (): boolean => false
