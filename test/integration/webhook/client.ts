/** An HTTPS client that trusts the test CA and reports what the server presented. */
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface HttpsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** SHA-256 fingerprint of the certificate the server presented on this connection. */
  peerFingerprint256: string;
}

export interface PostOptions {
  contentType?: string | null;
  headers?: Record<string, string>;
  agent?: Agent;
  method?: string;
}

export function httpsCall(url: string, caPem: string, path: string, body: string | Buffer | undefined, opts: PostOptions = {}): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body !== undefined && opts.contentType !== null) headers['content-type'] = opts.contentType ?? 'application/json';
    const req = request({
      host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
      ca: caPem, headers, ...(opts.agent ? { agent: opts.agent } : { agent: false }),
    }, (res) => {
      const chunks: Buffer[] = [];
      const socket = res.socket as TLSSocket;
      const peerFingerprint256 = socket.getPeerCertificate?.().fingerprint256 ?? '';
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), peerFingerprint256 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
