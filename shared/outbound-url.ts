/**
 * Which URLs the platform may send a request to on a tenant's behalf (alert
 * targets: webhooks, Slack, PagerDuty, Alertmanager). A tenant chooses the
 * URL, and the request leaves from inside our deployment, so a URL is a way to
 * make us reach places the tenant cannot: the cloud metadata service
 * (169.254.169.254), our own loopback, private networks (SSRF). This check
 * runs when a target is saved (the answer is a 400 with `reason`) and again
 * before every send (a stored URL may predate a rule).
 *
 * - Production: `https:` only, to a host on the public internet.
 * - Local mode (`npm start`, the tests): `http:` or `https:`, and loopback
 *   (127.0.0.0/8, ::1, `localhost`, `*.localhost`) is allowed too, because
 *   the receivers the tests start listen there. Every other special range is
 *   still refused, the metadata address included: nothing local needs them,
 *   and a developer's machine sits in a network worth protecting too.
 * - Neither: credentials in the URL (`user:pass@` ends up in logs; a target
 *   keeps its secret encrypted), control characters or whitespace (the URL
 *   parser silently drops some, so the stored text would not be what is
 *   fetched), fragments (never sent; one in a target URL is a mistake), more
 *   than MAX_OUTBOUND_URL_LENGTH characters.
 *
 * The host is judged after `new URL` has normalised it, as `fetch` will see
 * it: the WHATWG parser turns `2130706433`, `0x7f.1`, `017700000001`,
 * `127.1`, `%31%32%37.0.0.1` and full-width digits into `127.0.0.1`,
 * lower-cases names, converts IDN to punycode, and prints IPv6 in its
 * canonical form. So an IPv4 host here is always a dotted quad; a name whose
 * last label is still numeric would mean a parser that does not follow the
 * standard, and is refused rather than guessed at.
 *
 * What this cannot catch: a public DNS name that resolves to a private
 * address (a record of the tenant's own, `127.0.0.1.nip.io`, or DNS
 * rebinding, where the answer changes between this check and the fetch).
 * Workers have no DNS API and `fetch` resolves names itself, so the address
 * cannot be resolved, checked and pinned here. What bounds it: in production
 * a Worker's `fetch` leaves from Cloudflare's network to the public internet;
 * our private services are reached only through explicit bindings, never by
 * an address a fetch can name. And redirects are a second way to the same
 * place (a public URL answering `302 Location: http://169.254.169.254/`): the
 * notifier must fetch with `redirect: 'manual'` and treat a 3xx as a refusal
 * (classifyResponse in shared/alerts/delivery-schedule.ts), never follow it.
 * Ports are not restricted: receivers listen where they like, and the host
 * check is what keeps requests out of private networks.
 */

/** Longest URL accepted, before and after normalisation (IDN to punycode and percent-encoding can lengthen it). */
export const MAX_OUTBOUND_URL_LENGTH = 2_048;

export type OutboundUrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Checks a URL a tenant gave as a notification target; `url` of an `ok`
 * answer is the normalised form to store and fetch (`url.href`).
 */
export function checkOutboundUrl(text: string, mode: { production: boolean }): OutboundUrlVerdict {
  if (text.length > MAX_OUTBOUND_URL_LENGTH) return refuse(`is longer than ${MAX_OUTBOUND_URL_LENGTH} characters`);
  if (hasControlOrSpace(text)) return refuse('contains whitespace or control characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse('is not an absolute URL');
  }
  if (mode.production ? url.protocol !== 'https:' : url.protocol !== 'https:' && url.protocol !== 'http:') {
    return refuse(mode.production ? 'must be an https:// URL' : 'must be an http:// or https:// URL');
  }
  if (url.username !== '' || url.password !== '') return refuse('must not carry credentials (user:password@); keep secrets in the target settings');
  if (url.hash !== '') return refuse('must not have a fragment (#…)');
  if (url.href.length > MAX_OUTBOUND_URL_LENGTH) return refuse(`is longer than ${MAX_OUTBOUND_URL_LENGTH} characters once normalised`);

  const host = classifyHost(url.hostname);
  if (host.kind === 'public' || (host.kind === 'loopback' && !mode.production)) return { ok: true, url };
  if (host.kind === 'loopback') return refuse(`points at ${url.hostname}, a loopback address; targets must be on the public internet`);
  return refuse(`points at ${url.hostname}, ${host.what}; targets must be on the public internet`);
}

