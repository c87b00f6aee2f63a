/**
 * The pure TLS parts: option validation, the canonical identity (a pooled connection is reused if
 * and only if the derived keys are equal) and the certificate fingerprints inside it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Crypto from "node:crypto"
import { CosocketError, Tls } from "../src/index.js"
import * as tlsIdentity from "../src/internal/tlsIdentity.js"
import * as tls from "../src/internal/tlsOptions.js"
import { ca, clientCert, fixture } from "./support/tls.js"

const parsed = (options: unknown, host?: string) => {
  const r = tls.parse(options, host)
  if (!("upgrade" in r)) throw new Error(`unexpected failure: ${r.message}`)
  return r
}

describe("TLS identity", () => {
  it("fingerprint equals node:crypto's SHA-256 of the length-prefixed items, for any items", () => {
    const item = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 100, unit: "grapheme" }))
    fc.assert(fc.property(fc.array(item, { maxLength: 4 }), (items) => {
      const hash = Crypto.createHash("sha256")
      for (const item of items) {
        const bytes = typeof item === "string" ? Buffer.from(item, "utf8") : item
        const length = Buffer.alloc(4)
        length.writeUInt32BE(bytes.length)
        hash.update(length).update(bytes)
      }
      expect(tlsIdentity.fingerprint(items)).toBe(hash.digest("hex"))
    }))
  })

  it("fingerprint known answers: one item, no item (FIPS 180-4's empty message) and a fixture", () => {
    // SHA-256 of 00 00 00 03 "abc"
    expect(tlsIdentity.fingerprint(["abc"]))
      .toBe("d04b72a650ce0f8ce4963330a53ee2832733d2baeffff3c1d8e256cca096d120")
    // no item: SHA-256 of the empty message; an empty CA list is fingerprinted so
    expect(tlsIdentity.fingerprint([]))
      .toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    expect(parsed({ ca: [] }).upgrade.identity)
      .toBe("sni=-,verify=1,ca=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,cert=-")
    const crt = fixture("ca.crt")
    const length = Buffer.alloc(4)
    length.writeUInt32BE(crt.length)
    expect(tlsIdentity.fingerprint([crt])).toBe(Crypto.createHash("sha256").update(length).update(crt).digest("hex"))
  })

  it("defaults: verify on, the connect host as server name (lower-cased, brackets dropped), keepSession", () => {
    const r = parsed(undefined, "Example.TEST")
    expect(r.keepSession).toBe(true)
    expect(r.upgrade.verify).toBe(true)
    expect(r.upgrade.serverName).toBe("example.test")
    expect(r.upgrade.identity).toBe("sni=example.test,verify=1,ca=default,cert=-")
    expect(parsed(true, "[::1]").upgrade.identity).toBe("sni=::1,verify=1,ca=default,cert=-")
    expect(parsed({}, undefined).upgrade.identity).toBe("sni=-,verify=1,ca=default,cert=-")
    expect(parsed({ serverName: "a.test" }, "127.0.0.1").upgrade.serverName).toBe("a.test")
  })

  it("the CA and client-certificate fingerprints hash the material, whatever its form", () => {
    const asString = parsed({ ca: ca.toString("latin1") }).upgrade.identity
    const asBytes = parsed({ ca: new Uint8Array(ca) }).upgrade.identity
    const asArray = parsed({ ca: [ca] }).upgrade.identity
    expect(asString).toBe(asBytes)
    expect(asArray).toBe(asBytes)
    const expected = (items: ReadonlyArray<Uint8Array>) => {
      const hash = Crypto.createHash("sha256")
      for (const item of items) {
        const length = Buffer.alloc(4)
        length.writeUInt32BE(item.length)
        hash.update(length).update(item)
      }
      return hash.digest("hex")
    }
    expect(asBytes).toBe(`sni=-,verify=1,ca=${expected([ca])},cert=-`)
    expect(parsed({ ca: [ca, fixture("self-signed.crt")] }).upgrade.identity)
      .toBe(`sni=-,verify=1,ca=${expected([ca, fixture("self-signed.crt")])},cert=-`)
    expect(parsed({ ...clientCert }).upgrade.identity).toBe(
      `sni=-,verify=1,ca=default,cert=${expected([clientCert.cert])}`
    )
  })

  it("two option sets give equal identities iff server name, verify, CA and client certificate are equal", () => {
    const optionSet = fc.record({
      serverName: fc.constantFrom(undefined, "a.test", "b.test", "A.TEST"),
      verify: fc.constantFrom(undefined, true, false),
      ca: fc.constantFrom(undefined, "ca-1", "ca-2"),
      cert: fc.constantFrom(undefined, "cert-1", "cert-2"),
      alpn: fc.constantFrom(undefined, ["h2"])
    })
    fc.assert(fc.property(
      optionSet,
      optionSet,
      (a, b) => {
        const options = (o: typeof a) => ({
          serverName: o.serverName,
          verify: o.verify,
          ca: o.ca,
          cert: o.cert,
          key: o.cert === undefined ? undefined : "key",
          alpnProtocols: o.alpn
        })
        const same = (a.serverName ?? "").toLowerCase() === (b.serverName ?? "").toLowerCase() &&
          (a.verify ?? true) === (b.verify ?? true) && a.ca === b.ca && a.cert === b.cert
        expect(parsed(options(a)).upgrade.identity === parsed(options(b)).upgrade.identity).toBe(same)
      }
    ))
  })

  it("a session is offered only to the identity it came from", () => {
    const session = Tls.makeSession({
      bytes: new Uint8Array([1, 2, 3]),
      identity: parsed({ serverName: "a.test" }).upgrade.identity
    })
    expect(Tls.isTlsSession(session)).toBe(true)
    expect(parsed({ serverName: "a.test", session }).upgrade.session).toEqual(new Uint8Array([1, 2, 3]))
    expect(parsed({ serverName: "b.test", session }).upgrade.session).toBeUndefined()
    expect(parsed({ serverName: "a.test", verify: false, session }).upgrade.session).toBeUndefined()
  })

  it("TCP-SSL-017 a certificate without its key, or the reverse: TlsError setup", () => {
    for (const options of [{ cert: clientCert.cert }, { key: clientCert.key }]) {
      const r = tls.parse(options, undefined)
      expect(r).toBeInstanceOf(CosocketError.TlsError)
      expect([(r as CosocketError.TlsError).reason, (r as CosocketError.TlsError).message]).toEqual([
        "setup",
        "client certificate must be supplied with corresponding private key"
      ])
    }
  })
})
