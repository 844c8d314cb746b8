// The page in a real browser, for the browser tests: Debian's chromium driven by playwright-core, the page
// built and served by web/, the run's export opened by URL.
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { build } from '../web/build.ts';
import { CHROMIUM, launchChromium } from '../web/chromium.ts';
import { serve, type Served } from '../web/serve.ts';

export { CHROMIUM, CHROMIUM_FLAGS } from '../web/chromium.ts';

/** Skip the suite, saying why, where chromium is missing; .ci/run installs it and requires it (ONNX_GAN_REQUIRE_BROWSER). */
export function needChromium(suite: Mocha.Context): void {
  if (existsSync(CHROMIUM)) return;
  if (process.env.ONNX_GAN_REQUIRE_BROWSER) throw new Error(`no browser at ${CHROMIUM} (apt-get install chromium)`);
  console.log(`    (skipped: no browser at ${CHROMIUM}; apt-get install chromium)`);
  suite.skip();
}

export interface OpenPage {
  server: Served;
  browser: Browser;
  page: Page;
  /** Uncaught errors of the page so far. */
  pageErrors: string[];
  /** What the page exposes as globalThis.onnxGan. */
  state(): Promise<any>;
  close(): Promise<void>;
}

/** Build the page, serve `run`, open it in chromium with `flags` added, wait until it is ready. */
export async function openPage(run: string, flags: string[], viewport?: { width: number; height: number }): Promise<OpenPage> {
  await build();
  const server = await serve({ run });
  const browser: Browser = await launchChromium(flags);
  const page = await browser.newPage({ ...(viewport ? { viewport } : {}), acceptDownloads: true });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(server.pageUrl);
  await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
  return {
    server, browser, page, pageErrors,
    state: () => page.evaluate(() => (globalThis as unknown as { onnxGan: unknown }).onnxGan),
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}
