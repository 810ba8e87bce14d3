/**
 * `npm run admin -- <command>`: the admin API from a terminal. Talks to the
 * running stack (NEURALLOG_URL, default http://127.0.0.1:8787) with the
 * platform-admin token (NEURALLOG_PLATFORM_ADMIN_TOKEN, or the one `npm start`
 * keeps in .neurallog/platform-admin-token), or with a tenant-admin credential
 * in NEURALLOG_ADMIN_CREDENTIAL. Prints the API's JSON; a new key appears once.
 */
import { parseArgs } from 'node:util';
import { callAdmin } from './admin-client.ts';

const USAGE = `usage: npm run admin -- <command>

  tenant create <id> --plan <starter|professional|enterprise> [--name <name>] [--retention-days <n>]
  tenant list
  tenant get <id>
  tenant set-plan <id> <plan>
  tenant set-shards <id> <n|plan>
  tenant suspend <id>
  tenant resume <id>
  tenant audit <id>
  key create <tenant> --scopes <scope,scope> [--name <name>] [--expires <RFC 3339>]
  key list <tenant>
  key revoke <tenant> <keyId>

scopes: logs:write, logs:read, analytics:read, admin, billing:read`;

const call = callAdmin;

async function main(argv: string[]): Promise<unknown> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      plan: { type: 'string' },
      name: { type: 'string' },
      'retention-days': { type: 'string' },
      scopes: { type: 'string' },
      expires: { type: 'string' },
    },
  });
  const [noun, verb, a, b] = positionals;
  const need = (v: string | undefined, what: string) => {
    if (!v) throw new Error(`missing ${what}\n\n${USAGE}`);
    return v;
  };
  switch (`${noun} ${verb}`) {
    case 'tenant create':
      return call('POST', '/tenants', {
        id: need(a, '<id>'),
        name: values.name ?? a,
        plan: need(values.plan, '--plan'),
        ...(values['retention-days'] ? { retentionDays: Number(values['retention-days']) } : {}),
      });
    case 'tenant list':
      return call('GET', '/tenants');
    case 'tenant get':
      return call('GET', `/tenants/${encodeURIComponent(need(a, '<id>'))}`);
    case 'tenant set-plan':
      return call('PATCH', `/tenants/${encodeURIComponent(need(a, '<id>'))}`, { plan: need(b, '<plan>') });
    case 'tenant set-shards':
      return call('PATCH', `/tenants/${encodeURIComponent(need(a, '<id>'))}`, { shardCount: need(b, '<n|plan>') === 'plan' ? null : Number(b) });
    case 'tenant suspend':
      return call('PATCH', `/tenants/${encodeURIComponent(need(a, '<id>'))}`, { status: 'suspended' });
    case 'tenant resume':
      return call('PATCH', `/tenants/${encodeURIComponent(need(a, '<id>'))}`, { status: 'active' });
    case 'tenant audit':
      return call('GET', `/tenants/${encodeURIComponent(need(a, '<id>'))}/audit`);
    case 'key create':
      return call('POST', `/tenants/${encodeURIComponent(need(a, '<tenant>'))}/keys`, {
        name: values.name ?? 'cli',
        scopes: need(values.scopes, '--scopes')
          .split(',')
          .map((s) => s.trim()),
        ...(values.expires ? { expiresAt: values.expires } : {}),
      });
    case 'key list':
      return call('GET', `/tenants/${encodeURIComponent(need(a, '<tenant>'))}/keys`);
    case 'key revoke':
      return call('DELETE', `/tenants/${encodeURIComponent(need(a, '<tenant>'))}/keys/${encodeURIComponent(need(b, '<keyId>'))}`);
    default:
      throw new Error(USAGE);
  }
}

if (['help', '--help', '-h', undefined].includes(process.argv[2])) {
  console.log(USAGE);
  process.exit(0);
}

main(process.argv.slice(2)).then(
  (result) => {
    console.log(JSON.stringify(result, null, 2));
    const key = (result as { key?: string }).key;
    if (key) console.error('\nThis is the only time the key is shown; store it now.');
  },
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
