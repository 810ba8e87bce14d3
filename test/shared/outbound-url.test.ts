import { describe, expect, it } from 'vitest';
import { checkOutboundUrl, MAX_OUTBOUND_URL_LENGTH } from '../../shared/outbound-url.ts';

const PRODUCTION = { production: true };
const LOCAL = { production: false };

/** `'ok'`, or a pattern the refusal's reason must match (so a URL refused for the wrong reason fails too). */
type Expect = 'ok' | RegExp;

const SCHEME = /must be an https:\/\/ URL/;
const SCHEME_LOCAL = /must be an http:\/\/ or https:\/\/ URL/;
const LOOPBACK = /a loopback address/;
const UNPARSABLE = /is not an absolute URL/;

// [url, in production, in local mode]
const CASES: ReadonlyArray<readonly [string, Expect, Expect]> = [
  // Ordinary targets.
  ['https://example.com/hook', 'ok', 'ok'],
  ['HTTPS://EXAMPLE.COM', 'ok', 'ok'],
  ['https://hooks.slack.com/services/T0000/B0000/XXXXXXXX', 'ok', 'ok'],
  ['https://events.pagerduty.com/v2/enqueue', 'ok', 'ok'],
  ['https://alertmanager.example.com:9093/api/v2/alerts?x=1', 'ok', 'ok'],
  ['https://example.com./', 'ok', 'ok'], // the fully-qualified form
  ['https://8.8.8.8/', 'ok', 'ok'],
  ['https://[2606:4700:4700::1111]/', 'ok', 'ok'],
  ['https://[2001:4860:4860::8888]/', 'ok', 'ok'],
  ['https://[::ffff:8.8.8.8]/', 'ok', 'ok'],
  ['https://[64:ff9b::8.8.8.8]/', 'ok', 'ok'],
  ['https://[2002:808:808::1]/', 'ok', 'ok'], // 6to4 of a public address
  // IDN: judged (and kept) in punycode.
  ['https://münchen.de/hook', 'ok', 'ok'],
  ['https://пример.рф/', 'ok', 'ok'],
  ['https://ＬＯＣＡＬＨＯＳＴ/', LOOPBACK, 'ok'], // full-width letters map to "localhost"
  ['https://１２７.０.０.１/', LOOPBACK, 'ok'], // full-width digits map to 127.0.0.1
  // Schemes.
  ['http://example.com/', SCHEME, 'ok'],
  ['javascript:alert(1)', SCHEME, SCHEME_LOCAL],
  ['file:///etc/passwd', SCHEME, SCHEME_LOCAL],
  ['ftp://example.com/file', SCHEME, SCHEME_LOCAL],
  ['data:text/plain,hello', SCHEME, SCHEME_LOCAL],
  ['ws://example.com/', SCHEME, SCHEME_LOCAL],
  // Not a URL, or not one we store as given.
  ['example.com/hook', UNPARSABLE, UNPARSABLE],
  ['', UNPARSABLE, UNPARSABLE],
  ['https://', UNPARSABLE, UNPARSABLE],
  ['https://256.0.0.1/', UNPARSABLE, UNPARSABLE],
  ['https://1.2.3.4.5/', UNPARSABLE, UNPARSABLE],
  ['https://example.123/', UNPARSABLE, UNPARSABLE],
  ['https://[fe80::1%25eth0]/', UNPARSABLE, UNPARSABLE], // zone index
  [' https://example.com/', /whitespace or control/, /whitespace or control/],
  ['https://exa\tmple.com/', /whitespace or control/, /whitespace or control/], // the parser would drop the tab
  ['https://example.com/\n', /whitespace or control/, /whitespace or control/],
  ['https://user:pw@example.com/', /credentials/, /credentials/],
  ['https://user@example.com/', /credentials/, /credentials/],
  ['https://:pw@example.com/', /credentials/, /credentials/],
  ['https://example.com@127.0.0.1/', /credentials/, /credentials/],
  ['https://example.com/#section', /fragment/, /fragment/],
  ['https://127.0.0.1#@example.com/', /fragment/, /fragment/],
  ['https://example.com\\@127.0.0.1/', 'ok', 'ok'], // a backslash ends the host of an https URL: the host is example.com
  ['https://127.0.0.1\\@example.com/', LOOPBACK, 'ok'],
  // Length.
  [`https://example.com/${'a'.repeat(5_000)}`, /longer than 2048 characters$/, /longer than 2048 characters$/],
  [`https://example.com/${'a'.repeat(MAX_OUTBOUND_URL_LENGTH - 20)}`, 'ok', 'ok'],
  [`https://example.com/${'a'.repeat(MAX_OUTBOUND_URL_LENGTH - 19)}`, /longer than 2048/, /longer than 2048/],
  [`https://example.com/${'é'.repeat(1_000)}`, /once normalised/, /once normalised/], // 1,020 characters, 6,020 percent-encoded
  // Loopback in every spelling the parser normalises: refused in production, allowed locally.
  ['http://127.0.0.1:8787/hook', SCHEME, 'ok'],
  ['http://[::ffff:127.0.0.1]/', SCHEME, 'ok'],
  ['http://0x7f000001/', SCHEME, 'ok'],
  ['http://2130706433/', SCHEME, 'ok'],
  ['http://017700000001/', SCHEME, 'ok'],
  ['http://127.1/', SCHEME, 'ok'],
  ['https://127.0.0.1/', LOOPBACK, 'ok'],
  ['https://127.255.255.254/', LOOPBACK, 'ok'],
  ['https://127.1/', LOOPBACK, 'ok'],
  ['https://0x7f000001/', LOOPBACK, 'ok'],
  ['https://0x7f.1/', LOOPBACK, 'ok'],
  ['https://2130706433/', LOOPBACK, 'ok'],
  ['https://017700000001/', LOOPBACK, 'ok'],
  ['https://0177.0.0.1/', LOOPBACK, 'ok'],
  ['https://%31%32%37.0.0.1/', LOOPBACK, 'ok'],
  ['https://127.0.0.1./', LOOPBACK, 'ok'],
  ['https://[::1]/', LOOPBACK, 'ok'],
  ['https://[0:0:0:0:0:0:0:1]/', LOOPBACK, 'ok'],
  ['https://[::ffff:127.0.0.1]/', LOOPBACK, 'ok'],
  ['https://[::ffff:7f00:1]/', LOOPBACK, 'ok'],
  ['https://localhost/', LOOPBACK, 'ok'],
  ['https://LOCALHOST./', LOOPBACK, 'ok'],
  ['https://api.localhost/', LOOPBACK, 'ok'],
  // The cloud metadata service, in any spelling: refused in both modes.
  ['https://169.254.169.254/latest/meta-data', /link-local/, /link-local/],
  ['http://169.254.169.254/latest/meta-data', SCHEME, /link-local/],
  ['https://2852039166/', /link-local/, /link-local/],
  ['https://0xa9fea9fe/', /link-local/, /link-local/],
  ['https://[::ffff:169.254.169.254]/', /link-local/, /link-local/],
  ['https://[::ffff:a9fe:a9fe]/', /link-local/, /link-local/],
  ['https://metadata.google.internal/computeMetadata/v1/', /under \.internal/, /under \.internal/],
  // IPv4 special ranges, with their public neighbours.
  ['https://0.0.0.0/', /this network/, /this network/],
  ['https://0/', /this network/, /this network/],
  ['https://9.255.255.255/', 'ok', 'ok'],
  ['https://10.0.0.1/', /10\.0\.0\.0\/8/, /10\.0\.0\.0\/8/],
  ['https://10.255.255.255/', /10\.0\.0\.0\/8/, /10\.0\.0\.0\/8/],
  ['https://11.0.0.0/', 'ok', 'ok'],
  ['https://100.63.255.255/', 'ok', 'ok'],
  ['https://100.64.0.1/', /carrier-grade NAT/, /carrier-grade NAT/],
  ['https://100.127.255.255/', /carrier-grade NAT/, /carrier-grade NAT/],
  ['https://100.128.0.0/', 'ok', 'ok'],
  ['https://126.255.255.255/', 'ok', 'ok'],
  ['https://128.0.0.0/', 'ok', 'ok'],
  ['https://169.253.255.255/', 'ok', 'ok'],
  ['https://169.254.0.1/', /link-local/, /link-local/],
  ['https://169.255.0.0/', 'ok', 'ok'],
  ['https://172.15.255.255/', 'ok', 'ok'],
  ['https://172.16.0.1/', /172\.16\.0\.0\/12/, /172\.16\.0\.0\/12/],
  ['https://172.31.255.255/', /172\.16\.0\.0\/12/, /172\.16\.0\.0\/12/],
  ['https://172.32.0.0/', 'ok', 'ok'],
  ['https://192.0.0.8/', /IETF protocol/, /IETF protocol/],
  ['https://192.0.2.1/', /documentation/, /documentation/],
  ['https://192.168.1.1/', /192\.168\.0\.0\/16/, /192\.168\.0\.0\/16/],
  ['https://198.17.255.255/', 'ok', 'ok'],
  ['https://198.18.0.1/', /benchmarking/, /benchmarking/],
  ['https://198.19.255.255/', /benchmarking/, /benchmarking/],
  ['https://198.20.0.0/', 'ok', 'ok'],
  ['https://198.51.100.7/', /documentation/, /documentation/],
  ['https://203.0.113.9/', /documentation/, /documentation/],
  ['https://223.255.255.255/', 'ok', 'ok'],
  ['https://224.0.0.1/', /multicast/, /multicast/],
  ['https://239.255.255.250/', /multicast/, /multicast/],
  ['https://240.0.0.1/', /reserved/, /reserved/],
  ['https://255.255.255.255/', /broadcast/, /broadcast/],
  ['https://0xffffffff/', /broadcast/, /broadcast/],
  // IPv6 special ranges.
  ['https://[::]/', /unspecified/, /unspecified/],
  ['https://[fc00::1]/', /unique local/, /unique local/],
  ['https://[fd12:3456:789a::1]/', /unique local/, /unique local/],
  ['https://[fe80::1]/', /link-local/, /link-local/],
  ['https://[febf:ffff::1]/', /link-local/, /link-local/],
  ['https://[fec0::1]/', /site-local/, /site-local/],
  ['https://[ff02::1]/', /multicast/, /multicast/],
  ['https://[::ffff:10.0.0.1]/', /10\.0\.0\.0\/8/, /10\.0\.0\.0\/8/],
  ['https://[::ffff:192.168.0.1]/', /192\.168\.0\.0\/16/, /192\.168\.0\.0\/16/],
  ['https://[::ffff:0:0]/', /this network/, /this network/],
  ['https://[64:ff9b::10.0.0.1]/', /NAT64 of a private address/, /NAT64 of a private address/],
  ['https://[64:ff9b::127.0.0.1]/', /NAT64 of a loopback/, /NAT64 of a loopback/], // the translator's loopback, not ours: refused locally too
  ['https://[64:ff9b::a9fe:a9fe]/', /NAT64 of a link-local/, /NAT64 of a link-local/],
  ['https://[64:ff9b:1::1]/', /local-use NAT64/, /local-use NAT64/],
  ['https://[2002:c0a8:101::1]/', /6to4 of a private address/, /6to4 of a private address/],
  ['https://[::127.0.0.1]/', /IPv4-compatible/, /IPv4-compatible/],
  ['https://[2001:db8::1]/', /documentation/, /documentation/],
  ['https://[3fff::1]/', /documentation/, /documentation/],
  ['https://[2001::1]/', /IETF protocol/, /IETF protocol/],
  ['https://[100::1]/', /global unicast/, /global unicast/],
  // Names that are never public hosts.
  ['https://intranet/', /single-label/, /single-label/],
  ['https://printer.local/', /under \.local/, /under \.local/],
  ['https://router.home.arpa/', /under \.home\.arpa/, /under \.home\.arpa/],
  ['https://db.corp/', /under \.corp/, /under \.corp/],
  ['https://host.localdomain/', /under \.localdomain/, /under \.localdomain/],
  ['https://local.example.com/', 'ok', 'ok'], // "local" as a label, not the suffix
  ['https://internal-tools.example.com/', 'ok', 'ok'],
  // The documented gap: a public name that resolves to loopback cannot be seen from here (no DNS in the runtime).
  ['https://127.0.0.1.nip.io/', 'ok', 'ok'],
];

