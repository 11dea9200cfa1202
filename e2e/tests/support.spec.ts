import { expect, test } from '@playwright/test';
import { api, hydrated, signIn } from './helpers';

/** `YYYY-MM-DDTHH:MM` in UTC (the program's default time zone), as a datetime-local input takes it. */
function local(d: Date): string {
  return d.toISOString().slice(0, 16);
}

const HOUR = 3_600_000;

test('a partner records an issue, watches its countdown, staff see the breach and resolve it', async ({ page, browser }) => {
  // Staff set up a partner with a run task (its issues are recorded by hand) and invite its developer.
  await signIn(page);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await api(page, 'post', '/api/v1/partners', { name: 'Ticket Labs', kind: 'workflow' });
  const integration = await api(page, 'post', '/api/v1/integrations', {
    kind: 'run_task', name: 'Ticket Scanner', partner: 'ticket-labs', categories: ['Code Scanning'],
  });
  // An older, normal issue that has run out of time: 10 days is past 5 business days in any week.
  const late = await api(page, 'post', `/api/v1/integrations/${integration.id}/issues`, {
    title: 'Plan output truncated', severity: 'normal', opened_at: new Date(Date.now() - 10 * 24 * HOUR).toISOString(),
  });
  expect(late.state).toBe('breached');
  const invite = await page.request.post('/api/users/invite', {
    form: { email: 'dev@ticketlabs.example', role: 'partner', partner: 'ticket-labs' },
    headers: { origin: new URL(page.url()).origin },
  });
  const { link } = await invite.json();

  // The developer records a critical issue on the integration page; a wrong date is refused first.
  const devContext = await browser.newContext();
  const dev = await devContext.newPage();
  // A clock the test can move: it starts at the real time and runs.
  await dev.clock.install({ time: new Date() });
  await dev.goto(link);
  await signIn(dev, { as: 'dev@ticketlabs.example' });
  await dev.goto(`/integrations/${integration.id}`);
  await hydrated(dev);
  const support = dev.locator('section.support');
  await expect(support.getByTestId('support-health')).toBeVisible();
  await support.getByText('Record an issue by hand…').click();
  const opened = new Date(Date.now() - 2 * HOUR);
  await support.getByLabel('Title').fill('Run task times out on large plans');
  await support.getByLabel('Severity').selectOption('critical');
  await support.getByLabel('Opened').fill(local(opened));
  await support.getByLabel('Resolved').fill(local(new Date(opened.getTime() - HOUR)));
  await support.getByRole('button', { name: 'Record issue' }).click();
  await expect(support.locator('.field-error', { hasText: /after|before/ })).toBeVisible();
  await expect(support.locator('table.issues')).not.toContainText('Run task times out');
  await support.getByLabel('Resolved').fill('');
  await support.getByRole('button', { name: 'Record issue' }).click();
  // The new issue's own page: its clock.
  await expect(dev.getByRole('heading', { name: 'Run task times out on large plans' })).toBeVisible();
  await expect(dev.getByRole('status')).toContainText('Issue recorded.');
  await expect(dev.getByTestId('clock-state')).toHaveText(/^on track$/i);
  await expect(dev.locator('dl.details')).toContainText('critical');

  // The issue list: most urgent first (the breach), filters, and a countdown that runs.
  await dev.goto('/issues');
  await hydrated(dev);
  const rows = dev.locator('tr.issue-row');
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText('Plan output truncated');
  await expect(rows.first().getByTestId('clock-state')).toHaveText(/^breached$/i);
  await expect(rows.first().locator('time.countdown')).toHaveText(/^overdue by /);
  const countdown = dev.getByRole('row', { name: /Run task times out/ }).locator('time.countdown');
  await expect(countdown).toHaveText(/^due in 1 d 2[12] h$/);
  await dev.clock.fastForward('03:00:00');
  await expect(countdown).toHaveText(/^due in 1 d 1[89] h$/);
  await dev.getByLabel('Severity').selectOption('critical');
  await dev.getByRole('button', { name: 'Filter' }).click();
  await expect(dev).toHaveURL(/severity=critical/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Run task times out');
  await dev.getByLabel('State').selectOption('breached');
  await dev.getByLabel('Severity').selectOption('');
  await dev.getByRole('button', { name: 'Filter' }).click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Plan output truncated');

  // Without JavaScript the server's countdown is already right.
  const plain = await browser.newContext({ javaScriptEnabled: false, storageState: await devContext.storageState() });
  const plainPage = await plain.newPage();
  await plainPage.goto('/issues?severity=critical');
  await expect(plainPage.getByRole('row', { name: /Run task times out/ }).locator('time.countdown')).toHaveText(/^due in 1 d 2[12] h$/);
  await plain.close();

  // Staff: the SLA overview lists the breach and the partner; the issue is resolved late.
  await page.goto('/sla');
  await expect(page.getByRole('heading', { name: 'Support SLA' })).toBeVisible();
  const breaches = page.locator('h2:has-text("Breached, still open") + *');
  await expect(breaches).toContainText('Plan output truncated');
  const partnerRow = page.locator('table.compliance').getByRole('row', { name: /Ticket Labs/ });
  await expect(partnerRow).toBeVisible();
  await page.getByRole('link', { name: 'Plan output truncated' }).first().click();
  await expect(page.getByRole('heading', { name: /Plan output truncated/ })).toBeVisible();
  await hydrated(page);
  await page.getByRole('button', { name: 'Mark resolved' }).click();
  await expect(page.getByTestId('clock-state')).toHaveText(/^missed$/i);
  await page.goto('/sla');
  await expect(page.locator('h2:has-text("Breached, still open") + *')).not.toContainText('Plan output truncated');
  await expect(page.locator('table.compliance').getByRole('row', { name: /Ticket Labs/ })).toContainText('0 %');
  await devContext.close();
});

test('an admin keeps the holiday calendar', async ({ page }) => {
  await signIn(page);
  await page.goto('/admin/sla');
  await expect(page.getByRole('heading', { name: 'SLA settings' })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Date').fill('2031-12-25');
  await page.getByLabel('Name').fill('Christmas Day');
  await page.getByRole('button', { name: 'Add holiday' }).click();
  const remove = page.getByRole('button', { name: 'Remove Christmas Day (2031-12-25)' });
  await expect(remove).toBeVisible();
  await page.getByLabel("Paste the .ics file's text").fill(
    ['BEGIN:VCALENDAR', 'BEGIN:VEVENT', 'DTSTART;VALUE=DATE:20310101', 'SUMMARY:New Year', 'END:VEVENT', 'END:VCALENDAR'].join('\r\n'),
  );
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.getByRole('button', { name: 'Remove New Year (2031-01-01)' })).toBeVisible();
  await remove.click();
  await expect(remove).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Remove New Year (2031-01-01)' })).toBeVisible();
});
