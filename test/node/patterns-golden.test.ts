/**
 * The pattern miner's exact output on Loghub's samples, pinned: pattern ids
 * are hashes of template text and the platform persists them, so any change
 * to tokenising or clustering that alters a single template changes ids that
 * tenants already have. Speed-ups (shared/patterns) must keep these digests.
 *
 * For each sample, one fresh miner is fed every message in file order and a
 * SHA-256 is taken over each (patternId, template) it assigns, then over the
 * changes it reports at the end. The digests below were computed from the
 * miner as it was before its hot path was optimised; a deliberate change to
 * the templates must update them (and is a change of ids for the platform).
 *
 * The samples live outside the repository (../shared/data/loghub, or
 * NEURALLOG_LOGHUB_DIR); without them this test is skipped, saying so.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABELLED, LOGHUB_DIR, loadLabelled, UNLABELLED } from '../../scripts/bench-patterns.ts';
import { PatternMiner } from '../../shared/patterns/miner.ts';

const present = existsSync(join(LOGHUB_DIR, 'HDFS_2k.log')) && existsSync(join(LOGHUB_DIR, 'groundtruth', 'HDFS_2k.original.csv'));
if (!present) console.warn(`patterns-golden: skipped — no Loghub samples at ${LOGHUB_DIR} (set NEURALLOG_LOGHUB_DIR)`);

/** The raw lines of a sample as the benchmarks read them (headers included, line ends other than `\n` kept). */
async function rawLines(name: string): Promise<string[]> {
  return (await readFile(join(LOGHUB_DIR, `${name}_2k.log`), 'utf8')).split('\n').filter((l) => l.trim() !== '');
}

/** SHA-256 (hex) over what one fresh miner assigns to `messages`, in order, and the changes it then reports. */
function digest(service: string, messages: readonly string[]): string {
  const miner = new PatternMiner();
  const hash = createHash('sha256');
  for (const m of messages) {
    const a = miner.assign(service, m);
    hash.update(`${a.patternId}\t${a.template}\t${a.overflow === true}\n`);
  }
  for (const c of miner.takeChanges()) hash.update(`${c.patternId}\t${c.template}\t${c.replaces.join(',')}\n`);
  return hash.digest('hex');
}

/** Raw lines: [whole, cut to 240 characters]. */
// biome-ignore format: one row per sample
const RAW: Record<string, [string, string]> = {
  Android: ['eb4fb32c06ffe62711d117430cb7a1744d9c0a53b7c049cf865bc44ae5c6811b', '7d85b26f29270a49ac1f81d78e43ef45869db5f539d0608c1e6987ecf0b33649'],
  Apache: ['781a625c760a3ef7fe770433aa2da88e41efe3b34d754f6ba61abf7bca95b307', '781a625c760a3ef7fe770433aa2da88e41efe3b34d754f6ba61abf7bca95b307'],
  BGL: ['2c043e3353ed6b9149faa9c8a98702d993a72cb0e1a157a6a36efff3e02bc44d', 'd324a082da843b0cad9b253d012d68f39ea7ace41f054d2ab82db21dd49724a8'],
  HDFS: ['538e6a8d0d79fa96a5bdc06ac0de5bc7638601bcc2efb2b6be1fc22484346409', '538e6a8d0d79fa96a5bdc06ac0de5bc7638601bcc2efb2b6be1fc22484346409'],
  HPC: ['b5163c679976dbed600eff4f14da8c12b318ef4a076de003f258414aca99de22', '77aaf489cbfd320852c32fec5e3be1ec1ff21b5a0ce1ce9bc91068f611118203'],
  Hadoop: ['02eb98d0e1467a15599e399bef98c08987d751d8b6a21f69e4679adbd834df72', 'afb78125d1c896c2505c665caf977395a9f6a6733649310c7f8c46d15730dc61'],
  HealthApp: ['3af028ae138e7bc397d29fca73a3948238f7bc70b38be964b014536d42d77d9d', '3af028ae138e7bc397d29fca73a3948238f7bc70b38be964b014536d42d77d9d'],
  Linux: ['523f3802641eed75b08e69cf5f466c7b5e3caa217fc8d807694c25add732665b', '523f3802641eed75b08e69cf5f466c7b5e3caa217fc8d807694c25add732665b'],
  Mac: ['a2f2f2cbce436366ea51dca017b3be4e8c0412a84e82d40676bd15fdf4efbd44', 'fec1113567789dc3fd2b78d00fe9ba7c5a1bb7cf2bb24693a0b828a4545292f1'],
  OpenSSH: ['96348fd0735558404d9a7b0452eb9c7db818aa5285afa4f86a233fb5b2676f1e', '96348fd0735558404d9a7b0452eb9c7db818aa5285afa4f86a233fb5b2676f1e'],
  OpenStack: ['5976ce13740f4dacf545bcd412116dda7281eb3c69934883ba3410c0659eda30', '6aa2a8a2311775fbc244316b93e31622dd738018030947cb82cb169bd023a92c'],
  Proxifier: ['44b40adaa81c2f3910c1938d068474544df285d05139ee9a0afe48dcd56ca9fb', '44b40adaa81c2f3910c1938d068474544df285d05139ee9a0afe48dcd56ca9fb'],
  Spark: ['9edc6653b3c415c0a544171416c6e0a487f33af8e3b0594852f8a4f2dbb329e0', '9edc6653b3c415c0a544171416c6e0a487f33af8e3b0594852f8a4f2dbb329e0'],
  Thunderbird: ['431051cc56dfef3657d99dc1369f04f5ddb5489e7aaa4c6db649f7d5ef3fd706', '7d249af9c574968a3b69fa1e555c974e216ed6b55047d55c695da103897cad20'],
  Windows: ['8509bd9d8796a8d5e36ac105724934153e7928b78a42c621d7ede9ad51b7f5dc', 'cc234053c9df01a86fb22fb8ea54f3a1b1c190e8bb095bb46693557c8fba500f'],
  Zookeeper: ['b8df33b4a6558c60d43691667e710127fe51ce6e6b4ae3b757c7c86378b5b3b0', '04f7786d44d8dcf51efb6cc67eaee1d045b3dba0ae44454991efdb4ba582aa5a'],
};

