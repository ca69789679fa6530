// A self-signed serving certificate for the simulated API server, made with node:crypto alone.
// kubectl (client-go's clientcmd) sends a kubeconfig's credentials — bearer tokens, and so who the
// request comes from — only over TLS: over plain HTTP it sends none. So the API server speaks TLS to kubectl,
// with this certificate in the kubeconfig's certificate-authority-data.
//
// The certificate is X.509 v3 (RFC 5280) with an ECDSA P-256 key, subject and issuer CN `gthulhu-sim`,
// subjectAltName IP 127.0.0.1 and DNS localhost (Go's verifier reads only the SAN), valid from an hour ago
// for 30 days; DER is written by the small encoder below.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'

const der = (tag: number, content: Buffer): Buffer => {
  const length =
    content.length < 0x80
      ? Buffer.from([content.length])
      : content.length < 0x100
        ? Buffer.from([0x81, content.length])
        : Buffer.from([0x82, content.length >> 8, content.length & 0xff])
  return Buffer.concat([Buffer.from([tag]), length, content])
}
const sequence = (...items: Buffer[]) => der(0x30, Buffer.concat(items))
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items))
const explicit = (n: number, item: Buffer) => der(0xa0 + n, item)

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number)
  const bytes = [a * 40 + b]
  for (const n of rest) {
    const chunk = [n & 0x7f]
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return der(0x06, Buffer.from(bytes))
}

const utcTime = (date: Date) =>
  der(0x17, Buffer.from(`${date.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`, 'ascii'))
const name = (commonName: string) => sequence(set(sequence(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName)))))

export interface ServingCertificate {
  /** PEM certificate (also the CA a client trusts: it signs itself). */
  cert: string
  /** PEM private key. */
  key: string
}

/** `random`: the serial's 16 octets before they are made a positive INTEGER (a test passes the ones that used to fail). */
export function selfSignedCertificate(
  commonName = 'gthulhu-sim',
  random: Uint8Array = randomBytes(16),
): ServingCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const ecdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'))
  const serial = Buffer.from(random)
  // A positive INTEGER in its shortest form (X.690 8.3.2): a leading zero octet before one below 0x80 is padding
  // OpenSSL refuses ("illegal padding"), so the first octet is kept between 0x40 and 0x7f.
  serial[0] = (serial[0] & 0x3f) | 0x40
  const now = Date.now()
  const subjectAltName = sequence(der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from('localhost')))
  const extensions = explicit(
    3,
    sequence(
      sequence(oid('2.5.29.17'), der(0x04, subjectAltName)),
      // basicConstraints CA:TRUE (critical), so the certificate can stand as its own trust anchor.
      sequence(oid('2.5.29.19'), der(0x01, Buffer.from([0xff])), der(0x04, sequence(der(0x01, Buffer.from([0xff]))))),
    ),
  )
  const tbs = sequence(
    explicit(0, der(0x02, Buffer.from([2]))),
    der(0x02, serial),
    ecdsaWithSha256,
    name(commonName),
    sequence(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 30 * 86_400_000))),
    name(commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  )
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' })
  const certificate = sequence(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const pem = (label: string, body: Buffer) =>
    `-----BEGIN ${label}-----\n${body
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n')}\n-----END ${label}-----\n`
  return {
    cert: pem('CERTIFICATE', certificate),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}
