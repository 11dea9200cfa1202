import { expect, test, type Page } from '@playwright/test';
import { hydrated, signIn } from './helpers';

/** A JSON API call with the page's session (and its origin, as a browser sends it). */
async function api(page: Page, method: 'get' | 'post', path: string, data?: unknown) {
  const origin = new URL(page.url()).origin;
  const res = await page.request[method](path, { data, headers: { origin } });
  expect(res.status(), `${method} ${path}: ${await res.text()}`).toBeLessThan(400);
  return res.json();
}

test('a partner reports a task, the reviewer asks for changes, then accepts, and the stage advances', async ({ page, browser }) => {
  // Staff set up a partner, a provider and an invitation for the partner's developer.
  await signIn(page);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await api(page, 'post', '/api/v1/partners', { name: 'Pipe Works', kind: 'infrastructure', registry_namespace: 'pipeworks' });
  const integration = await api(page, 'post', '/api/v1/integrations', {
    kind: 'provider', name: 'Pipe Provider', partner: 'pipe-works', source_address: 'pipeworks/pipe', categories: ['Networking'],
  });
  const form = await page.request.post('/api/users/invite', {
    form: { email: 'dev@pipeworks.example', role: 'partner', partner: 'pipe-works' },
    headers: { origin: new URL(page.url()).origin },
  });
  const { link } = await form.json();

  const partnerContext = await browser.newContext();
  const dev = await partnerContext.newPage();
  await dev.goto(link);
  await signIn(dev, { as: 'dev@pipeworks.example' });
  await expect(dev.getByRole('heading', { name: 'Dashboard' })).toBeVisible();

  // The partner reports "Documentation in the repository" with a link.
  await dev.goto(`/integrations/${integration.id}`);
  await hydrated(dev);
  await expect(dev.locator('#stage-prepare')).toContainText('Open');
  await expect(dev.locator('#stage-publish')).toContainText('Waiting for earlier stages');
  const devTask = dev.locator('li.task', { hasText: 'Documentation in the repository' });
  await devTask.getByText('Report this task…').click();
  await devTask.getByLabel('Evidence link').fill('https://github.com/pipeworks/terraform-provider-pipe/tree/main/docs');
  await devTask.getByRole('button', { name: 'Report done' }).click();
  await expect(devTask.locator('.task-state')).toHaveText('Reported');
  await expect(devTask.getByRole('button', { name: 'Accept' })).toHaveCount(0);

  // The reviewer asks for changes.
  await page.goto(`/integrations/${integration.id}`);
  await hydrated(page);
  const staffTask = page.locator('li.task', { hasText: 'Documentation in the repository' });
  await expect(staffTask.locator('.task-state')).toHaveText('Reported');
  await expect(staffTask.getByRole('link', { name: /terraform-provider-pipe\/tree\/main\/docs/ })).toBeVisible();
  await staffTask.getByLabel('What needs to change').fill('Document the data sources too.');
  await staffTask.getByRole('button', { name: 'Request changes' }).click();
  await expect(staffTask.locator('.task-state')).toHaveText('Changes requested');

  // The partner sees the comment and reports again.
  await dev.reload();
  await hydrated(dev);
  await expect(devTask.locator('.task-state')).toHaveText('Changes requested');
  await expect(devTask.getByText('Document the data sources too.')).toBeVisible();
  await devTask.getByText('Report again…').click();
  await devTask.getByLabel('Note').fill('Data sources documented in docs/data-sources.');
  await devTask.getByRole('button', { name: 'Report done' }).click();
  await expect(devTask.locator('.task-state')).toHaveText('Reported');

  // The reviewer accepts.
  await page.reload();
  await hydrated(page);
  await staffTask.getByRole('button', { name: 'Accept' }).click();
  await expect(staffTask.locator('.task-state')).toHaveText('Accepted');

  // The rest of Prepare goes through the API, as a partner's CI would; then Publish opens.
  const pipeline = await api(dev, 'get', `/api/v1/integrations/${integration.id}/pipeline`);
  for (const t of pipeline.stages[0].tasks.filter((t: { state: string }) => t.state !== 'accepted')) {
    await api(dev, 'post', `/api/v1/tasks/${t.id}`, { action: 'report', evidence_url: 'https://github.com/pipeworks/terraform-provider-pipe' });
    await api(page, 'post', `/api/v1/tasks/${t.id}`, { action: 'accept' });
  }
  await page.reload();
  await expect(page.locator('#stage-prepare')).toContainText('Complete');
  await expect(page.locator('#stage-publish')).toContainText('Open');
  await expect(page.locator('dl.details')).toContainText('Publish');
  await partnerContext.close();
});
