import { expect, test, type Page } from '@playwright/test';
import { api, hydrated, signIn } from './helpers';

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

  // Publish, Apply and Verify the same way; completing Verify makes it verified.
  await finishStages(dev, page, integration.id, 4);
  await page.reload();
  for (const stage of ['prepare', 'publish', 'apply', 'verify']) {
    await expect(page.locator(`#stage-${stage}`)).toContainText('Complete');
  }
  await expect(page.locator('#stage-support')).toContainText('Open');
  await expect(page.locator('dl.details')).toContainText('Verified');
  await expect(page.locator('section.timeline')).toContainText('Pipe Provider became verified');
  await partnerContext.close();
});

/** Reports (as the partner) and accepts (as staff) every open task of the first `stages` stages, through the API. */
async function finishStages(partner: Page, staff: Page, id: number, stages: number) {
  const pipeline = await api(partner, 'get', `/api/v1/integrations/${id}/pipeline`);
  for (const stage of pipeline.stages.slice(0, stages)) {
    for (const t of stage.tasks.filter((t: { state: string }) => t.state !== 'accepted' && t.state !== 'waived')) {
      if (t.state !== 'reported') {
        // (The note doubles as the Release stage's two-line public summary.)
        await api(partner, 'post', `/api/v1/tasks/${t.id}`, {
          action: 'report', evidence_url: 'https://example.com/evidence', note: 'Checks plans against policy.\nBlocks risky applies.',
        });
      }
      await api(staff, 'post', `/api/v1/tasks/${t.id}`, { action: 'accept' });
    }
  }
}

test('a run task goes through the review queue, and every change shows in the history and the audit trail', async ({ page, browser }) => {
  await signIn(page);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await api(page, 'post', '/api/v1/partners', { name: 'Queue Labs', kind: 'workflow', alliance_manager_email: 'staff@example.test' });
  const integration = await api(page, 'post', '/api/v1/integrations', {
    kind: 'run_task', name: 'Queue Scanner', partner: 'queue-labs', categories: ['Code Scanning'],
  });
  const form = await page.request.post('/api/users/invite', {
    form: { email: 'dev@queuelabs.example', role: 'partner', partner: 'queue-labs' },
    headers: { origin: new URL(page.url()).origin },
  });
  const { link } = await form.json();

  // The partner's home says what is theirs to do; they report with a Markdown note.
  const partnerContext = await browser.newContext();
  const dev = await partnerContext.newPage();
  await dev.goto(link);
  await signIn(dev, { as: 'dev@queuelabs.example' });
  const yours = dev.locator('section', { has: dev.getByRole('heading', { name: 'Waiting on you' }) });
  await expect(yours).toContainText('Signed up for the technology partner program');
  await yours.getByRole('link', { name: 'Signed up for the technology partner program' }).click();
  await hydrated(dev);
  const devTask = dev.locator('li.task', { hasText: 'Signed up for the technology partner program' });
  await devTask.getByText('Report this task…').click();
  await devTask.getByLabel('Note').fill('**Signed** on 2026-11-20. <script>alert(1)</script>');
  await devTask.getByRole('button', { name: 'Report done' }).click();
  await expect(devTask.locator('.task-state')).toHaveText('Reported');
  await expect(devTask.locator('.note strong')).toHaveText('Signed');
  await expect(devTask.locator('.note')).toContainText('<script>alert(1)</script>');

  // The reviewer works from the queue: only their partners, oldest first.
  await page.goto('/');
  await page.getByRole('link', { name: /wait(s)? for review/ }).click();
  await expect(page.getByRole('heading', { name: 'Review queue' })).toBeVisible();
  await page.getByLabel('Only my partners').check();
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(/mine=1/);
  await hydrated(page);
  const entry = page.locator('li.queue-item', { hasText: 'Signed up for the technology partner program' });
  await expect(entry).toContainText('Queue Labs · Queue Scanner · Engage');
  await expect(entry.locator('.note strong')).toHaveText('Signed');
  await entry.getByLabel('What needs to change').fill('Link the signed agreement.');
  await entry.getByRole('button', { name: 'Request changes' }).click();
  await expect(entry).toHaveCount(0);

  // The partner sees the comment on their home, reports again; the reviewer accepts from the queue.
  await dev.goto('/');
  await expect(yours).toContainText('Link the signed agreement.');
  await dev.goto(`/integrations/${integration.id}`);
  await hydrated(dev);
  await devTask.getByText('Report again…').click();
  await devTask.getByLabel('Evidence link').fill('https://queuelabs.example/agreement.pdf');
  await devTask.getByRole('button', { name: 'Report done' }).click();
  await expect(devTask.locator('.task-state')).toHaveText('Reported');
  await page.reload();
  await hydrated(page);
  await entry.getByRole('button', { name: 'Accept' }).click();
  await expect(entry).toHaveCount(0);
  await expect(page.getByText('Nothing waits for review at your partners.')).toBeVisible();

  // The history on the integration's page, newest first, with the changed fields.
  await dev.goto(`/integrations/${integration.id}`);
  const history = dev.locator('section.timeline');
  // The alliance manager was known, so the Engage stage completed with the acceptance.
  await expect(history.locator('li.record').first()).toContainText('Queue Scanner completed Engage and moved to Develop & Test');
  await expect(history).toContainText('Accept: "Signed up for the technology partner program"');
  await expect(history).toContainText('Completed automatically: "Alliance manager assigned"');
  await expect(history).toContainText('Request changes');
  await expect(history).toContainText('Added run task Queue Scanner');
  const accepted = history.locator('li.record', { hasText: 'Accept: "Signed up' });
  await accepted.getByText(/fields?$/).click();
  await expect(accepted.locator('table.changes')).toContainText('reported');

  // The admin's audit search finds it, and offers the CSV.
  await page.goto('/admin/audit');
  await page.getByLabel('Search').fill('queue scanner');
  await page.getByLabel('Kind').selectOption('integration');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/target=integration/);
  await expect(page.locator('li.record')).toHaveCount(2);
  const csv = await page.request.get(await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href') ?? '');
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain('Added run task Queue Scanner');

  // The rest of the run-task track: Develop & Test, Review and Release complete, Support opens.
  await finishStages(dev, page, integration.id, 4);
  await page.goto(`/integrations/${integration.id}`);
  for (const stage of ['engage', 'develop_test', 'review', 'release']) {
    await expect(page.locator(`#stage-${stage}`)).toContainText('Complete');
  }
  await expect(page.locator('#stage-support')).toContainText('Open');
  await expect(page.locator('dl.details').first()).toContainText('Granted on');
  await partnerContext.close();
});
