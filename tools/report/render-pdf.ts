/**
 * HTML -> PDF through the system's Chromium (Debian `chromium`), driven by playwright-core: the
 * page is set from the report's self-contained HTML (no network), printed A4 with page numbers.
 * Chromium is found at `--chromium PATH`, `CARBONEDGE_CHROMIUM`, or /usr/bin/chromium.
 */
import { existsSync } from 'node:fs';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export class ChromiumMissingError extends Error {
  override name = 'ChromiumMissingError';
}

export function chromiumPath(flag?: string): string {
  const p = flag ?? process.env.CARBONEDGE_CHROMIUM ?? DEFAULT_CHROMIUM;
  if (!existsSync(p)) {
    throw new ChromiumMissingError(
      `PDF output needs Chromium: none at ${p} (install Debian's 'chromium' package, or give --chromium PATH or CARBONEDGE_CHROMIUM); --format html gives the same report without it`,
    );
  }
  return p;
}

export async function htmlToPdf(html: string, executablePath: string): Promise<Buffer> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    return await page.pdf({
      format: 'A4',
      printBackground: true,
      margin: { top: '16mm', bottom: '18mm', left: '14mm', right: '14mm' },
      displayHeaderFooter: true,
      headerTemplate: '<span></span>',
      footerTemplate: '<div style="font-size:9px;width:100%;text-align:center;color:#666"><span class="pageNumber"></span> / <span class="totalPages"></span></div>',
    });
  } finally {
    await browser.close();
  }
}
