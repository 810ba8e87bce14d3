/**
 * What the browser tests share: Debian's Chromium (NEURALLOG_CHROMIUM to point
 * elsewhere; the tests skip, saying why, when it is missing), where their
 * screenshots go, and the accessibility check (axe-core: no serious or
 * critical violation).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/stack.ts';

export const CHROMIUM = process.env.NEURALLOG_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
export const SCREENSHOTS = join(PROJECT_ROOT, 'test-output', 'screenshots');

/** Warns once per test file that its browser tests are skipped. */
export function warnIfNoChromium(what: string): void {
  if (!haveChromium) console.warn(`${what}: browser tests skipped — ${CHROMIUM} is missing (install Debian's chromium package; .ci/run does)`);
}

export async function expectAccessible(target: Page, name: string): Promise<void> {
  const result = await new AxeBuilder({ page: target }).analyze();
  const grave = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    grave.map(
      (v) =>
        `${v.id}: ${v.help} (${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 3)
          .join(' | ')})`,
    ),
    name,
  ).toEqual([]);
}
