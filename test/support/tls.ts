/**
 * Real X.509 material for tests that speak HTTPS: a throw-away CA and server certificates it signs,
 * made with the `openssl` CLI in a temporary directory. Clients trust `caPem`; servers load
 * `certFile`/`keyFile`. EC P-256 keys keep generation fast.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint in the `AA:BB:…` form `tls.TLSSocket#getPeerCertificate()` reports. */
  fingerprint256: string;
}

export interface TestPki {
  dir: string;
  caFile: string;
  caPem: string;
  /** Issue a server certificate for 127.0.0.1 / localhost (plus `dnsNames`), written as `<name>.crt`/`<name>.key`. */
  issue: (name: string, opts?: { dnsNames?: string[]; days?: number }) => ServerCertificate;
  /** Remove the directory and everything in it. */
  cleanup: () => void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createTestPki(subject = 'karma-hpa test CA'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'karma-hpa-pki-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '2', '-subj', `/CN=${subject}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const caFile = join(dir, 'ca.crt');
  let serial = 1;
  const issue = (name: string, opts: { dnsNames?: string[]; days?: number } = {}): ServerCertificate => {
    const sans = ['IP:127.0.0.1', 'DNS:localhost', ...(opts.dnsNames ?? []).map((d) => `DNS:${d}`)].join(',');
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(serial++ + Date.now()),
      '-days', String(opts.days ?? 1), '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    const certPem = readFileSync(certFile, 'utf8');
    return { certFile, keyFile, certPem, keyPem: readFileSync(keyFile, 'utf8'), fingerprint256: new X509Certificate(certPem).fingerprint256 };
  };
  return { dir, caFile, caPem: readFileSync(caFile, 'utf8'), issue, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
