/**
 * The pattern miner (shared/patterns): shapes, clustering, stable ids,
 * restore, the cap, and hostile input. Accuracy on real logs is measured in
 * test/node/patterns-accuracy.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupingAccuracy, parsingAccuracy, resolveAliases } from '../../shared/patterns/accuracy.ts';
import { PatternMiner, templateToId, VARIABLE_AFTER } from '../../shared/patterns/miner.ts';
import { fnv1a64 } from '../../shared/patterns/pattern-id.ts';
import { MAX_TOKENS, maskToken, tokenize, WILDCARD } from '../../shared/patterns/tokens.ts';

const masked = (message: string) => tokenize(message).join(' ');

describe('tokenize: variables by shape', () => {
  it.each([
    ['PacketResponder 1 for block blk_-6952295868487656571 terminating', 'PacketResponder <*> for block <*> terminating'],
    ['Receiving block src: /10.250.19.102:54106 dest: /10.250.19.102:50010', 'Receiving block src: <*> dest: <*>'],
    ['reverse mapping for ns.example.com [173.234.31.186] failed', 'reverse mapping for ns.example.com [<*>] failed'],
    ['connect to proxy.example.org:5070 ok', 'connect to <*> ok'],
    ['request 38101a0b-2096-447d-96ea-a692162415ae done', 'request <*> done'],
    ['flags=0x1f at 0x7fed806eb5d', 'flags=<*> at <*>'],
    ['loaded /etc/httpd/conf/workers2.properties and C:\\Windows\\x.dll', 'loaded <*> and <*>'],
    ['GET https://example.com/a?b=1 from alice@example.com', 'GET <*> from <*>'],
    [
      'authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=1.2.3.4',
      'authentication failure; logname= uid=<*> euid=<*> tty=<*> ruser= rhost=<*>',
    ],
    ['acquire lock=23, tag="View Lock", ws=WorkSource{10113}, pid=2227', 'acquire lock=<*>, tag="<*>", ws=<*>, pid=<*>'],
    ['updateClipping isOverlap:false, ret:true', 'updateClipping isOverlap:<*>, ret:<*>'],
    ['close, 1190 bytes (1.16 KB) sent, lifetime <1 sec', 'close, <*> sent, lifetime <*>'],
    ['stored (estimated size 1024.0 B, free 3.2 MB)', 'stored (estimated size <*>, free <*>)'],
    ['status=M Thu Aug 18 09:00:01 PDT 2005', 'status=<*> <*> PDT <*>'],
    ['took 2005-06-03-15.42.50.675872 then 12:01:01', 'took <*> then <*>'],
    ['interface eth0 speaks ssh2 and HTTP', 'interface eth0 speaks ssh2 and HTTP'],
    ['node node-246 core.12 R02-M1-N0 up', 'node <*> up'],
    ['AppleCamIn::wakeEventHandlerThread started', 'AppleCamIn::wakeEventHandlerThread started'],
    ['Step_LSC|30002312|onStandStepChanged 3579', 'Step_LSC <*> onStandStepChanged <*>'],
    ['printed null and None and NaN', 'printed <*> and <*> and <*>'],
  ])('%s', (message, expected) => {
    expect(masked(message)).toBe(expected);
  });

  // Punctuation around a core, quoted values, separators, units and dates: the tokenizer's shortcuts (words, wildcards
  // in brackets, separators noted on the way) must give what looking at each token on its own gives.
  it.each([
    ['flag (true) [null], {None} were set', 'flag (<*>) [<*>], {<*>} were set'],
    ['msg="disk full now" code=7', 'msg="<*>" code=<*>'],
    ['value x="a b" and y=\'c\'', 'value x="<*>" and y=\'<*>\''],
    ['see (http://example.com/a/b) and <https://x.org/y>,', 'see (<*>) and <*>>,'],
    ['mail from alice@example.com, to bob@mail.example.org.', 'mail from <*>, to <*>.'],
    ['logname= uid=0 euid= (uid=0)', 'logname= uid=<*> euid= (uid=<*>)'],
    ['Class::method called at 10.0.0.1:8080]', 'Class::method called at <*>]'],
    ['#5 @0x1f $HOME ~/.ssh/config ./run.sh C:\\Temp\\x.dll', '#<*> @<*> $HOME <*>'],
    ['says "hello world" and \'single quoted words\' then `tick`', 'says "<*>" and \'<*>\' then `tick`'],
    ['took 3 ms, 12.5 µs and 512 bytes (0.5 KB).', 'took <*>, <*> and <*>.'],
    ['Mon Jan 2 15:04:05 2006 start on Sept 3', '<*> start on <*>'],
    ['key:value, Key:Value, ab:12, x:y, url:http://a/b', 'key:<*>, Key:<*>, <*>, x:y, <*>'],
    ['[1.2.3.4]: (5) {6}, "7"; \'8\'! 9? 10.', '[<*>]: (<*>) {<*>}, "<*>"; \'<*>\'! <*>? <*>.'],
  ])('%s', (message, expected) => {
    expect(masked(message)).toBe(expected);
  });

  it('masks a token within a message as it masks the token alone', () => {
    const alphabet = [...'azAZ09_-./\\:=@#$~()[]{}<>"\'`,;!?*'].map((c) => fc.constant(c));
    const token = fc.oneof(
      fc.string({ unit: fc.oneof(...alphabet), minLength: 1, maxLength: 24 }),
      fc.constantFrom('true', '(null),', 'Jan', 'KB),', '<*>', '[<*>]:', 'uid=0', 'tag="x",', 'a::b', 'h:80', 'http://x/y', 'a@b.co', '0x1f'),
    );
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 4 }), (parts) => {
        const t = parts.join('');
        expect(tokenize(t)).toEqual([maskToken(t)]);
        // The same token among words, where the tokenizer looks at it in place.
        expect(tokenize(`say ${t} now`)[1]).toBe(maskToken(t));
      }),
    );
  });

  it('collapses runs of values into one, so a variable-length list keeps the shape', () => {
    expect(masked('stack @0x1 @0x2 @0x3 called')).toBe(masked('stack @0x9 called'));
    expect(masked('nodes 1 2 3 4 5 ok')).toBe('nodes <*> ok');
  });

  it('gives a template back its own tokens', () => {
    for (const m of ['uid=0 (uid=0) [1.2.3.4]: x', 'tag="a b", ws=null,', '1 KB (2 KB)']) {
      const t = masked(m);
      expect(masked(t)).toBe(t);
    }
  });

  it('looks at a bounded prefix of huge messages', () => {
    const huge = 'word '.repeat(60_000); // 300 KB
    const started = Date.now();
    const tokens = tokenize(huge);
    expect(Date.now() - started).toBeLessThan(200);
    expect(tokens.length).toBe(MAX_TOKENS + 1);
    expect(tokens[MAX_TOKENS]).toBe(WILDCARD);
    const oneToken = 'x'.repeat(300_000);
    expect(tokenize(oneToken)).toEqual([WILDCARD]);
  });
});

describe('templateToId', () => {
  it('is 64-bit FNV-1a of service NUL template, 16 hex digits', () => {
    const enc = new TextEncoder();
    expect(fnv1a64(enc.encode(''))).toBe('cbf29ce484222325');
    expect(fnv1a64(enc.encode('a'))).toBe('af63dc4c8601ec8c');
    expect(fnv1a64(enc.encode('foobar'))).toBe('85944171f73967e8');
    expect(templateToId('api', 'GET <*>')).toBe(fnv1a64(enc.encode('api\u0000GET <*>')));
    expect(templateToId('api', 'GET <*>')).toMatch(/^[0-9a-f]{16}$/);
    expect(templateToId('web', 'GET <*>')).not.toBe(templateToId('api', 'GET <*>'));
  });
});

describe('PatternMiner', () => {
  it('gives messages of one kind one id, a pure function of service and template', () => {
    const miner = new PatternMiner();
    const a = miner.assign('hdfs', 'PacketResponder 1 for block blk_38865049064139660 terminating');
    const b = miner.assign('hdfs', 'PacketResponder 2 for block blk_-6952295868487656571 terminating');
    expect(a).toEqual(b);
    expect(a).toEqual({
      patternId: templateToId('hdfs', 'PacketResponder <*> for block <*> terminating'),
      template: 'PacketResponder <*> for block <*> terminating',
    });
    expect(miner.assign('other', 'PacketResponder 3 for block blk_1 terminating').patternId).not.toBe(a.patternId);
    expect(miner.takeChanges()).toEqual([
      { service: 'hdfs', patternId: a.patternId, template: a.template, replaces: [] },
      { service: 'other', patternId: templateToId('other', a.template), template: a.template, replaces: [] },
    ]);
    expect(miner.takeChanges()).toEqual([]);
  });

  it('learns that a position varies after VARIABLE_AFTER values, and aliases the earlier ids', () => {
    const miner = new PatternMiner();
    const users = ['webmaster', 'admin', 'oracle', 'test', 'guest'];
    const ids = users.map((u) => miner.assign('ssh', `Invalid user ${u} from 173.234.31.186`).patternId);
    expect(new Set(ids.slice(0, VARIABLE_AFTER - 1)).size).toBe(VARIABLE_AFTER - 1);
    const general = templateToId('ssh', 'Invalid user <*> from <*>');
    expect(ids.slice(VARIABLE_AFTER - 1)).toEqual(users.slice(VARIABLE_AFTER - 1).map(() => general));
    const changes = miner.takeChanges();
    expect(changes).toEqual([{ service: 'ssh', patternId: general, template: 'Invalid user <*> from <*>', replaces: ids.slice(0, VARIABLE_AFTER - 1) }]);
    const aliases = resolveAliases(changes);
    expect(ids.map((id) => aliases.get(id) ?? id)).toEqual(users.map(() => general));
  });

  it('keeps a few alternatives apart: they are usually different statements', () => {
    const miner = new PatternMiner();
    const opened = miner.assign('cron', 'session opened for user root by (uid=0)');
    const closed = miner.assign('cron', 'session closed for user root by (uid=0)');
    expect(opened.patternId).not.toBe(closed.patternId);
    expect(miner.assign('cron', 'session opened for user root by (uid=5)')).toEqual(opened);
  });

  it('gives a new message the wildcards of its nearest neighbour', () => {
    const miner = new PatternMiner();
    for (const u of ['a', 'b', 'c', 'd']) miner.assign('cron', `session opened for user ${u}`);
    expect(miner.assign('cron', 'session closed for user zed').template).toBe('session closed for user <*>');
  });

  it('does not let a template of values alone swallow words', () => {
    const miner = new PatternMiner();
    expect(miner.assign('ui', '12345').template).toBe(WILDCARD);
    expect(miner.assign('ui', 'suspendAutohide').template).toBe('suspendAutohide');
    for (const w of ['cancelAutohide', 'closeQs', 'resumeAutohide', 'expand']) expect(miner.assign('ui', w).template).toBe(w);
  });

  it('is rebuilt from its templates: the same messages get the same ids', () => {
    const messages: string[] = [];
    for (let i = 0; i < 300; i++) {
      messages.push(`Invalid user u${String.fromCharCode(97 + (i % 26))}x from 10.0.${i % 7}.${i}`);
      messages.push(`session ${i % 2 ? 'opened' : 'closed'} for user ${['root', 'news', 'cyrus'][i % 3]}`);
      messages.push(`job ${i} finished in ${i * 3} ms with state ${['ok', 'failed', 'retry', 'lost', 'done'][i % 5]}`);
    }
    const miner = new PatternMiner();
    for (const m of messages) miner.assign('svc', m);
    const persisted = [...miner.templates()];
    const restored = PatternMiner.restore(persisted);
    expect(restored.size).toBe(miner.size);
    expect(restored.takeChanges()).toEqual([]);
    for (const m of messages) expect(restored.assign('svc', m)).toEqual(miner.assign('svc', m));
    // Restoring in another order changes nothing either.
    const reversed = PatternMiner.restore([...persisted].reverse());
    for (const m of messages) expect(reversed.assign('svc', m)).toEqual(miner.assign('svc', m));
  });

  it('matches without learning: a copy of the templates answers as the miner for every message it need not learn from', () => {
    const miner = new PatternMiner();
    const messages = Array.from({ length: 40 }, (_, i) => [`user u${i % 9} logged in from 10.0.0.${i}`, `job ${i} took ${i * 3} ms`]).flat();
    for (const m of messages) miner.assign('svc', m);
    const copy = PatternMiner.restore([...miner.templates()]);
    const before = copy.size;
    for (const m of messages) expect(copy.match('svc', m)).toEqual(miner.assign('svc', m));
    expect(copy.match('svc', 'a message of a shape never seen')).toBeNull();
    expect(copy.match('__proto__', 'job 1 took 3 ms')).toBeNull();
    expect(copy.size).toBe(before);
    expect(copy.takeChanges()).toEqual([]);
  });

  it('folds a replaced template given to restore into the one that replaced it', () => {
    const restored = PatternMiner.restore([
      { service: 's', template: 'Invalid user admin from <*>' },
      { service: 's', template: 'Invalid user <*> from <*>' },
    ]);
    expect(restored.size).toBe(1);
    expect(restored.assign('s', 'Invalid user admin from 1.2.3.4').template).toBe('Invalid user <*> from <*>');
    expect(restored.takeChanges()).toEqual([
      {
        service: 's',
        patternId: templateToId('s', 'Invalid user <*> from <*>'),
        template: 'Invalid user <*> from <*>',
        replaces: [templateToId('s', 'Invalid user admin from <*>')],
      },
    ]);
  });

  it('past maxTemplates learns nothing and answers with the shape-masked message', () => {
    const miner = new PatternMiner({ maxTemplates: 2 });
    miner.assign('s', 'alpha one');
    miner.assign('s', 'beta two');
    const fallback = miner.assign('s', 'gamma 42 three');
    expect(fallback).toEqual({ patternId: templateToId('s', 'gamma <*> three'), template: 'gamma <*> three', overflow: true });
    expect(miner.assign('s', 'gamma 7 three')).toEqual(fallback);
    expect(miner.size).toBe(2);
    expect(miner.takeChanges().map((c) => c.template)).toEqual(['alpha one', 'beta two']);
    expect(miner.assign('s', 'alpha one').template).toBe('alpha one');
    // With no room at all every message falls back.
    const none = new PatternMiner({ maxTemplates: 0 });
    expect(none.assign('s', 'x 1')).toEqual({ patternId: templateToId('s', 'x <*>'), template: 'x <*>', overflow: true });
  });

  it('stays within maxTemplates on a stream of unique messages', () => {
    const miner = new PatternMiner({ maxTemplates: 100 });
    for (let i = 0; i < 5000; i++) miner.assign(`svc${i % 3}`, `event ${i.toString(36)}x${'abcdefghij'[i % 10]} happened to ${'klmnopqrst'[i % 7]}thing`);
    expect(miner.size).toBeLessThanOrEqual(100);
  });

  it('takes hostile services and tokens as plain strings', () => {
    const miner = new PatternMiner();
    for (const service of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '', '\u0000']) {
      for (const message of ['__proto__', 'constructor toString valueOf', '__proto__ = 1', 'hasOwnProperty __defineGetter__ x']) {
        const a = miner.assign(service, message);
        expect(a.patternId).toMatch(/^[0-9a-f]{16}$/);
        expect(miner.assign(service, message)).toEqual(a);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    const services = new Set([...miner.templates()].map((t) => t.service));
    expect(services).toEqual(new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '', '\u0000']));
  });

  it('handles empty, blank, huge and unicode messages', () => {
    const miner = new PatternMiner();
    expect(miner.assign('s', '')).toEqual({ patternId: templateToId('s', ''), template: '' });
    expect(miner.assign('s', '  \t\n ')).toEqual({ patternId: templateToId('s', ''), template: '' });
    const huge = `start ${'lorem ipsum '.repeat(22_000)}`; // ≈ 256 KiB
    const a = miner.assign('s', huge);
    expect(a.template.split(' ').length).toBe(MAX_TOKENS + 1);
    expect(miner.assign('s', `${huge}different tail`).patternId).toBe(a.patternId);
    const u = miner.assign('s', 'ユーザー 山田 がログインしました 🚀 مرحبا');
    expect(u.template).toBe('ユーザー 山田 がログインしました 🚀 مرحبا');
    expect(miner.assign('s', 'lone \ud800 surrogate').patternId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('never throws, and is rebuilt exactly, on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', '__proto__'), fc.string({ unit: 'grapheme-ascii', maxLength: 40 })), { maxLength: 60 }),
        (records) => {
          const miner = new PatternMiner();
          for (const [service, message] of records) {
            const { patternId, template } = miner.assign(service, message);
            expect(patternId).toBe(templateToId(service, template));
          }
          const restored = PatternMiner.restore([...miner.templates()]);
          for (const [service, message] of records) expect(restored.assign(service, message)).toEqual(miner.assign(service, message));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('accuracy metrics', () => {
  it('computes grouping accuracy the way logparser does', () => {
    // truth groups {0,1}, {2}; ours {0,1,2}: nothing exactly right.
    expect(groupingAccuracy(['A', 'A', 'B'], ['x', 'x', 'x'])).toBe(0);
    // ours {0,1}, {2}: all right, whatever the names.
    expect(groupingAccuracy(['A', 'A', 'B'], ['p', 'p', 'q'])).toBe(1);
    // ours {0}, {1}, {2}: only message 2's group is exactly right.
    expect(groupingAccuracy(['A', 'A', 'B'], ['p', 'r', 'q'])).toBeCloseTo(1 / 3);
  });

  it('computes parsing accuracy on template text, whitespace runs collapsed', () => {
    expect(parsingAccuracy(['a <*>  b', 'c'], ['a <*> b', 'd'])).toBe(0.5);
  });
});
