import { expect, test } from '@playwright/test';
import { REGISTRY_PORT } from '../playwright.config';
import { hydrated, signIn } from './helpers';

test('the poller finds a provider on its registry; staff poll again and check the poller', async ({ page }) => {
  await signIn(page);
  const origin = new URL(page.url()).origin;
  const post = async (path: string, data: unknown) => {
    const res = await page.request.post(path, { data, headers: { origin } });
    expect(res.status(), await res.text()).toBeLessThan(400);
    return res.json();
  };
  await post('/api/v1/partners', { name: 'Registry Labs', kind: 'infrastructure', registry_namespace: 'acme' });
  const provider = await post('/api/v1/integrations', {
    kind: 'provider', name: 'Widget', partner: 'registry-labs', categories: ['Networking'],
    source_address: `127.0.0.1:${REGISTRY_PORT}/acme/widget`, stage: 'publish',
  });

  // The poller looks up new providers on its next tick; the page shows what it found.
  await expect(async () => {
    await page.goto(`/integrations/${provider.id}`);
    await expect(page.getByTestId('latest-version')).toHaveText('1.1.0', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  const registry = page.locator('section.registry');
  await expect(registry.getByRole('row', { name: /^1\.1\.0/ })).toContainText('complete');
  await expect(registry.getByRole('row', { name: /^1\.0\.0/ })).toContainText('not checked');
  await expect(registry).toContainText('Found on the registry');
  // The Publish stage's automatic task is done by the same finding.
  await expect(page.locator('#stage-publish')).toContainText('version 1.1.0 is on');

  // Staff poll again; with the registry unchanged the answer is a 304.
  await hydrated(page);
  await registry.getByRole('button', { name: 'Poll now' }).click();
  await expect(registry.getByRole('status')).toContainText('Queued');
  await expect(async () => {
    await page.goto(`/integrations/${provider.id}`);
    await expect(page.locator('section.registry table.polls')).toContainText('unchanged', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });

  // Admin → Poller: the host, its providers, the last sweep.
  await page.getByRole('link', { name: 'Poller' }).click();
  await expect(page.getByRole('heading', { name: 'Registry poller' })).toBeVisible();
  await expect(page.getByRole('row', { name: new RegExp(`127\\.0\\.0\\.1:${REGISTRY_PORT}`) })).toBeVisible();
  await expect(page.getByTestId('sweep')).toContainText(/Last sweep finished|Sweep in progress/);
});
