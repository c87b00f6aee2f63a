/**
 * An intrusive doubly linked list: the nodes carry their own links, so adding and removing a
 * known node is O(1) and allocates nothing. The pool keeps its idle connections (most recently
 * used at the back) and its waiting acquires (first come at the front) in such lists.
 *
 * @internal
 */

export interface Node<T> {
  prev: T | undefined
  next: T | undefined
  /** The list holding the node, if any. */
  list: object | undefined
}

export class List<T extends Node<T>> {
  head: T | undefined = undefined
  tail: T | undefined = undefined
  length = 0

  pushBack(node: T): void {
    node.list = this
    node.prev = this.tail
    node.next = undefined
    if (this.tail === undefined) this.head = node
    else this.tail.next = node
    this.tail = node
    this.length++
  }

  /** Removes `node`, which must be in this list (callers check `node.list` when unsure). */
  remove(node: T): void {
    if (node.prev === undefined) this.head = node.next
    else node.prev.next = node.next
    if (node.next === undefined) this.tail = node.prev
    else node.next.prev = node.prev
    node.prev = undefined
    node.next = undefined
    node.list = undefined
    this.length--
  }

  popFront(): T | undefined {
    const node = this.head
    if (node !== undefined) this.remove(node)
    return node
  }

  popBack(): T | undefined {
    const node = this.tail
    if (node !== undefined) this.remove(node)
    return node
  }
}
