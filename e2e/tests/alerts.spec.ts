import { expect, test, type Page } from '@playwright/test';
import { SINK_HTTP_PORT, STAFF_EMAIL } from '../playwright.config';
import { api, hydrated, signIn } from './helpers';

type Mail = { to: string[]; subject: string; text: string; html: string };

/** What the SMTP sink (a real SMTP server beside the app) has accepted. */
async function mail(page: Page): Promise<Mail[]> {
  const res = await page.request.get(`http://127.0.0.1:${SINK_HTTP_PORT}/messages`);
  return res.json();
}

test('an admin tunes their alerts and sends a test email that arrives over SMTP', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'Alerts' }).click();
  await expect(page.getByRole('heading', { name: 'My alerts' })).toBeVisible();
  await hydrated(page);

  // A zone that does not exist is refused with the field named; what was
  // typed stays there to be corrected, and nothing is saved.
  await page.getByLabel('Daily digest at').selectOption('7');
  await page.getByLabel('Time zone').fill('Mars/Olympus');
  await page.getByRole('button', { name: 'Save preferences' }).click();
  await expect(page.locator('#f-time_zone-error')).toContainText(/time zone/i);
  await expect(page.getByLabel('Time zone')).toHaveValue('Mars/Olympus');
  await expect(page.getByLabel('Daily digest at')).toHaveValue('7');
  await page.reload();
  await expect(page.getByLabel('Time zone')).toHaveValue('UTC');
  await expect(page.getByLabel('Daily digest at')).not.toHaveValue('7');

  await page.getByLabel('Time zone').fill('Europe/Berlin');
  await page.getByLabel('Daily digest at').selectOption('9');
  await page.getByLabel('New provider version published').selectOption('digest');
  await page.getByLabel('Task awaiting review').selectOption('off');
  await page.getByRole('button', { name: 'Save preferences' }).click();
  await expect(page.getByRole('status')).toContainText('Preferences saved.');
  await page.reload();
  await expect(page.getByLabel('Time zone')).toHaveValue('Europe/Berlin');
  await expect(page.getByLabel('Daily digest at')).toHaveValue('9');
  await expect(page.getByLabel('New provider version published')).toHaveValue('digest');
  await expect(page.getByLabel('Task awaiting review')).toHaveValue('off');

  // Admin → Outbox: the transport, a test email, and its row once sent.
  await page.getByRole('link', { name: 'Outbox' }).click();
  await expect(page.getByRole('heading', { name: 'Alert outbox' })).toBeVisible();
  await expect(page.getByTestId('mail-description')).toContainText('SMTP 127.0.0.1');
  await hydrated(page);
  await page.getByRole('button', { name: 'Send test email to me' }).click();
  await expect(page.getByRole('status')).toContainText('Test email queued');
  await expect(async () => {
    const sent = (await mail(page)).filter((m) => m.to.includes(STAFF_EMAIL) && m.subject.startsWith('[Test]'));
    expect(sent).toHaveLength(1);
  }).toPass({ timeout: 30_000 });
  await expect(async () => {
    await page.goto('/admin/outbox?status=sent&kind=test');
    await expect(page.getByRole('row', { name: /test email/ }).getByTestId('alert-status')).toHaveText('Sent', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  // "My alerts" lists it too.
  await page.goto('/alerts');
  await expect(page.locator('tr.alert-row', { hasText: 'test email' })).toContainText('Sent');
});

test('a breach emails the support contact, who acknowledges it on the issue page', async ({ page }) => {
  await signIn(page);
  await api(page, 'post', '/api/v1/partners', {
    name: 'Pager Labs', kind: 'workflow', support_contacts: [{ name: 'Ops', email: 'ops@pagerlabs.example' }],
  });
  const integration = await api(page, 'post', '/api/v1/integrations', {
    kind: 'run_task', name: 'Pager Scanner', partner: 'pager-labs', categories: ['Code Scanning'],
  });
  const issue = await api(page, 'post', `/api/v1/integrations/${integration.id}/issues`, {
    title: 'Webhook retries forever', severity: 'critical', opened_at: new Date(Date.now() - 50 * 3_600_000).toISOString(),
  });
  expect(issue.state).toBe('breached');

  await expect(async () => {
    const breach = (await mail(page)).find((m) => m.to.includes('ops@pagerlabs.example'));
    expect(breach?.subject).toBe('[SLA breach] Pager Scanner Webhook retries forever');
    expect(breach?.text).toContain(`/issues/${issue.id}`);
  }).toPass({ timeout: 30_000 });

  await page.goto(`/issues/${issue.id}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Acknowledge breach' }).click();
  await expect(page.getByTestId('acknowledged')).toContainText('Breach acknowledged');
  await page.reload();
  await expect(page.getByRole('button', { name: 'Acknowledge breach' })).toHaveCount(0);
});
