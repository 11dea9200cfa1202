import { expect, test } from '@playwright/test';
import { hydrated, signIn } from './helpers';

test('staff sign in with OpenID Connect, land on the dashboard, and sign out', async ({ page }) => {
  // Anything behind sign-in sends people to the sign-in page first, and back after.
  await page.goto('/partners?q=none');
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();

  await signIn(page, { from: '/' });
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByText('Signed in as Sam Staff (Admin)')).toBeVisible();
  await hydrated(page);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toBeVisible();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
  await expect(page.getByText('You have signed out.')).toBeVisible();
  await page.goto('/partners');
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fpartners$/);
});

test('an ID token with the wrong nonce is refused', async ({ page }) => {
  await signIn(page, { tamper: 'nonce' });
  await expect(page.getByRole('heading', { name: 'Sign-in failed' })).toBeVisible();
  await expect(page.getByText('nonce')).toBeVisible();
  await page.goto('/');
  await expect(page).toHaveURL(/\/sign-in$/);
});

test('someone nobody invited is told to ask their alliance manager', async ({ page }) => {
  await signIn(page, { as: 'stranger@nowhere.example' });
  await expect(page).toHaveURL(/\/sign-in\/refused\?reason=not-invited$/);
  await expect(page.getByText('Ask your alliance manager to invite you')).toBeVisible();
});

test('an admin invites a partner member, who accepts and sees only their partner', async ({ page, browser }) => {
  await signIn(page);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  // Two partners, so there is one the member must not see.
  for (const name of ['Invite Home', 'Invite Elsewhere']) {
    const res = await page.request.post('/api/partners/save', {
      form: { name, kind: 'infrastructure' },
      headers: { origin: new URL(page.url()).origin },
    });
    expect(res.status()).toBeLessThan(400);
  }
  await page.goto('/admin/users');
  await hydrated(page);
  await page.getByRole('textbox', { name: 'Email' }).fill('nia@invitehome.example');
  await page.locator('#f-role').selectOption('partner');
  await page.locator('#f-partner').selectOption('invite-home');
  await page.getByRole('button', { name: 'Create invitation' }).click();
  const link = await page.getByLabel('Invitation link').textContent();
  expect(link).toMatch(/\/invite\//);
  await expect(page.getByRole('cell', { name: 'nia@invitehome.example' })).toBeVisible();

  // The invitee, in a browser of their own.
  const context = await browser.newContext();
  const nia = await context.newPage();
  await nia.goto(link!);
  await expect(nia.getByText('Partner member of Invite Home')).toBeVisible();
  await signIn(nia, { as: 'nia@invitehome.example' });
  await expect(nia.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(nia.getByText("You see Invite Home's integrations.")).toBeVisible();
  await nia.goto('/partners');
  await expect(nia.getByRole('link', { name: 'Invite Home' })).toBeVisible();
  await expect(nia.getByText('Invite Elsewhere')).toHaveCount(0);
  await expect(nia.getByRole('link', { name: 'Add partner' })).toHaveCount(0);
  await nia.getByRole('link', { name: 'Invite Home' }).click();
  await expect(nia.getByRole('link', { name: 'Add integration' })).toBeVisible();
  await expect(nia.getByRole('link', { name: 'Edit partner' })).toHaveCount(0);
  const other = await nia.goto('/partners/invite-elsewhere');
  expect(other?.status()).toBe(404);
  // No Users link for a partner member, and the page itself says no.
  await expect(nia.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toHaveCount(0);
  const users = await nia.goto('/admin/users');
  expect(users?.status()).toBe(403);
  await context.close();

  // Deactivating and reactivating show at once on the user's page.
  await page.goto('/admin/users');
  await hydrated(page);
  await page.getByRole('link', { name: 'nia@invitehome.example' }).click();
  await expect(page.getByText(/^Status: Active\./)).toBeVisible();
  await page.getByRole('button', { name: 'Deactivate' }).click();
  await expect(page.getByText(/^Status: Deactivated\./)).toBeVisible();
  await page.getByRole('button', { name: 'Reactivate' }).click();
  await expect(page.getByText(/^Status: Active\./)).toBeVisible();
  await expect(page.getByRole('button', { name: 'Deactivate' })).toBeVisible();
});
