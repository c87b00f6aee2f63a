/**
 * The pool's deadline heap on its own (pure): order, removal anywhere, removing twice.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { DeadlineHeap, Timed } from "../src/internal/deadlineHeap.js"

class Item extends Timed {
  constructor(deadline: number) {
    super()
    this.deadline = deadline
  }
}

/** Pops everything in order (peek + remove). */
const drain = (heap: DeadlineHeap): Array<number> => {
  const out: Array<number> = []
  for (let item = heap.peek(); item !== undefined; item = heap.peek()) {
    out.push(item.deadline)
    heap.remove(item)
  }
  return out
}

describe("DeadlineHeap", () => {
  it("any pushes and removals: the rest comes out in deadline order, sizes exact", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (deadlines, removals) => {
          const heap = new DeadlineHeap()
          const items = deadlines.map((d) => new Item(d))
          items.forEach((item) => heap.push(item))
          const removed = new Set<Item>()
          for (const r of removals) {
            if (items.length === 0) break
            const item = items[r % items.length]
            heap.remove(item)
            removed.add(item)
          }
          expect(heap.size).toBe(items.length - removed.size)
          const expected = items.filter((item) => !removed.has(item)).map((item) => item.deadline).sort((a, b) => a - b)
          expect(drain(heap)).toEqual(expected)
          expect(heap.size).toBe(0)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("removing an item twice, or one never pushed, changes nothing", () => {
    const heap = new DeadlineHeap()
    const [a, b, c] = [new Item(3), new Item(1), new Item(2)]
    ;[a, b, c].forEach((item) => heap.push(item))
    heap.remove(b)
    heap.remove(b)
    heap.remove(new Item(0))
    expect(heap.size).toBe(2)
    expect(drain(heap)).toEqual([2, 3])
  })

  it("a removal in the middle that moves the last item up keeps the order", () => {
    // [1, 10, 2, 11, 12, 3]: removing 11 puts the last item (3) under 10, where it must rise.
    const heap = new DeadlineHeap()
    const items = [1, 10, 2, 11, 12, 3].map((d) => new Item(d))
    items.forEach((item) => heap.push(item))
    heap.remove(items[3])
    expect(heap.peek()?.deadline).toBe(1)
    expect(drain(heap)).toEqual([1, 2, 3, 10, 12])
  })
})
