/**
 * The bytes the workloads exchange, shared by the data server and the clients.
 */

/** 32-byte lines: 30 characters and CRLF. */
export const LINE_LENGTH = 32
/** 2,048 lines (64 KiB). */
export const LINE_BLOCK: Buffer = Buffer.from(
  Array.from({ length: 2048 }, (_, i) => `line ${String(i).padStart(8, "0")} ${"x".repeat(16)}\r\n`).join(""),
  "latin1"
)

/** Arbitrary bytes for the sized reads (256 KiB, never all the same). */
export const BYTE_BLOCK: Buffer = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 31 + 7) & 0xff))

/** The delimiter of the receiveUntil workloads (a multipart-like boundary). */
export const DELIMITER = "\r\n--bench-boundary--\r\n"
export const DELIMITER_BYTES: Buffer = Buffer.from(DELIMITER, "latin1")

const parts = (count: number, size: number, fill: string): Buffer =>
  Buffer.concat(Array.from({ length: count }, () => Buffer.concat([Buffer.alloc(size, fill), DELIMITER_BYTES])))

/** One message of the small receiveUntil workload: 10 parts of 1 KiB, each followed by the delimiter. */
export const SMALL_PARTS = 10
export const SMALL_PART_SIZE = 1024
export const UNTIL_SMALL_MESSAGE: Buffer = parts(SMALL_PARTS, SMALL_PART_SIZE, "s")

/** One message of the large receiveUntil workload: 4 parts of 64 KiB, each followed by the delimiter. */
export const LARGE_PARTS = 4
export const LARGE_PART_SIZE = 64 * 1024
export const UNTIL_LARGE_MESSAGE: Buffer = parts(LARGE_PARTS, LARGE_PART_SIZE, "L")

/** Request lines of the data server: the first line picks the mode. */
export type DataMode = "lines" | "bytes" | "until-large" | "until-small"

/** Redis commands. */
export const PING: Buffer = Buffer.from("PING\r\n", "latin1")
export const PING10: Buffer = Buffer.concat(Array.from({ length: 10 }, () => PING))
export const GET_KEY = "bench:value64"
export const GET_VALUE = "v".repeat(64)
export const GET: Buffer = Buffer.from(`*2\r\n$3\r\nGET\r\n$${GET_KEY.length}\r\n${GET_KEY}\r\n`, "latin1")
export const SET: Buffer = Buffer.from(
  `*3\r\n$3\r\nSET\r\n$${GET_KEY.length}\r\n${GET_KEY}\r\n$${GET_VALUE.length}\r\n${GET_VALUE}\r\n`,
  "latin1"
)
