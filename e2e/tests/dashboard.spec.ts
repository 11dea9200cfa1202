import { expect, test } from '@playwright/test';
import * as fs from 'node:fs';
import { api, hydrated, signIn } from './helpers';

const HOUR = 3_600_000;

test('staff read the dashboard, narrow it with a filter, download its CSV and open a partner view', async ({ page }) => {
  await signIn(page);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();

  // A partner with a verified run task that has an open critical breach, and an official one in Review.
  await api(page, 'post', '/api/v1/partners', {
    name: 'Gauge Works', kind: 'workflow', alliance_manager_email: 'staff@example.test',
    support_contacts: [{ name: 'Desk', email: 'desk@gauge.example' }],
  });
  const scan = await api(page, 'post', '/api/v1/integrations', {
    kind: 'run_task', name: 'Gauge Scan', partner: 'gauge-works', categories: ['Code Scanning'], tier: 'verified', stage: 'support',
  });
  await api(page, 'post', '/api/v1/integrations', {
    kind: 'run_task', name: 'Gauge Review', partner: 'gauge-works', categories: ['Code Scanning'], tier: 'official', stage: 'review',
  });
  const issue = await api(page, 'post', `/api/v1/integrations/${scan.id}/issues`, {
    title: 'Scanner crashes on large plans', severity: 'critical', opened_at: new Date(Date.now() - 60 * HOUR).toISOString(),
  });
  expect(issue.state).toBe('breached');
  const evaluation = await api(page, 'post', '/api/v1/flags/evaluate');
  expect(evaluation.raised).toBeGreaterThanOrEqual(1);

  // Every section renders, with its charts as labelled images.
  await page.goto('/');
  await hydrated(page);
  for (const name of ['Pipeline', 'Support health', 'Tier flags', 'Registry', 'Review queue']) {
    await expect(page.getByRole('heading', { name, exact: true })).toBeVisible();
  }
  await expect(page.getByRole('img', { name: /Run task track: integrations per stage/ })).toBeVisible();
  await expect(page.getByRole('img', { name: /Versions published per month/ })).toBeVisible();
  const flag = page.getByRole('link', { name: 'Gauge Scan — Critical breach still open' });
  await expect(flag).toBeVisible();
  await expect(page.getByTestId('compliance-table')).toContainText('Gauge Works');

  // A filter narrows everything: only the official integration is left, and no flag.
  await page.getByLabel('Tier', { exact: true }).selectOption('official');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(/tier=official/);
  await expect(page.getByTestId('dashboard-summary')).toContainText('1 integration matches these filters.');
  await expect(flag).toHaveCount(0);

  // The CSV link carries the filter.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('dashboard-summary').getByRole('link', { name: 'integrations' }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^integrations-\d{4}-\d{2}-\d{2}\.csv$/);
  const csv = fs.readFileSync((await download.path())!, 'utf8');
  expect(csv.split('\r\n')[0]).toBe('id,partner,name,kind,tier,stage,source_address,categories,repository_url,verified_version_range,created_at');
  expect(csv).toContain('Gauge Review');
  expect(csv).not.toContain('Gauge Scan');

  // The flag's page says what clears it; the partner's view shows it with its countdowns.
  await page.goto('/');
  await page.getByRole('link', { name: 'Gauge Scan — Critical breach still open' }).click();
  await expect(page.getByTestId('flag-state')).toContainText('In grace period');
  await expect(page.getByTestId('clears-when')).toContainText('resolve');
  await page.goto('/partners/gauge-works/dashboard');
  await expect(page.getByRole('heading', { name: 'Gauge Works' })).toBeVisible();
  await expect(page.getByText('To clear it:')).toBeVisible();
  await expect(page.getByRole('img', { name: /Support compliance per week/ })).toBeVisible();
  await expect(page.getByRole('link', { name: /Scanner crashes on large plans/ })).toBeVisible();
});
