import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Receiver, startReceiver } from '@schedstack/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { eventually, startLocalStack, type TestStack } from '../support';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..', '..');
// Screenshots go to tmp/ on every run; SCHEDSTACK_SCREENSHOTS=docs refreshes the README's set.
const SHOTS = path.join(ROOT, process.env.SCHEDSTACK_SCREENSHOTS === 'docs' ? 'docs/screenshots' : 'tmp/screenshots');

const available = fs.existsSync(CHROMIUM) && fs.existsSync(path.join(ROOT, 'dist', 'console', 'index.html'));
if (!available) {
  const why = `Chromium (${CHROMIUM}) or the built console (npm run build) is missing`;
  if (process.env.CI === 'true') throw new Error(`${why}; CI must run the console tests`);
  console.warn(`SKIPPED: the console browser suite — ${why}. Install it with apt-get install chromium.`);
}

// Skipped only when no Chromium or no built console exists outside CI (see above).
(available ? describe : describe.skip)('the web console in a real Chromium', () => {
  let stack: TestStack;
  let receiver: Receiver;
  let browser: Browser;
  let page: Page;

  const shot = async (name: string) => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
  };

  beforeAll(async () => {
    process.env.SCHEDSTACK_CONSOLE_DIR = path.join(ROOT, 'dist', 'console');
    stack = await startLocalStack('console');
    receiver = await startReceiver();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await stack?.close();
  });

  it('logs in with the owner account and shows live by default, with no banner', async () => {
    expect(stack.owner).toBeDefined();
    await page.goto(stack.url);
    await page.getByLabel('E-mail').fill(stack.owner!.email);
    await page.getByLabel('Password').fill(stack.owner!.password);
    await shot('login');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Schedules', exact: true }).waitFor();
    await page.getByText('No schedules in live yet').waitFor();
    expect(await page.getByTestId('env-banner').count()).toBe(0);
  });

  it('switches to test: the banner appears and the list holds test data only', async () => {
    const seeded = await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/seed`, delay: '1h' } });
    expect(seeded.status).toBe(201);
    await page.getByRole('radio', { name: 'test' }).click();
    await page.getByTestId('env-banner').waitFor();
    expect(await page.getByTestId('env-banner').innerText()).toContain('TEST');
    await page.getByText(seeded.body.id).waitFor();
    await shot('schedules-test-mode');
    await page.getByRole('radio', { name: 'live' }).click();
    await page.getByText('No schedules in live yet').waitFor();
    expect(await page.getByText(seeded.body.id).count()).toBe(0);
    await page.getByRole('radio', { name: 'test' }).click();
    await page.getByText(seeded.body.id).waitFor();
  });

  it('previews the next five cron fires as you type, with the DST shift marked', async () => {
    await page.getByRole('link', { name: 'New schedule' }).click();
    await page.getByRole('tab', { name: 'Recurring (cron)' }).click();
    await page.getByLabel('Cron expression').fill('30 2 * 3 0'); // Sundays in March, 02:30
    await page.getByLabel('Time zone').fill('Europe/Berlin');
    const preview = page.getByTestId('fire-preview');
    await eventually(async () => (await preview.locator('li').count()) === 5);
    // 02:30 does not exist on the last Sunday of March in Berlin: exactly one fire is shifted.
    expect(await preview.getByText('DST shifted').count()).toBe(1);
    await shot('new-schedule-cron-preview');
  });

  it('creates a schedule and shows its delivery with the attempt timeline', async () => {
    await page.getByRole('tab', { name: 'After a delay' }).click();
    await page.getByLabel('Endpoint').fill(`${receiver.url}/from-console`);
    await page.getByLabel('Delay').fill('1s');
    await page.getByRole('button', { name: 'Create schedule' }).click();
    await page.getByRole('heading', { name: /^sch_/ }).waitFor();
    await receiver.waitFor(1);
    await page.getByRole('link', { name: 'Deliveries' }).click();
    const row = page.getByTestId('deliveries-table').locator('tbody tr').first();
    await row.waitFor();
    await row.click();
    await eventually(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return (await page.getByTestId('attempts').getByText('Attempt 1').count()) === 1;
    });
    expect(await page.getByTestId('attempts').innerText()).toContain('200');
    await shot('delivery-attempts');
  });

  it('replays a dead letter from the dead-letter view', async () => {
    receiver.respondWith((req) => (req.path === '/reject' ? { status: 400, body: 'no thanks' } : { status: 200, body: 'ok' }));
    const created = await stack.api('/v1/schedules', { key: stack.keys.test, body: { endpoint: `${receiver.url}/reject`, delay: '1s' } });
    expect(created.status).toBe(201);
    await eventually(async () => {
      const res = await stack.api(`/v1/deliveries?schedule=${created.body.id}`, { key: stack.keys.test });
      return res.body.data?.[0]?.state === 'dead_lettered';
    });
    const before = receiver.requests.filter((r) => r.path === '/reject').length;
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByTestId('dead-letters-table').waitFor();
    await shot('dead-letters');
    await page.getByRole('button', { name: 'Replay' }).first().click();
    await page.getByText('replay queued').waitFor();
    await eventually(async () => receiver.requests.filter((r) => r.path === '/reject').length > before);
  });

  it('runs a clone dry-run, shows the diff, then applies it', async () => {
    const process = await stack.api('/v1/processes', { key: stack.keys.live, body: { name: 'billing', max_attempts: 3 } });
    expect(process.status).toBe(201);
    await page.getByRole('link', { name: 'Clone from live' }).click();
    await page.getByLabel('Clone target').selectOption('sandbox');
    await page.getByRole('button', { name: 'Preview changes (dry run)' }).click();
    const diff = page.getByTestId('clone-diff');
    await diff.getByText('billing').waitFor();
    await shot('clone-dry-run');
    const beforeApply = await stack.api('/v1/processes', { key: stack.keys.sandbox });
    expect(beforeApply.body.data.map((p: { name: string }) => p.name)).not.toContain('billing');
    await page.getByRole('button', { name: /Apply these changes/ }).click();
    await page.getByText('Cloned live → sandbox.').waitFor();
    const after = await stack.api('/v1/processes', { key: stack.keys.sandbox });
    expect(after.body.data.map((p: { name: string }) => p.name)).toContain('billing');
  });

  it('adds a webhook endpoint, showing its secret once, and shows the SLO page', async () => {
    await page.getByRole('radio', { name: 'live' }).click();
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByLabel('URL').fill(`${receiver.url}/platform-events`);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByText(/whsec_/).first().waitFor();
    await page.getByRole('cell', { name: `${receiver.url}/platform-events` }).waitFor();
    await page.getByRole('link', { name: 'SLO' }).click();
    await page.getByText('Eligible fires', { exact: true }).waitFor();
    await page.getByText('Excluded fires by kind').waitFor();
    await shot('slo');
  });

  it("wears the environment's theme and translations", async () => {
    const theme = await stack.api('/v1/themes', { key: stack.keys.sandbox, body: { name: 'acme', product_name: 'Acme Scheduler', colors: { primary: '#0f766e' } } });
    expect(theme.status).toBe(201);
    const language = await page.evaluate<string>('navigator.language.split("-")[0]');
    const words = await stack.api('/v1/translations', { key: stack.keys.sandbox, body: { locale: language, messages: { 'nav.schedules': 'Timers' } } });
    expect(words.status).toBe(201);
    await page.getByRole('radio', { name: 'sandbox' }).click();
    await page.getByRole('link', { name: 'Acme Scheduler' }).waitFor();
    await page.getByRole('link', { name: 'Timers' }).waitFor();
    const primary = await page.evaluate<string>('getComputedStyle(document.documentElement).getPropertyValue("--primary").trim()');
    expect(primary).toBe('#0f766e');
    // Another environment keeps its own look.
    await page.getByRole('radio', { name: 'test' }).click();
    await page.getByRole('link', { name: 'SchedStack' }).waitFor();
    await page.getByRole('link', { name: 'Schedules', exact: true }).waitFor();
  });

  it('shows team roles read-only outside live, and fits a phone screen', async () => {
    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByText('managed in live').waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.getByTestId('schedules-table').waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(1);
    await shot('phone-schedules');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
