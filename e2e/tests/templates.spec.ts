import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './helpers';

test('an admin revises the run-task checklist and brings an integration up to the new version', async ({ page }) => {
  await signIn(page);
  const origin = new URL(page.url()).origin;
  const post = async (path: string, data: unknown) => {
    const res = await page.request.post(path, { data, headers: { origin } });
    expect(res.status(), await res.text()).toBeLessThan(400);
    return res.json();
  };
  await post('/api/v1/partners', { name: 'Template Labs', kind: 'workflow' });
  const integration = await post('/api/v1/integrations', { kind: 'run_task', name: 'Template Task', partner: 'template-labs', categories: ['Code Scanning'] });

  await page.goto('/');
  await page.getByRole('link', { name: 'Templates' }).click();
  await page.getByRole('link', { name: 'Run task' }).click();
  await expect(page.getByRole('heading', { name: /Run task checklist, version \d+/ })).toBeVisible();
  await hydrated(page);
  const heading = await page.getByRole('heading', { name: /Run task checklist, version \d+/ }).textContent();
  const version = Number(heading!.match(/version (\d+)/)![1]);

  // Reword the first task and add one to Review.
  await page.getByRole('textbox', { name: 'Title', exact: true }).first().fill('Joined the technology partner program');
  await page.getByLabel('Stage of new task 1').selectOption('review');
  await page.getByLabel('Title of new task 1').fill('Threat model shared');
  await page.getByRole('button', { name: `Save as version ${version + 1}` }).click();
  await expect(page.getByRole('status')).toContainText(`Version ${version + 1} saved`);
  await expect(page.getByRole('heading', { name: `Run task checklist, version ${version + 1}` })).toBeVisible();

  // The integration still follows the old version until it is applied.
  const follower = page.getByLabel(/Template Labs · Template Task/);
  await follower.check();
  await page.getByRole('button', { name: `Apply version ${version + 1} to the chosen integrations` }).click();
  await expect(page.getByRole('status')).toContainText('Checklists brought up to date: 1');
  await expect(page.locator('.followers')).toContainText(`Template Labs · Template Task (version ${version + 1}`);

  await page.goto(`/integrations/${integration.id}`);
  await expect(page.locator('#stage-engage')).toContainText('Joined the technology partner program');
  await expect(page.locator('#stage-review')).toContainText('Threat model shared');
  await expect(page.locator('section.timeline')).toContainText(`Checklist brought from version ${version} to ${version + 1}`);
});
