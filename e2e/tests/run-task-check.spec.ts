import { expect, test } from '@playwright/test';
import { RUN_TASK_PORT } from '../playwright.config';
import { api, hydrated, signIn } from './helpers';

test('a partner checks their run-task endpoint, watches it run and pass, and attaches the report as evidence', async ({ page, browser }) => {
  // Staff set up the partner, its run task and an invitation for its developer.
  await signIn(page);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await api(page, 'post', '/api/v1/partners', { name: 'Scan Works', kind: 'workflow' });
  const integration = await api(page, 'post', '/api/v1/integrations', {
    kind: 'run_task', name: 'Scan Works Policy Check', partner: 'scan-works', categories: ['Code Scanning'], stage: 'develop_test',
  });
  const form = await page.request.post('/api/users/invite', {
    form: { email: 'dev@scanworks.example', role: 'partner', partner: 'scan-works' },
    headers: { origin: new URL(page.url()).origin },
  });
  const { link } = await form.json();

  const dev = await (await browser.newContext()).newPage();
  await dev.goto(link);
  await signIn(dev, { as: 'dev@scanworks.example' });
  await expect(dev.getByRole('heading', { name: 'Dashboard' })).toBeVisible();

  // The developer registers the endpoint, its HMAC key and a stage.
  await dev.goto(`/integrations/${integration.id}`);
  await hydrated(dev);
  const checks = dev.locator('section.checks');
  await expect(checks.getByTestId('check-refusal')).toContainText('register the endpoint URL first');
  const registration = dev.locator('section.registration');
  await registration.getByText('Change the registration…').click();
  await registration.getByLabel('Endpoint URL').fill(`http://127.0.0.1:${RUN_TASK_PORT}/tfc`);
  await registration.getByLabel('HMAC key').fill('e2e-run-task-hmac-key');
  await registration.getByLabel('Post-plan').check();
  await registration.getByRole('button', { name: 'Save registration' }).click();
  await expect(registration.locator('dl.details')).toContainText(`127.0.0.1:${RUN_TASK_PORT}/tfc`);

  // The check starts and the report page follows it: progress, then the pass.
  await checks.getByRole('button', { name: 'Start a check' }).click();
  await expect(dev).toHaveURL(/\/integrations\/\d+\/checks\/\d+$/);
  await expect(dev.getByRole('heading', { name: /Conformance check #\d+/ })).toBeVisible();
  const steps = dev.getByTestId('check-steps');
  await expect(steps).toContainText('1 "running" update so far; waiting for the final status');
  await expect(dev.getByTestId('check-state')).toHaveText('Waiting for callbacks');
  await expect(dev.getByTestId('check-state')).toHaveText('Passed', { timeout: 20_000 });
  await expect(steps.locator('tr', { hasText: 'Signature enforcement' })).toContainText('refused with 401');
  await expect(steps.locator('tr', { hasText: 'post-plan callback' })).toContainText('then "passed"');
  await expect(steps.locator('tr', { hasText: 'post-plan documents' })).toContainText('fetched the plan JSON');

  // One click attaches it to the Develop & Test evidence task.
  await dev.getByRole('button', { name: 'Attach as test evidence' }).click();
  await expect(dev.locator('p.notice', { hasText: 'Attached to the Test evidence task' })).toBeVisible();
  await expect(dev.getByRole('button', { name: 'Attach as test evidence' })).toHaveCount(0);
  await dev.goto(`/integrations/${integration.id}`);
  await hydrated(dev);
  const task = dev.locator('li.task', { hasText: 'Test evidence' });
  await expect(task.locator('.task-state')).toHaveText('Reported');
  await expect(task).toContainText('Run-task conformance check');
  await expect(checks.locator('table')).toContainText('Passed');

  // The reviewer sees the history of checks on the integration.
  await page.goto(`/integrations/${integration.id}`);
  await expect(page.locator('section.checks table')).toContainText('4 of 4 steps passed');
});
