// The page in a real browser, for the browser tests: Debian's chromium driven by playwright-core, the page
// built and served by web/, the run's export opened by URL.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from '../web/build.ts';
import { serve, type Served } from '../web/serve.ts';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// The launch flags measured to work on these machines (headless is playwright's default),
// less --disable-gpu, which a test adds to keep the page off WebGPU.
export const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

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
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS, ...flags] });
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