/** The `Content` column of groundtruth/<name>_2k.original.csv. */
// biome-ignore format: one row per sample
const CONTENT: Record<string, string> = {
  Android: 'bc4c1610a5f4487ff7c047314c18793a5b2e9e2106c7ee13123757c2fd8f2c7b',
  Apache: '91c15cd8c02e28747278a7b51c4d36a34511e868b4dd58b5cdc4b2ac3e4901f8',
  BGL: '6009b5aa1ca78ee6b5be815291255760b46bf79680cf65566e37089a1e9600db',
  HDFS: '4db65d7515cf26b69d734173a5452ff18c27edcdfc84d8a110ad85eeb34e8911',
  HPC: 'd3e7ba130b69eb4c09bda5301e40168d098fb1c59929a6a26799f8773ee22f79',
  Hadoop: 'd17424f0ee07a05397f2a4c7dca65f3ceaa07fb84cf59daf1440b0c24f06a593',
  Mac: 'ad2caa2cec9f91baadc01baa0b70a1c0a24d4fb90288eeb1238494104fc8f5ba',
  OpenSSH: '1885b74ba94f376f16c982ae25a5a46f72e2e4bd2e4ef981dfb18075e1476ce0',
  Proxifier: 'a28682403a05cb6123049fa63f9454fd25ab5e108726584ca17ca9e0689a01ba',
  Spark: '78a2dc69fceb51777eeaab6019951d5d6adf8ae2f6ef2c8c8243cf7e6b8cc1bd',
  Windows: '0fe2f110e9aa01992f490dd283295d934bd2a7713e1e0fa8637fb84fc12fd9d3',
  Zookeeper: 'aacf25bcd098e41d8a6d11124a77bfd7eada5ac52d4aad760a579aab053cbfbd',
};

const RAW_SAMPLES = [...LABELLED.map((d) => d.name), ...UNLABELLED].sort();

describe.skipIf(!present)('pattern miner output on Loghub-2k is unchanged (golden digests)', () => {
  it.each(RAW_SAMPLES)('%s raw lines, whole and cut to 240 characters', async (name) => {
    const lines = await rawLines(name);
    expect([
      digest(name, lines),
      digest(
        name,
        lines.map((l) => l.slice(0, 240)),
      ),
    ]).toEqual(RAW[name]);
  });

  it.each(LABELLED.map((d) => d.name))('%s ground-truth Content', async (name) => {
    const { contents } = await loadLabelled(name, 'original');
    expect(digest(name, contents)).toBe(CONTENT[name]);
  });
});
