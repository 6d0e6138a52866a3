// End-to-end checks of Harmonie's web pages and <harmonie-autocomplete> in
// headless Chromium (Debian's), driven by playwright-core. Run by
// tests/browser.rs, which starts the server and passes, in the environment:
//   HARMONIE_URL   the server (http://127.0.0.1:port)
//   VENDOR_PORT    a port for a vendor page allowed by --cors-origin
//   FOREIGN_PORT   a port for a page of an origin that is not allowed
//   CHROMIUM       the browser executable
//   OUT_DIR        where screenshots, the recoded file and timings go
//   RECODE_INPUT   a CSV file to recode through the page
//   PLAYWRIGHT     the playwright-core package folder
// Prints one line per check and exits non-zero when any check fails.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT ?? 'playwright-core');

const base = process.env.HARMONIE_URL;
const out = process.env.OUT_DIR;
mkdirSync(out, { recursive: true });

// ---- the vendor pages: another origin embedding the component ----
const vendorHtml = readFileSync(new URL('./vendor.html', import.meta.url), 'utf8');
function vendorServer(port) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    const received = url.pathname === '/enregistrer' ? `Reçu : ${url.searchParams.toString()}` : '';
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(vendorHtml.replaceAll('{{HARMONIE}}', base).replace('{{RECEIVED}}', received.replace(/</g, '&lt;')));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
const vendors = [await vendorServer(Number(process.env.VENDOR_PORT)), await vendorServer(Number(process.env.FOREIGN_PORT))];
const vendorUrl = `http://127.0.0.1:${process.env.VENDOR_PORT}/`;
const foreignUrl = `http://127.0.0.1:${process.env.FOREIGN_PORT}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});

let failures = 0;
async function check(name, viewport, fn) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await fn(page);
    if (errors.length) throw new Error(`JavaScript errors: ${errors.join('; ')}`);
    console.log(`ok   ${name}`);
  } catch (e) {
    failures += 1;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    await page.screenshot({ path: join(out, `failure-${name.replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => {});
  } finally {
    await context.close();
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const desktop = { width: 1280, height: 900 };
const phone = { width: 360, height: 740 };

/** Presses ArrowDown until the active option is `code`; returns its position. */
async function arrowTo(page, input, code) {
  const n = await page.locator('[role="option"]').count();
  for (let i = 0; i < n; i += 1) {
    await input.press('ArrowDown');
    const active = await input.getAttribute('aria-activedescendant');
    const activeCode = await page.locator(`[id="${active}"]`).getAttribute('data-code');
    if (activeCode === code) return i;
  }
  throw new Error(`${code} never became the active option`);
}

// ---- WCAG contrast of every text on the page ----
async function contrastFailures(page) {
  return page.evaluate(() => {
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(',').map((x) => parseFloat(x));
      return { r, g, b, a };
    };
    const lum = ({ r, g, b }) => {
      const f = (v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const bg = parse(getComputedStyle(e).backgroundColor);
        if (bg && bg.a > 0.5) return bg;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const bad = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.textContent.trim() || !el) continue;
      const rect = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (rect.width === 0 || rect.height === 0 || style.visibility === 'hidden' || el.closest('[hidden]')) continue;
      if (el.closest('.hac-sr, .skip')) continue; // not shown (screen readers, skip link until focused)
      const fg = parse(style.color);
      const bg = background(el);
      const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${ratio.toFixed(2)} "${node.textContent.trim().slice(0, 40)}"`);
    }
    return bad;
  });
}

/** Every visible control has a name: a <label>, aria-label or aria-labelledby. */
async function unlabelled(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('input:not([type="hidden"]), select, textarea, button')]
      .filter((el) => el.getClientRects().length)
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 80)),
  );
}

async function noHorizontalScroll(page) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= 360, `${page.url()} is ${width}px wide at 360px`);
}

// ---- the checks ----
await check('search page: "lomb" in CIM-10 suggests M54.5, highlighted, with its path', desktop, async (page) => {
  await page.goto(`${base}/`);
  assert((await page.getAttribute('html', 'lang')) === 'fr', 'the page is not declared French');
  await page.selectOption('#f-system', 'cim-10');
  const levels = await page.locator('#f-level option').allTextContents();
  assert(levels.includes('sous-catégorie') && !levels.includes('sous-classe'), `levels after choosing CIM-10: ${levels}`);
  const input = page.getByRole('combobox', { name: 'Code ou libellé' });
  await input.pressSequentially('lomb', { delay: 60 });
  const option = page.locator('[role="option"][data-code="M54.5"]');
  await option.waitFor({ state: 'visible', timeout: 5000 });
  assert((await option.locator('mark').first().textContent()) === 'Lombalgie', 'the matched word is not highlighted');
  const meta = await option.locator('.hac-meta').textContent();
  assert(meta.includes('M54 Dorsalgies') && meta.includes('cim-10'), `path/system shown: ${meta}`);
  assert((await input.getAttribute('aria-expanded')) === 'true', 'aria-expanded is not true with the list open');
  await page.screenshot({ path: join(out, 'search.png'), fullPage: true });
  assert((await contrastFailures(page)).length === 0, `contrast: ${await contrastFailures(page)}`);
  await arrowTo(page, input, 'M54.5');
  await Promise.all([page.waitForURL('**/systemes/cim-10/M54.5'), input.press('Enter')]);
  assert((await page.locator('h1').textContent()).includes('Lombalgie basse'), 'Enter did not open the concept page');
});

await check('search page: the level filter keeps only that level; results work without the list', desktop, async (page) => {
  await page.goto(`${base}/?q=boulangerie&system=naf-2008&level=classe`);
  const codes = await page.locator('ol.results .code').allTextContents();
  assert(codes.length > 0 && codes.every((c) => /^\d\d\.\d\d$/.test(c)), `classe codes only: ${codes}`);
  await page.goto(`${base}/?q=lomb&system=cim10`);
  const first = page.locator('ol.results li').first();
  assert((await first.locator('.code').textContent()) === 'M54.5', 'M54.5 is not the first result');
  assert((await first.locator('mark').textContent()) === 'Lombalgie', 'no highlight in server results');
});

await check('search page: changing the system filter asks again within that system', desktop, async (page) => {
  await page.goto(`${base}/`);
  const input = page.getByRole('combobox', { name: 'Code ou libellé' });
  await input.pressSequentially('boulang', { delay: 40 });
  await page.locator('[role="option"][data-code="10.71C"]').waitFor({ state: 'visible' });
  await page.selectOption('#f-system', 'pcs-2003');
  await page.waitForTimeout(300); // the new answer arrives while the select has focus
  await input.focus();
  await input.press('ArrowDown');
  await page.locator('[role="option"]').first().waitFor({ state: 'visible' });
  const metas = await page.locator('[role="option"] .hac-meta').allTextContents();
  assert(metas.length && metas.every((m) => m.startsWith('pcs-2003')), `after choosing PCS: ${metas}`);
});

await check('search page: focus order, labels', desktop, async (page) => {
  await page.goto(`${base}/`);
  const order = [];
  for (let i = 0; i < 12; i += 1) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => {
      const el = document.activeElement;
      return el.id || el.getAttribute('href') || el.textContent.trim();
    }));
  }
  const want = ['/', 'q', 'f-system', 'f-level', 'Rechercher'];
  const at = want.map((w) => order.indexOf(w));
  assert(order[0] === '#contenu', `the skip link is not first: ${order}`);
  assert(at.every((x, i) => x >= 0 && (i === 0 || x > at[i - 1])), `focus order ${order}`);
  assert((await unlabelled(page)).length === 0, `unlabelled: ${await unlabelled(page)}`);
});

await check('component on another origin: arrows and Enter fill the hidden input; the form sends the code', desktop, async (page) => {
  await page.goto(vendorUrl);
  const input = page.getByRole('combobox', { name: 'Diagnostic (CIM-10)' });
  await input.pressSequentially('lomb', { delay: 60 });
  await page.locator('[role="option"][data-code="M54.5"]').waitFor({ state: 'visible', timeout: 5000 });
  await arrowTo(page, input, 'M54.5');
  await input.press('Enter');
  const hidden = page.locator('input[type="hidden"][name="diagnostic"]');
  assert((await hidden.inputValue()) === 'M54.5', `hidden input: ${await hidden.inputValue()}`);
  assert((await input.inputValue()) === 'M54.5 — Lombalgie basse', `shown: ${await input.inputValue()}`);
  assert((await input.getAttribute('aria-expanded')) === 'false', 'the list stays open after choosing');
  await Promise.all([page.waitForURL('**/enregistrer?**'), page.getByRole('button', { name: 'Enregistrer' }).click()]);
  assert(new URL(page.url()).searchParams.get('diagnostic') === 'M54.5', `submitted ${page.url()}`);
});

await check('component: Escape closes, typing clears the code, a field with text but no code blocks the form', desktop, async (page) => {
  await page.goto(vendorUrl);
  const input = page.getByRole('combobox', { name: 'Diagnostic (CIM-10)' });
  await input.pressSequentially('lom', { delay: 40 });
  await page.locator('[role="option"]').first().waitFor({ state: 'visible' });
  // Escape right after a keystroke: the search it scheduled must not open
  // the list again once it would have answered.
  await input.press('b');
  await input.press('Escape');
  assert((await input.getAttribute('aria-expanded')) === 'false', 'Escape did not close the list');
  await page.waitForTimeout(500);
  assert(await page.locator('[role="listbox"]').isHidden(), 'the listbox is shown again after Escape');
  await input.press('ArrowDown');
  await input.press('Enter');
  const hidden = page.locator('input[type="hidden"][name="diagnostic"]');
  assert((await hidden.inputValue()) !== '', 'ArrowDown then Enter did not choose');
  await input.press('End');
  await input.press('x');
  assert((await hidden.inputValue()) === '', 'editing the text kept the old code');
  const valid = await input.evaluate((el) => el.checkValidity());
  assert(!valid, 'text without a chosen code passes validation');
  await input.press('Escape'); // closes the list, if any
  await input.press('Escape'); // clears the field
  assert((await input.inputValue()) === '', 'a second Escape did not clear the field');
});

await check('component: a stale answer never replaces a newer one (the older request is aborted)', desktop, async (page) => {
  const aborted = [];
  page.on('requestfailed', (r) => aborted.push(new URL(r.url()).searchParams.get('q')));
  // The answer to "lom" is held back until after "lomb" has been answered.
  await page.route('**/v1/search?**', async (route) => {
    const q = new URL(route.request().url()).searchParams.get('q');
    if (q === 'lom') await new Promise((r) => setTimeout(r, 800));
    await route.continue().catch(() => {});
  });
  await page.goto(vendorUrl);
  const input = page.getByRole('combobox', { name: 'Diagnostic (CIM-10)' });
  await input.pressSequentially('lom', { delay: 10 });
  await page.waitForTimeout(150); // past the debounce: "lom" is asked
  await input.press('b');
  await page.locator('[role="option"][data-code="M54.5"]').waitFor({ state: 'visible' });
  await page.waitForTimeout(1200); // the held answer would have arrived by now
  const first = await page.locator('[role="option"]').first().getAttribute('data-code');
  assert(first === 'M54.5', `the list shows ${first}, not the answer to "lomb"`);
  assert(aborted.includes('lom'), `the "lom" request was not aborted (${aborted})`);
});

await check('component: an origin not allowed by --cors-origin gets a clear message', desktop, async (page) => {
  await page.goto(foreignUrl);
  const input = page.getByRole('combobox', { name: 'Diagnostic (CIM-10)' });
  await input.pressSequentially('lomb', { delay: 40 });
  const message = page.locator('.hac-message');
  await message.filter({ hasText: 'injoignable' }).waitFor({ timeout: 5000 });
  assert((await page.locator('[role="option"]').count()) === 0, 'suggestions shown despite CORS');
});

await check('concept page of 10.71C: section C and division 10 in the breadcrumb', desktop, async (page) => {
  await page.goto(`${base}/systemes/naf/1071c`);
  assert(page.url().endsWith('/systemes/naf-2008/10.71C'), `not redirected to the canonical address: ${page.url()}`);
  const crumbs = page.getByRole('navigation', { name: "Fil d'Ariane" });
  const section = crumbs.locator('a[href="/systemes/naf-2008/C"]');
  const division = crumbs.locator('a[href="/systemes/naf-2008/10"]');
  assert((await section.textContent()).includes('section C'), `section link: ${await section.textContent()}`);
  assert((await division.textContent()).includes('division 10'), `division link: ${await division.textContent()}`);
  const h1 = await page.locator('h1').textContent();
  assert(h1.includes('10.71C') && h1.includes('Boulangerie'), `h1: ${h1}`);
  const body = await page.locator('main').textContent();
  for (const want of ['sous-classe', 'actif', 'Licence Ouverte', 'INSEE', 'Correspondances', 'Synonymes']) {
    assert(body.includes(want), `"${want}" missing from the concept page`);
  }
  await page.screenshot({ path: join(out, 'concept.png'), fullPage: true });
  assert((await contrastFailures(page)).length === 0, `contrast: ${await contrastFailures(page)}`);
  await Promise.all([page.waitForURL('**/systemes/naf-2008/10'), division.click()]);
  assert((await page.locator('ul.children a[href="/systemes/naf-2008/10.1"]').count()) === 1, 'division 10 lists no children');
});

await check('system page: the hierarchy can be browsed', desktop, async (page) => {
  await page.goto(`${base}/systemes/cim10`);
  assert(page.url().endsWith('/systemes/cim-10'), `alias not redirected: ${page.url()}`);
  const chapter = page.locator('ul.tree details').filter({ hasText: 'XIII' });
  await chapter.locator('summary').focus();
  await page.keyboard.press('Enter'); // opens the chapter
  await Promise.all([page.waitForURL('**/systemes/cim-10/M50-M54'), chapter.locator('a[href="/systemes/cim-10/M50-M54"]').click()]);
  assert((await page.locator('ul.children').textContent()).includes('M54'), 'block M50-M54 does not list M54');
  assert((await contrastFailures(page)).length === 0, `contrast: ${await contrastFailures(page)}`);
});

await check('recode page: the downloaded file has every row', desktop, async (page) => {
  await page.goto(`${base}/recodage`);
  assert((await unlabelled(page)).length === 0, `unlabelled: ${await unlabelled(page)}`);
  await page.setInputFiles('#r-file', process.env.RECODE_INPUT);
  await page.selectOption('#r-system', 'naf-2008');
  await page.getByLabel('Colonne du code (facultatif)').fill('code_ape');
  await page.getByLabel('Colonne du libellé (facultatif)').fill('activite');
  await page.getByRole('button', { name: 'Recoder' }).click();
  const link = page.locator('#recode-download');
  await link.waitFor({ state: 'visible', timeout: 30000 });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  await download.saveAs(join(out, 'recoded.csv'));
  assert(download.suggestedFilename() === 'legacy_naf_cp1252-recode.csv', download.suggestedFilename());
  // A wrong column is explained, with the columns of the file.
  await page.getByLabel('Colonne du code (facultatif)').fill('nope');
  await page.getByRole('button', { name: 'Recoder' }).click();
  const error = page.getByRole('alert');
  await error.filter({ hasText: 'code_ape' }).waitFor({ timeout: 10000 });
  assert((await contrastFailures(page)).length === 0, `contrast: ${await contrastFailures(page)}`);
});

await check('component page: the live form submits the chosen codes', desktop, async (page) => {
  await page.goto(`${base}/composant`);
  const input = page.getByRole('combobox', { name: 'Activité de l\'entreprise (NAF)' });
  await input.pressSequentially('boulangerie', { delay: 30 });
  await page.locator('[role="option"][data-code="10.71C"]').waitFor({ state: 'visible' });
  await arrowTo(page, input, '10.71C');
  await input.press('Enter');
  const diag = page.getByRole('combobox', { name: 'Diagnostic (CIM-10)' });
  await diag.pressSequentially('M545', { delay: 30 });
  await page.locator('[role="option"][data-code="M54.5"]').waitFor({ state: 'visible' });
  await arrowTo(page, diag, 'M54.5');
  await diag.press('Enter');
  await Promise.all([page.waitForURL('**/composant?**'), page.getByRole('button', { name: 'Envoyer' }).click()]);
  const received = await page.locator('#recu').textContent();
  assert(received.includes('10.71C') && received.includes('M54.5'), `received: ${received}`);
  assert((await contrastFailures(page)).length === 0, `contrast: ${await contrastFailures(page)}`);
});

await check('table of occupational diseases: the page reads like the table and leads to CIM-10', desktop, async (page) => {
  await page.goto(`${base}/systemes/mp-rg/rg57`);
  assert(page.url().endsWith('/systemes/mp-rg/RG57'), `not redirected to the canonical address: ${page.url()}`);
  const table = page.locator('table.disease-table');
  assert((await table.locator('th').first().textContent()).includes('Désignation des maladies'), 'no table header');
  const row = table.locator('tr').filter({ hasText: 'Syndrome du canal carpien' });
  assert((await row.textContent()).includes('30 jours'), 'the carpal tunnel row has no délai');
  await page.screenshot({ path: join(out, 'table-rg57.png'), fullPage: true });
  assert((await contrastFailures(page)).length === 0, `contrast: ${await contrastFailures(page)}`);
  await Promise.all([page.waitForURL('**/systemes/mp-rg/RG57-C3'), row.locator('a').first().click()]);
  const body = await page.locator('main').textContent();
  assert(body.includes('G56.0'), 'the row does not list its CIM-10 code');
  assert((await page.locator('p.notice').textContent()).includes('pas une décision'), 'no notice on the row page');
  await page.goto(`${base}/systemes/cim-10/G56.0`);
  const cim = await page.locator('main').textContent();
  assert(cim.includes('RG57-C3') && cim.includes('RA39-C3'), 'G56.0 does not name its tables');
  assert(cim.includes('30 jours'), 'G56.0 does not give the délai of its tables');
});

await check('360 px wide: no horizontal scrolling, suggestions fit', phone, async (page) => {
  for (const path of ['/', '/?q=lomb', '/systemes/naf-2008/10.71C', '/systemes/cim-10', '/systemes/mp-rg/RG57', '/recodage', '/composant']) {
    await page.goto(`${base}${path}`);
    await noHorizontalScroll(page);
  }
  await page.goto(`${base}/`);
  const input = page.getByRole('combobox', { name: 'Code ou libellé' });
  await input.pressSequentially('aide soign', { delay: 40 });
  const option = page.locator('[role="option"]').first();
  await option.waitFor({ state: 'visible' });
  const box = await option.boundingBox();
  assert(box.x >= 0 && box.x + box.width <= 360, `the suggestion spans ${box.x}..${box.x + box.width}`);
  await noHorizontalScroll(page);
  await page.screenshot({ path: join(out, 'search-360.png'), fullPage: true });
  await page.goto(`${base}/systemes/naf-2008/10.71C`);
  await page.screenshot({ path: join(out, 'concept-360.png'), fullPage: true });
});

// ---- keystroke to suggestions displayed (measured, not asserted) ----
await check('timing: keystroke to suggestions displayed', desktop, async (page) => {
  await page.goto(`${base}/`);
  await page.evaluate(() => {
    window.harmonieTimings = [];
    let pressed = 0;
    const input = document.getElementById('q');
    input.addEventListener('keydown', (e) => { pressed = e.timeStamp; }, true);
    document.addEventListener('harmonie-results', (e) => {
      const start = pressed;
      // After the next frame is painted.
      requestAnimationFrame(() => setTimeout(() => {
        window.harmonieTimings.push({ query: e.detail.query, ms: performance.now() - start, server_us: e.detail.took_us });
      }, 0));
    });
  });
  const input = page.locator('#q');
  const queries = ['lombalgie', 'aide soignante', 'boulangerie', 'canal carpien', 'M54.5', '10.71C', 'infirmiere', 'amiante', 'hepatite', 'conducteur'];
  for (const q of queries) {
    await input.fill('');
    await page.waitForTimeout(100);
    for (const ch of q) {
      await input.press(ch === ' ' ? 'Space' : ch);
      await page.waitForTimeout(200); // a brisk typist, slower than the debounce
    }
  }
  const samples = await page.evaluate(() => window.harmonieTimings);
  const requests = await page.evaluate(() =>
    performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/search')).map((e) => e.duration));
  requests.sort((a, b) => a - b);
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  const server = samples.map((s) => s.server_us).sort((a, b) => a - b);
  const summary = {
    samples: ms.length,
    debounce_ms: 20,
    p50_ms: +at(0.5).toFixed(1),
    p90_ms: +at(0.9).toFixed(1),
    max_ms: +ms[ms.length - 1].toFixed(1),
    server_p50_us: server[Math.floor(server.length / 2)],
    request_p50_ms: +requests[Math.floor(requests.length / 2)].toFixed(1),
    request_p90_ms: +requests[Math.floor(requests.length * 0.9)].toFixed(1),
  };
  writeFileSync(join(out, 'timings.json'), JSON.stringify({ summary, samples }, null, 1));
  console.log(`timing keystroke→suggestions displayed: ${JSON.stringify(summary)}`);
  assert(ms.length >= 50, `only ${ms.length} keystrokes measured`);
});

await browser.close();
for (const v of vendors) v.close();
process.exit(failures ? 1 : 0);