describe('checkOutboundUrl', () => {
  for (const [mode, column, name] of [
    [PRODUCTION, 1, 'production'],
    [LOCAL, 2, 'local mode'],
  ] as const) {
    it.each(CASES.map((row) => [row[0].length > 80 ? `${row[0].slice(0, 60)}… (${row[0].length} chars)` : row[0], row[0], row[column]] as const))(
      `${name}: %s`,
      (_label, url, expected) => {
        const verdict = checkOutboundUrl(url, mode);
        if (expected === 'ok') {
          expect(verdict, JSON.stringify(verdict)).toMatchObject({ ok: true });
        } else {
          expect(verdict.ok).toBe(false);
          if (!verdict.ok) expect(verdict.reason).toMatch(expected);
        }
      },
    );
  }

  it('returns the normalised URL that is to be stored and fetched', () => {
    const hostOf = (text: string) => {
      const verdict = checkOutboundUrl(text, LOCAL);
      if (!verdict.ok) throw new Error(verdict.reason);
      return verdict.url.hostname;
    };
    expect(hostOf('http://2130706433/')).toBe('127.0.0.1');
    expect(hostOf('http://0x7f000001/')).toBe('127.0.0.1');
    expect(hostOf('http://017700000001/')).toBe('127.0.0.1');
    expect(hostOf('http://0x7f.1/')).toBe('127.0.0.1');
    expect(hostOf('http://127.1/')).toBe('127.0.0.1');
    expect(hostOf('http://[::ffff:127.0.0.1]/')).toBe('[::ffff:7f00:1]');
    expect(hostOf('https://münchen.de/')).toBe('xn--mnchen-3ya.de');

    const verdict = checkOutboundUrl('HTTPS://EXAMPLE.COM', PRODUCTION);
    expect(verdict.ok && verdict.url.href).toBe('https://example.com/');
  });

  it('names the URL and the host in a refusal, for the 400 answer', () => {
    expect(checkOutboundUrl('https://0xa9fea9fe/latest', PRODUCTION)).toEqual({
      ok: false,
      reason:
        'the target URL points at 169.254.169.254, a link-local address (169.254.0.0/16, where cloud metadata services answer); targets must be on the public internet',
    });
  });
});
