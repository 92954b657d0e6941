import { describe, expect, it } from 'vitest';
import { DEFAULT_URL, parseTarget } from '../../src/client/target.ts';
import { ErrorCodes, QtError } from '../../src/errors.ts';

describe('parseTarget', () => {
  it('takes the default, a URL without a path, a bare host:port and IPv6', () => {
    expect(parseTarget(DEFAULT_URL)).toMatchObject({ url: 'https://localhost:8443/api/client', origin: 'https://localhost:8443', path: '/api/client', host: 'localhost', port: 8443, servername: 'localhost' });
    expect(parseTarget('https://status.example.org')).toMatchObject({ url: 'https://status.example.org/api/client', port: 443 });
    expect(parseTarget('localhost:9000')).toMatchObject({ url: 'https://localhost:9000/api/client', port: 9000 });
    expect(parseTarget('https://[::1]:8443/other?x=1')).toMatchObject({ host: '::1', servername: undefined, path: '/other?x=1' });
    expect(parseTarget('https://127.0.0.1:8443/')).toMatchObject({ host: '127.0.0.1', servername: undefined, path: '/api/client' });
  });

  it.each([
    ['http://localhost:8443', /is not an https:\/\/ URL/],
    ['https://', /is not a URL/],
    ['https://user:pw@localhost', /carries a user name or password/],
  ])('refuses %s as a usage error', (input, message) => {
    let error: unknown;
    try {
      parseTarget(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QtError);
    expect((error as QtError).code).toBe(ErrorCodes.USAGE);
    expect((error as QtError).message).toMatch(message);
  });
});
