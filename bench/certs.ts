// npm run bench:certs — issue #3's benchmark. In one run, alternately:
// (a) `qtstatus certs init` (the real CLI, spawned) and (b) a bash script of
// openssl commands that makes the same set (CA, server, one client, the same
// extensions, keys 0600), for RSA-2048 and ECDSA P-256, a few rounds each.
// Prints wall times (medians) and the ratio; goal for RSA-2048: a/b <= 0.5.
// Also one cold run of (a), with an empty compile cache.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/qtstatus', import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 7);

const OPENSSL_SCRIPT = String.raw`
set -euo pipefail
umask 077
dir=$1; kind=$2
mkdir -p "$dir"; cd "$dir"
if [ "$kind" = rsa ]; then new=(-newkey rsa:2048); sku=,keyEncipherment; else new=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); sku=; fi
cat > openssl.cnf <<EOF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature\${sku}
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = email:valid_user@qt-test.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl req -x509 "\${new[@]}" -nodes -sha256 -days 3650 -subj "/O=qtstatus/CN=qtstatus CA" \
  -config openssl.cnf -extensions ca -keyout ca.key -out ca.crt 2>/dev/null
for leaf in server client; do
  cn=localhost; [ $leaf = client ] && cn=valid_user@qt-test.com
  openssl req "\${new[@]}" -nodes -subj "/CN=$cn" -config openssl.cnf -keyout $leaf.key -out $leaf.csr 2>/dev/null
  openssl x509 -req -in $leaf.csr -CA ca.crt -CAkey ca.key -sha256 -days 365 \
    -extfile openssl.cnf -extensions $leaf -out $leaf.crt 2>/dev/null
  rm $leaf.csr
done
chmod 644 ca.crt server.crt client.crt
openssl verify -CAfile ca.crt -auth_level 2 server.crt client.crt >/dev/null
`.replaceAll('\\$', '$');

function wall(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const start = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const work = mkdtempSync(join(tmpdir(), 'qtstatus-bench-certs-'));
const script = join(work, 'openssl-init.sh');
writeFileSync(script, OPENSSL_SCRIPT);
let n = 0;
const fresh = () => join(work, `set-${n++}`);
const qtstatus = (keyType: string, env?: NodeJS.ProcessEnv) =>
  wall(process.execPath, [BIN, 'certs', 'init', '--dir', fresh(), '--key-type', keyType, '--quiet'], env);
const openssl = (kind: string) => wall('bash', [script, fresh(), kind]);

try {
  const startup = median(Array.from({ length: 5 }, () => wall(process.execPath, [BIN, '--version'])));
  const cold = qtstatus('rsa-2048', { ...process.env, NODE_COMPILE_CACHE: join(work, 'empty-cache') });
  console.log(`qtstatus --version: ${startup.toFixed(0)} ms (startup, warm compile cache); certs init with a cold cache: ${cold.toFixed(0)} ms`);
  console.log(`${ROUNDS} rounds each, alternating; medians of wall time`);
  console.log('| key type | qtstatus certs init | openssl script | ratio | goal |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [keyType, kind] of [
    ['rsa-2048', 'rsa'],
    ['ecdsa-p256', 'ec'],
  ] as const) {
    qtstatus(keyType); // warm-up: compile cache, page cache
    openssl(kind);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      a.push(qtstatus(keyType));
      b.push(openssl(kind));
    }
    const ratio = median(a) / median(b);
    const goal = keyType === 'rsa-2048' ? (ratio <= 0.5 ? '<= 0.5: met' : '<= 0.5: MISSED') : '-';
    console.log(`| ${keyType} | ${median(a).toFixed(0)} ms (${Math.min(...a).toFixed(0)}-${Math.max(...a).toFixed(0)}) | ${median(b).toFixed(0)} ms (${Math.min(...b).toFixed(0)}-${Math.max(...b).toFixed(0)}) | ${ratio.toFixed(2)} | ${goal} |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
