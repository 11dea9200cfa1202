import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './helpers';

// Every journey starts signed in as staff, through the OIDC provider.
test.beforeEach(async ({ page }) => {
  await signIn(page);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
});

test('a reviewer adds a partner and a provider, fixing a malformed source address', async ({ page }) => {
  await page.goto('/partners');
  await hydrated(page);
  await page.getByRole('link', { name: 'Add partner' }).click();
  await expect(page.getByRole('heading', { name: 'Add a partner' })).toBeVisible();

  await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Journey Cloud');
  await page.locator('#f-kind').selectOption('infrastructure');
  await page.getByLabel('Networking').check();
  await page.getByLabel('Support contacts').fill('Jo Tester <jo@journey.example>');
  await page.getByLabel('Registry namespace').fill('Journey-Cloud');
  await page.getByRole('button', { name: 'Save partner' }).click();

  await expect(page).toHaveURL(/\/partners\/journey-cloud$/);
  await expect(page.getByRole('heading', { name: 'Journey Cloud' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'jo@journey.example' })).toBeVisible();
  await expect(page.getByText('This partner has no integrations yet')).toBeVisible();

  await page.getByRole('link', { name: 'Add integration' }).click();
  await expect(page.getByRole('heading', { name: 'Add an integration' })).toBeVisible();
  await hydrated(page);
  await expect(page.locator('#f-partner')).toHaveValue('journey-cloud');
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Journey Net provider');
  await page.getByLabel('Networking').check();
  await page.getByLabel('Source address').fill('example.com/bad.namespace/aws');
  await page.getByRole('button', { name: 'Save integration' }).click();

  // The server refuses it and says why, next to the field; nothing is saved.
  await expect(page.locator('#f-source_address-error')).toContainText('contains a dot');
  await expect(page).toHaveURL(/\/integrations\/new/);

  await page.getByLabel('Source address').fill('Registry.Terraform.io/Journey-Cloud/Net');
  await page.getByLabel('Verified version range').fill('~>1');
  await page.getByRole('button', { name: 'Save integration' }).click();

  await expect(page).toHaveURL(/\/integrations\/\d+$/);
  await expect(page.getByRole('heading', { name: 'Journey Net provider' })).toBeVisible();
  await expect(page.getByTestId('normalised-address')).toHaveText('registry.terraform.io/journey-cloud/net');
  await expect(page.getByRole('link', { name: 'https://registry.terraform.io/providers/journey-cloud/net' })).toBeVisible();
  await expect(page.locator('dl.details').getByText('~> 1.0')).toBeVisible();

  // The partner's list now shows it.
  await page.getByRole('link', { name: 'Journey Cloud' }).first().click();
  await expect(page.getByRole('link', { name: 'Journey Net provider' })).toBeVisible();
});

test('the address check button works only once the wasm has hydrated the page', async ({ page }) => {
  // As served, before any script runs, the button is disabled.
  const html = await (await page.request.get('/integrations/new')).text();
  expect(html).toMatch(/<button[^>]*id="check-address"[^>]*disabled/);

  await page.goto('/integrations/new');
  const button = page.getByRole('button', { name: 'Check address' });
  await expect(button).toBeEnabled();
  await page.getByLabel('Source address').fill('München.example:8443/Acme/Cloud');
  await button.click();
  await expect(page.locator('#f-source_address-check')).toContainText('xn--mnchen-3ya.example:8443/acme/cloud');
  await expect(page.locator('#f-source_address-check')).toContainText('münchen.example:8443/acme/cloud');

  await page.getByLabel('Source address').fill('aws');
  await button.click();
  await expect(page.locator('#f-source_address-check')).toContainText('add it, e.g. hashicorp/aws');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('forms still post, and errors come back next to the field', async ({ page }) => {
    await page.goto('/partners/new');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Plain Form Partner');
    await page.getByLabel('Alliance manager\'s email').fill('not-an-email');
    await page.getByRole('button', { name: 'Save partner' }).click();
    await expect(page.locator('#f-kind-error')).toContainText('choose a kind');
    await expect(page.locator('#f-alliance_manager_email-error')).toContainText('not an email address');

    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Plain Form Partner');
    await page.locator('#f-kind').selectOption('workflow');
    await page.getByLabel('ITSM').check();
    await page.getByRole('button', { name: 'Save partner' }).click();
    await expect(page).toHaveURL(/\/partners\/plain-form-partner$/);
    await expect(page.getByRole('heading', { name: 'Plain Form Partner' })).toBeVisible();
  });
});
