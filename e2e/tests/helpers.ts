import { expect, type Page } from '@playwright/test';

/** The wasm has taken over once the app marks the body. */
export async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/**
 * Signs in through the OpenID Connect provider. `as` picks the person (the
 * provider reads it from `login_hint`, which the test adds to the authorize
 * request on its way out); `tamper` asks the provider to misbehave.
 */
export async function signIn(page: Page, opts: { as?: string; tamper?: string; from?: string } = {}) {
  const extra = new URLSearchParams();
  if (opts.as) extra.set('login_hint', opts.as);
  if (opts.tamper) extra.set('tamper', opts.tamper);
  if ([...extra].length > 0) {
    await page.route('**/authorize?*', (route) => route.continue({ url: `${route.request().url()}&${extra}` }));
  }
  await page.goto(opts.from ?? '/sign-in');
  await page.getByRole('link', { name: 'Sign in with Example SSO' }).click();
  if ([...extra].length > 0) await page.unrouteAll();
}
