/**
 * Deadlines in an indexed binary min-heap: every item knows its index, so inserting and removing
 * a known item are O(log n) and the heap never holds a stale entry. The pool keeps every idle
 * timeout and every timed wait in one, and arms one timer for the earliest.
 *
 * @internal
 */

export abstract class Timed {
  deadline = Infinity
  heapIndex = -1
}

export class DeadlineHeap {
  private readonly items: Array<Timed> = []

  get size(): number {
    return this.items.length
  }

  peek(): Timed | undefined {
    return this.items[0]
  }

  push(item: Timed): void {
    item.heapIndex = this.items.length
    this.items.push(item)
    this.up(item.heapIndex)
  }

  remove(item: Timed): void {
    const i = item.heapIndex
    if (i < 0) return
    item.heapIndex = -1
    const last = this.items.pop()!
    if (last === item) return
    this.items[i] = last
    last.heapIndex = i
    this.up(i)
    this.down(last.heapIndex)
  }

  private up(i: number): void {
    const items = this.items
    const item = items[i]
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent].deadline <= item.deadline) break
      items[i] = items[parent]
      items[i].heapIndex = i
      i = parent
    }
    items[i] = item
    item.heapIndex = i
  }

  private down(i: number): void {
    const items = this.items
    const n = items.length
    const item = items[i]
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && items[right].deadline < items[left].deadline ? right : left
      if (items[child].deadline >= item.deadline) break
      items[i] = items[child]
      items[i].heapIndex = i
      i = child
    }
    items[i] = item
    item.heapIndex = i
  }
}
