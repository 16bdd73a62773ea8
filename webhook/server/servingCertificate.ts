/**
 * The serving certificate, reloaded without a restart when its files change (cert-manager renews the
 * Secret; the kubelet swaps the mounted files through a `..data` symlink, so the directories are
 * watched, not the files). New connections get the new certificate through `setSecureContext`;
 * connections already open keep theirs. A half-written pair (key and cert not matching) is refused
 * and the old certificate stays until the next change completes the pair.
 */
import { EventEmitter } from 'node:events';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { KarmaError } from '../../policies/errors.ts';

export interface CertificatePair {
  cert: string;
  key: string;
  fingerprint256: string;
  notAfter: string;
}

/** Read and check a certificate/key pair; throws a KarmaError naming the file when something is off. */
export function readCertificatePair(certFile: string, keyFile: string): CertificatePair {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certFile, 'utf8');
  } catch (e) {
    throw new KarmaError(`cannot read the certificate (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { where: certFile, hint: 'pass --cert with a PEM certificate file' });
  }
  try {
    key = readFileSync(keyFile, 'utf8');
  } catch (e) {
    throw new KarmaError(`cannot read the private key (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { where: keyFile, hint: 'pass --key with a PEM private key file' });
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new KarmaError('is not a PEM certificate', { where: certFile });
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('mismatch');
    createSecureContext({ cert, key });
  } catch {
    throw new KarmaError('the private key does not belong to the certificate', { where: `${certFile} + ${keyFile}`, hint: 'the pair may be half-written; it is read again on the next change' });
  }
  return { cert, key, fingerprint256: x509.fingerprint256, notAfter: x509.validTo };
}

export class ServingCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** `reloaded` (CertificatePair) after a new pair took effect, `reload-failed` (Error) when a change could not be used. */
  readonly events = new EventEmitter();
  private pair: CertificatePair;
  private apply: ((pair: CertificatePair) => void) | undefined;
  private watchers = new Map<string, FSWatcher>();
  private watching = false;

  constructor(certFile: string, keyFile: string) {
    this.certFile = certFile;
    this.keyFile = keyFile;
    this.pair = readCertificatePair(certFile, keyFile);
  }

  get current(): CertificatePair {
    return this.pair;
  }

  /** Where to install a new pair (the server's setSecureContext). */
  onChange(apply: (pair: CertificatePair) => void): void {
    this.apply = apply;
  }

  /** Read the files again; returns true when a different, valid pair took effect. */
  reload(): boolean {
    let next: CertificatePair;
    try {
      next = readCertificatePair(this.certFile, this.keyFile);
    } catch (e) {
      this.events.emit('reload-failed', e);
      return false;
    }
    if (next.fingerprint256 === this.pair.fingerprint256 && next.key === this.pair.key) return false;
    this.apply?.(next);
    this.pair = next;
    this.events.emit('reloaded', next);
    return true;
  }

  /**
   * Watch the directories of the configured paths and of the files they resolve to: the first sees
   * the kubelet's symlink swap, the second sees files rewritten in place behind a symlink. The
   * resolved directories are followed as they move.
   */
  watch(): void {
    this.watching = true;
    this.syncWatchers();
  }

  private syncWatchers(): void {
    if (!this.watching) return;
    const dirs = new Set<string>();
    for (const file of [this.certFile, this.keyFile]) {
      dirs.add(dirname(file));
      try {
        dirs.add(dirname(realpathSync(file)));
      } catch {
        // A dangling link mid-swap; the next event resolves it.
      }
    }
    for (const [dir, w] of this.watchers) {
      if (!dirs.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => {
          this.reload();
          this.syncWatchers();
        });
        w.on('error', (e) => this.events.emit('reload-failed', e));
        this.watchers.set(dir, w);
      } catch (e) {
        this.events.emit('reload-failed', e);
      }
    }
  }

  close(): void {
    this.watching = false;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
