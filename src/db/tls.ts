// TLS to Postgres as libpq's connection URLs say it (`sslmode`, `sslrootcert`, `sslcert`,
// `sslkey`), which managed Postgres documents and hands out. postgres.js reads `sslmode` itself
// but not the files, and would send the other parameters to the server as settings; so they are
// read here, taken out of the URL, and given to it as Node's TLS options.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';

export type PostgresSsl = false | 'prefer' | 'require' | ConnectionOptions;

const MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/** A URL's TLS settings, or why they cannot be used (a mode no one knows, a file not there). */
export class TlsSettingError extends Error {}

function readPem(parameter: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TlsSettingError(`${parameter}=${path} in the database URL: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}

/** The URL without the TLS parameters, and the TLS options they make (undefined: none given). */
export function tlsFromUrl(text: string): { url: string; ssl: PostgresSsl | undefined } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { url: text, ssl: undefined };
  }
  const params = url.searchParams;
  const mode = params.get('sslmode') ?? undefined;
  const rootCert = params.get('sslrootcert') ?? undefined;
  const cert = params.get('sslcert') ?? undefined;
  const key = params.get('sslkey') ?? undefined;
  for (const name of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey']) params.delete(name);
  const clean = url.toString();
  if (mode === undefined && rootCert === undefined && cert === undefined) return { url: clean, ssl: undefined };
  if (mode !== undefined && !(MODES as readonly string[]).includes(mode)) {
    throw new TlsSettingError(`sslmode=${mode} in the database URL: expected one of ${MODES.join(', ')}`);
  }
  // libpq's default with a root certificate given is to check the server's against it.
  const effective = mode ?? (rootCert ? 'verify-full' : 'prefer');
  if (effective === 'disable') return { url: clean, ssl: false };
  const clientCert = cert && key ? { cert: readPem('sslcert', cert), key: readPem('sslkey', key) } : {};
  if (effective === 'allow' || effective === 'prefer' || effective === 'require') {
    return { url: clean, ssl: cert && key ? { ...clientCert, rejectUnauthorized: false } : effective === 'require' ? 'require' : 'prefer' };
  }
  // verify-ca and verify-full: the server's certificate must chain to the root given (or to the
  // system's: sslrootcert=system, or none), and for verify-full name the host connected to.
  const ca = rootCert && rootCert !== 'system' ? { ca: readPem('sslrootcert', rootCert) } : {};
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    url: clean,
    ssl: {
      ...ca,
      ...clientCert,
      rejectUnauthorized: true,
      ...(isIP(host) ? {} : { servername: host }),
      // Node checks a name against `servername`, which an IP address cannot be: check the host.
      checkServerIdentity: effective === 'verify-full' ? (_name, certificate) => checkServerIdentity(host, certificate) : () => undefined,
    },
  };
}
