// The simulated API server's serving certificate: whatever its random serial, node's TLS (OpenSSL) loads it and
// reads it as the certificate it is meant to be. A serial whose first octet was zero once made a DER INTEGER with
// a padding octet, which OpenSSL refuses ("illegal padding"): about one simulator start in 256 failed at random.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { X509Certificate } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import { selfSignedCertificate } from './sim/tls.ts'

const serials: Record<string, Buffer> = {
  'a zero first octet, then one below 0x80': Buffer.from([0x00, 0x01, ...new Array(14).fill(0x42)]),
  'all zero': Buffer.alloc(16),
  'a first octet with the sign bit set': Buffer.from([0x80, ...new Array(15).fill(0x00)]),
  'all ones': Buffer.alloc(16, 0xff),
}

for (const [what, random] of Object.entries(serials))
  test(`a serial from ${what} loads and reads as a positive 16-octet serial`, () => {
    const { cert, key } = selfSignedCertificate('gthulhu-sim', random)
    createSecureContext({ cert, key })
    const x509 = new X509Certificate(cert)
    assert.match(x509.serialNumber, /^[4-7][0-9A-F]{31}$/)
    assert.is(x509.subject, 'CN=gthulhu-sim')
    assert.ok(x509.checkIP('127.0.0.1'), 'subjectAltName IP 127.0.0.1')
    assert.ok(x509.verify(x509.publicKey), 'it signs itself')
  })

test.run()
