// Issue #13: systemd socket activation. systemd holds the port and passes
// the listening socket as fd 3 with LISTEN_FDS=1 and LISTEN_PID (sd_listen_fds(3));
// `serve` answers on it without binding anything itself. Python plays
// systemd here: it binds, sets the variables and execs qtstatus (same pid).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CliProcess } from '../helpers/cli.ts';
import { BIN } from '../helpers/cli.ts';
import { request } from '../helpers/https.ts';
import { takePacket } from '../helpers/packets.ts';
import { VALID_USER } from '../helpers/pki.ts';
import { serveFixture, startServe } from '../helpers/serve-fixture.ts';
import { hasPython } from '../helpers/tls.ts';

const fx = serveFixture();

const ACTIVATE = `
import os, socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(128)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ['LISTEN_FDS'] = '1'
os.environ['LISTEN_PID'] = str(os.getpid())
print('activated port', s.getsockname()[1], file=sys.stderr, flush=True)
os.execv(sys.argv[1], sys.argv[1:])
`;

describe.skipIf(!hasPython)('serve under socket activation', () => {
  it('serves the socket it was given, and never binds --port', async () => {
    const { db } = await startServe(fx); // a db with the user, and a server we stop again
    const args = ['serve', '--port', '1', '--db', db, '--cert', fx.pki.server.cert, '--key', fx.pki.server.key, '--ca', fx.pki.ca, '--udp-source-port', '0', '--udp-target', `127.0.0.1:${fx.sink.port}`];
    const proc = new CliProcess(args, { wrap: ['python3', '-c', ACTIVATE, process.execPath, BIN] });
    fx.procs.push(proc);
    const port = (await proc.waitFor('stderr', /activated port (\d+)/))[1];
    await proc.waitFor('stderr', /serving https:\/\/127\.0\.0\.1:(\d+)/);
    expect(proc.stderr).toContain(`serving https://127.0.0.1:${port}`); // not port 1, which it could not have bound
    const r = await request(`https://localhost:${port}/api/client`, { ca: fx.pki.ca, ...fx.pki.client });
    expect(r.status).toBe(204);
    expect(await takePacket(fx.sink, VALID_USER)).toMatchObject({ port: r.localPort });
    expect(readFileSync(`/proc/${proc.child.pid}/cmdline`, 'utf8')).toContain('serve'); // exec kept the pid systemd named
  });
});