function refuse(why: string): OutboundUrlVerdict {
  return { ok: false, reason: `the target URL ${why}` };
}

function hasControlOrSpace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // C0 controls and space, DEL, C1 controls, and the Unicode spaces the parser or a copy-paste may carry.
    if (code <= 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0xa0 || code === 0x2028 || code === 0x2029 || code === 0xfeff) return true;
  }
  return false;
}

type HostClass = { kind: 'public' } | { kind: 'loopback' } | { kind: 'special'; what: string };

const PUBLIC: HostClass = { kind: 'public' };
const LOOPBACK: HostClass = { kind: 'loopback' };
const special = (what: string): HostClass => ({ kind: 'special', what });

/** Classifies a hostname as `URL.hostname` gives it (IPv6 in brackets, IPv4 dotted, names lower-case ASCII). */
function classifyHost(hostname: string): HostClass {
  if (hostname.startsWith('[')) {
    const groups = hostname.endsWith(']') ? parseIpv6(hostname.slice(1, -1)) : null;
    return groups ? classifyIpv6(groups) : special('not a valid IPv6 address');
  }
  const v4 = parseDottedQuad(hostname);
  if (v4 !== null) return classifyIpv4(v4);
  return classifyName(hostname);
}

// ---------------------------------------------------------------- names

/**
 * Suffixes that never name a public host: RFC 6761/6762 (`localhost`,
 * `local` for mDNS), RFC 8375 (`home.arpa`), ICANN's private-use `internal`
 * (2024), and names widely used inside networks and never delegated
 * (`localdomain`, `lan`, `intranet`, `corp`, `private`).
 */
const INTERNAL_SUFFIXES = ['local', 'internal', 'home.arpa', 'localdomain', 'lan', 'intranet', 'corp', 'private'];

function classifyName(hostname: string): HostClass {
  // One trailing dot is the fully-qualified form of the same name.
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  if (name === '' || name.startsWith('.') || name.includes('..')) return special('not a valid host name');
  const labels = name.split('.');
  const last = labels[labels.length - 1]!;
  // Under the WHATWG parser a numeric last label makes the host an IPv4 address (or an error), so it was printed as a dotted quad above.
  if (/^(?:\d+|0x[0-9a-f]*)$/i.test(last)) return special('a numeric host the URL parser did not normalise');
  if (name === 'localhost' || name.endsWith('.localhost')) return LOOPBACK;
  if (labels.length === 1) return special('a single-label name (resolved through search domains, inside a network)');
  for (const suffix of INTERNAL_SUFFIXES) {
    if (name === suffix || name.endsWith(`.${suffix}`)) return special(`a name under .${suffix}, which is private to a network`);
  }
  return PUBLIC;
}

// ---------------------------------------------------------------- IPv4

function parseDottedQuad(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/** [first address, prefix length, what it is]; the first match wins, so narrower entries come first. Loopback is classified apart. */
const IPV4_SPECIAL: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, '"this network" (0.0.0.0/8, which reaches the local host)'],
  ['10.0.0.0', 8, 'a private address (10.0.0.0/8)'],
  ['100.64.0.0', 10, 'a carrier-grade NAT address (100.64.0.0/10)'],
  ['169.254.0.0', 16, 'a link-local address (169.254.0.0/16, where cloud metadata services answer)'],
  ['172.16.0.0', 12, 'a private address (172.16.0.0/12)'],
  ['192.0.0.0', 24, 'an IETF protocol address (192.0.0.0/24)'],
  ['192.0.2.0', 24, 'a documentation address (192.0.2.0/24)'],
  ['192.168.0.0', 16, 'a private address (192.168.0.0/16)'],
  ['198.18.0.0', 15, 'a benchmarking address (198.18.0.0/15)'],
  ['198.51.100.0', 24, 'a documentation address (198.51.100.0/24)'],
  ['203.0.113.0', 24, 'a documentation address (203.0.113.0/24)'],
  ['224.0.0.0', 4, 'a multicast address (224.0.0.0/4)'],
  ['255.255.255.255', 32, 'the broadcast address'],
  ['240.0.0.0', 4, 'a reserved address (240.0.0.0/4)'],
];

const IPV4_SPECIAL_RANGES = IPV4_SPECIAL.map(([first, prefix, what]) => ({ first: parseDottedQuad(first)!, size: 2 ** (32 - prefix), what }));
function classifyIpv4(address: number): HostClass {
  if (address >= 0x7f000000 && address < 0x80000000) return LOOPBACK; // 127.0.0.0/8
  for (const range of IPV4_SPECIAL_RANGES) {
    if (address >= range.first && address < range.first + range.size) return special(range.what);
  }
  return PUBLIC;
}

// ---------------------------------------------------------------- IPv6

/** Eight 16-bit groups, or null; accepts `::` compression and a trailing dotted IPv4, no zone index. */
function parseIpv6(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const part = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const groups: number[] = [];
  const read = (pieces: string[], last: boolean): boolean => {
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (last && i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseDottedQuad(piece);
        if (v4 === null) return false;
        groups.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        groups.push(Number.parseInt(piece, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  const compressed = halves.length === 2;
  if (!read(head, !compressed)) return null;
  const headCount = groups.length;
  if (!read(tail, true)) return null;
  if (compressed) {
    if (groups.length > 7) return null;
    groups.splice(headCount, 0, ...new Array<number>(8 - groups.length).fill(0));
  }
  return groups.length === 8 ? groups : null;
}

function classifyIpv6(g: number[]): HostClass {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const embeddedV4 = g6 * 0x10000 + g7;
  const firstFiveZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstFiveZero && g5 === 0 && g6 === 0 && g7 === 0) return special('the unspecified address (::)');
  if (firstFiveZero && g5 === 0 && g6 === 0 && g7 === 1) return LOOPBACK;
  // ::ffff:a.b.c.d is the IPv4 host itself to a dual-stack socket: judge the IPv4 address.
  if (firstFiveZero && g5 === 0xffff) return classifyIpv4(embeddedV4);
  // 64:ff9b::/96 (NAT64) reaches the embedded IPv4 address through a translator, the loopback of which is not ours.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return embeddedPublic(classifyIpv4(embeddedV4), 'NAT64');
  // 2002::/16 (6to4) carries an IPv4 address in groups 1–2.
  if (g0 === 0x2002) return embeddedPublic(classifyIpv4(g1 * 0x10000 + g2), '6to4');
  if ((g0 & 0xe000) !== 0x2000) {
    // Outside global unicast (2000::/3) nothing is a public host; name the common ranges in the answer.
    if ((g0 & 0xfe00) === 0xfc00) return special('a unique local address (fc00::/7)');
    if ((g0 & 0xffc0) === 0xfe80) return special('a link-local address (fe80::/10)');
    if ((g0 & 0xffc0) === 0xfec0) return special('a site-local address (fec0::/10)');
    if ((g0 & 0xff00) === 0xff00) return special('a multicast address (ff00::/8)');
    if (firstFiveZero && g5 === 0) return special('an IPv4-compatible address (::/96, deprecated)');
    if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return special('a local-use NAT64 address (64:ff9b:1::/48)');
    return special('outside IPv6 global unicast (2000::/3)');
  }
  if (g0 === 0x2001 && g1 === 0x0db8) return special('a documentation address (2001:db8::/32)');
  if (g0 === 0x2001 && g1 < 0x0200) return special('an IETF protocol address (2001::/23, Teredo included)');
  if (g0 === 0x3fff && g1 < 0x1000) return special('a documentation address (3fff::/20)');
  return PUBLIC;
}

function embeddedPublic(inner: HostClass, how: string): HostClass {
  if (inner.kind === 'public') return PUBLIC;
  return special(`${how} of ${inner.kind === 'loopback' ? 'a loopback address' : inner.what}`);
}
